import { ParamSnapshot, SeededRandom, evaluateModel, modelState, type OptimizerSnapshot } from '@mtl/core';
import { mergeBranches, mergeOptimizerStates } from './merge.js';
import type { ForkMergeOptions, ForkMergeResult, RoundRecord } from './options.js';
import { searchWeights } from './search/search.js';
import { sampleDataset } from './subset.js';
import { resolveOptions, type ResolvedOptions } from './validate.js';
import type { BranchOutcome, BranchRunner, OptimizerSync } from './runners/branch-runner.js';
import { SerialBranchRunner } from './runners/serial.js';
import { WorkerBranchRunner } from './runners/worker.js';

/**
 * ForkMerge (Jiang et al., NeurIPS 2023): repeatedly fork the model into branches that train with
 * different task weights ν_b for Δt steps, then merge them as θ* = Σ_b Λ_b θ_b with the Λ on the
 * simplex that scores best on validation data, and restart every branch from θ*.
 *
 * With two branches (target-only, target+auxiliaries) this is Algorithm 1 and Λ = (1 − λ, λ); with
 * more it is Algorithm 2, optionally pruned to the K′ branches with the largest weights after the
 * first merge and searched greedily (Algorithm 3). Branches step with any {@link RuleFactory}'s rule
 * and run in this thread or concurrently in worker threads (same result for the same seed).
 *
 * Differences from the authors' code: each branch keeps its own optimizer state across merges by
 * default (`optimizerState`), and reloading the best merged parameters every round is opt-in
 * (`restoreBest`). `options.model` ends holding the final merged parameters.
 *
 * @throws MtlError INVALID_OPTION for invalid options (naming the option and value).
 */
export async function forkMerge(options: ForkMergeOptions): Promise<ForkMergeResult> {
  const resolved = resolveOptions(options);
  const { model, tasks, validation } = options;
  const subsampleRandom = new SeededRandom(resolved.seed).fork('validation');
  let runners = await startRunners(options, resolved);
  let current = ParamSnapshot.capture(model);
  let best: { params: ParamSnapshot; score: number } | undefined;
  let mergedOptimizer: OptimizerSnapshot | undefined;
  let sync: OptimizerSync = { kind: 'keep' };
  const records: RoundRecord[] = [];
  let lastScore = NaN;
  try {
    for (let round = 0; round < resolved.rounds; round++) {
      const trainStart = performance.now();
      const outcomes = await trainBranches(runners, current, resolved, sync);
      const trainMs = performance.now() - trainStart;
      try {
        const searchStart = performance.now();
        const data = resolved.validationSubsample === undefined ? validation : sampleDataset(validation, resolved.validationSubsample, subsampleRandom);
        const params = outcomes.map((o) => o.params);
        const search = searchWeights(
          (weights) => {
            const merged = mergeBranches(params, weights);
            try {
              merged.restore(model);
            } finally {
              merged.dispose();
            }
            return resolved.score(evaluateModel(model, tasks, data, { batchSize: resolved.evaluationBatchSize }));
          },
          runners.length,
          resolved,
        );
        const searchMs = performance.now() - searchStart;
        const next = mergeBranches(params, search.weights);
        current.dispose();
        current = next;
        lastScore = search.score;

        mergedOptimizer?.slots.dispose();
        mergedOptimizer = undefined;
        if (resolved.optimizerState === 'merge') {
          mergedOptimizer = mergeOptimizerStates(outcomes.map((o) => o.optimizer!), search.weights);
        }

        const record: RoundRecord = {
          round,
          step: (round + 1) * resolved.intervalSteps,
          branches: runners.map((r) => r.name),
          weights: search.weights,
          lambda: 1 - search.weights[0]!,
          score: search.score,
          branchScores: search.branchScores,
          evaluations: search.evaluations,
          trainMs,
          searchMs,
          trainLoss: Object.fromEntries(runners.flatMap((r, b) => Object.entries(outcomes[b]!.trainLoss).map(([task, loss]) => [`${r.name}/${task}`, loss]))),
        };
        records.push(record);

        if (resolved.restoreBest) {
          if (!best || search.score > best.score) {
            best?.params.dispose();
            best = { params: current.clone(), score: search.score };
          } else {
            current.dispose();
            current = best.params.clone();
            lastScore = best.score;
          }
        }

        if (round === 0 && resolved.prune < runners.length) {
          const keep = topK(search.weights, resolved.prune);
          const dropped = runners.filter((_, b) => !keep.includes(b));
          runners = keep.map((b) => runners[b]!);
          await Promise.all(dropped.map((r) => r.dispose()));
        }
        sync = resolved.optimizerState === 'reset' ? { kind: 'reset' } : mergedOptimizer ? { kind: 'set', state: mergedOptimizer } : { kind: 'keep' };
        options.onRound?.(record);
      } finally {
        for (const o of outcomes) {
          o.params.dispose();
          o.optimizer?.slots.dispose();
        }
      }
    }
    current.restore(model);
  } finally {
    current.dispose();
    best?.params.dispose();
    mergedOptimizer?.slots.dispose();
    await Promise.all(runners.map((r) => r.dispose()));
  }
  return {
    rounds: records,
    lambdas: records.map((r) => r.lambda),
    weights: records.map((r) => r.weights),
    branches: runners.map((r) => r.name),
    score: lastScore,
    steps: resolved.rounds * resolved.intervalSteps,
  };
}

async function startRunners(options: ForkMergeOptions, resolved: ResolvedOptions): Promise<BranchRunner[]> {
  const common = { optimizer: resolved.optimizer, batchSize: resolved.batchSize, seed: resolved.seed };
  const workers = resolved.workers;
  if (!workers) {
    return resolved.branches.map(
      (branch, index) =>
        new SerialBranchRunner({ ...common, index, branch, model: options.model.clone(), tasks: options.tasks, train: options.train, rule: resolved.rule }),
    );
  }
  const shapes = modelState(options.model).map((p) => ({ key: p.key, shape: p.variable.shape }));
  const started = await Promise.allSettled(
    resolved.branches.map((branch, index) =>
      WorkerBranchRunner.start({ ...common, index, branch, workers, shapes, taskNames: options.tasks.map((t) => t.name), hasRule: resolved.rule !== undefined }),
    ),
  );
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.dispose()] : [])));
    throw failed.reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<WorkerBranchRunner>).value);
}

/** Serial runners run one after another; worker runners all at once. Outcomes in branch order. */
async function trainBranches(runners: readonly BranchRunner[], start: ParamSnapshot, resolved: ResolvedOptions, sync: OptimizerSync): Promise<BranchOutcome[]> {
  const want = resolved.optimizerState === 'merge';
  if (!resolved.workers) {
    const out: BranchOutcome[] = [];
    try {
      for (const r of runners) out.push(await r.run(start, resolved.intervalSteps, sync, want));
    } catch (error) {
      disposeOutcomes(out);
      throw error;
    }
    return out;
  }
  const settled = await Promise.allSettled(runners.map((r) => r.run(start, resolved.intervalSteps, sync, want)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (failed) {
    disposeOutcomes(ok);
    throw failed.reason;
  }
  return ok;
}

function disposeOutcomes(outcomes: readonly BranchOutcome[]): void {
  for (const o of outcomes) {
    o.params.dispose();
    o.optimizer?.slots.dispose();
  }
}

/** Indices of the k largest weights (ties: lower index first), in branch order. */
function topK(weights: readonly number[], k: number): number[] {
  return weights
    .map((w, b) => [w, b] as const)
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .slice(0, k)
    .map(([, b]) => b)
    .sort((a, b) => a - b);
}
