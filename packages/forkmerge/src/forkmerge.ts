import { ParamSnapshot, SeededRandom, evaluateModel, modelState, type OptimizerSnapshot } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';
import { mergeBranches, mergeOptimizerStates } from './merge.js';
import type { ForkMergeOptions, ForkMergeResult, RoundRecord } from './options.js';
import { ProgressLog } from './progress.js';
import { loadRun, saveRun, type SavedRun } from './run-checkpoint.js';
import { assembleModel, mergedKeys, restrictSnapshot } from './scope.js';
import { searchWeights } from './search/search.js';
import { rankAuxiliaries } from './top-k.js';
import { sampleDataset } from './subset.js';
import { resolveOptions, type ResolvedOptions } from './validate.js';
import type { BranchOutcome, BranchRunner, OptimizerSync } from './runners/branch-runner.js';
import { SerialBranchRunner } from './runners/serial.js';
import { WorkerBranchRunner } from './runners/worker.js';

/** A branch's best parameters so far by its own validation score (`branchCheckpoint: 'best'`). */
interface BranchBest {
  readonly params: ParamSnapshot;
  readonly score: number;
}

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
 * The authors' code (thuml/ForkMerge, branch `develop`, NYU `forkmerge.py`) differs from the paper in
 * three ways, each an option: it merges only the shared trunk and the target heads (`mergeScope`,
 * default theirs), lets each branch enter the merge with its own best parameters so far
 * (`branchCheckpoint: 'best'`), and tests the best merge ever seen (`finalModel: 'best'`).
 *
 * `options.model` holds θ* whenever user code runs (`onRound`, `onProgress`) and at the end; with
 * `checkpoint` the run survives a crash (`resume: true`).
 *
 * @throws MtlError INVALID_OPTION for invalid options (naming the option and value), WORKER_FAILED when
 * a branch worker crashes or hangs (naming branch and round), the trainer's errors (e.g.
 * NON_FINITE_LOSS) naming the branch and round that diverged.
 */
export async function forkMerge(options: ForkMergeOptions): Promise<ForkMergeResult> {
  let resolved = resolveOptions(options);
  const { model, tasks, validation } = options;
  // `top-k` branches exist only once the auxiliaries are ranked (deterministic: a resumed run ranks again).
  const ranked = resolved.topK ? rankAuxiliaries(options, resolved) : undefined;
  if (ranked) resolved = { ...resolved, branches: ranked.branches };
  const keys = mergedKeys(model, resolved.targets, resolved.mergeScope);
  const saved = resolved.resume ? await loadRun(resolved.checkpoint!.dir, model) : undefined;
  const progress = new ProgressLog(resolved, saved ? saved.round + 1 : 0);

  let runners = await startRunners(options, resolved);
  let current = ParamSnapshot.capture(model);
  let bestMerge: { params: ParamSnapshot; score: number; round: number } | undefined;
  let branchBest: (BranchBest | undefined)[] = runners.map(() => undefined);
  let mergedOptimizer: OptimizerSnapshot | undefined;
  let sync: OptimizerSync = { kind: 'keep' };
  const records: RoundRecord[] = [];
  const subsampleRandom = new SeededRandom(resolved.seed).fork('validation');
  let lastScore = NaN;
  let finalRound = -1;
  let firstRound = 0;
  try {
    if (saved) {
      ({ runners, branchBest } = await resumeRunners(runners, saved, resolved));
      current.dispose();
      current = saved.current;
      bestMerge = saved.bestMerge;
      mergedOptimizer = saved.mergedOptimizer;
      sync = syncAfterMerge(resolved, mergedOptimizer);
      records.push(...saved.records);
      subsampleRandom.setState(saved.subsampleRandom as ReturnType<SeededRandom['getState']>);
      lastScore = saved.lastScore;
      finalRound = saved.round;
      firstRound = saved.round + 1;
      saved.model.restore(model);
      saved.model.dispose();
    }
    for (let round = firstRound; round < resolved.rounds; round++) {
      progress.phase('train', round, options.onProgress);
      const trainStart = performance.now();
      // Round 0 forks every branch from the whole model; later rounds from θ* over the merged keys
      // (one copy for all branches), written over each branch's best parameters with 'best'.
      const forkBase = round === 0 || keys.size === current.keys.length ? current : restrictSnapshot(current, keys);
      const starts = runners.map((_, b) => forkPoint(forkBase, branchBest[b], resolved));
      let outcomes: BranchOutcome[];
      try {
        outcomes = await trainBranches(runners, starts, resolved, sync, round);
      } finally {
        for (const start of new Set([forkBase, ...starts])) if (start !== current) start.dispose();
      }
      const trainMs = performance.now() - trainStart;
      try {
        progress.phase('search', round, options.onProgress);
        const searchStart = performance.now();
        const data = resolved.validationSubsample === undefined ? validation : sampleDataset(validation, resolved.validationSubsample, subsampleRandom);
        const scoreOf = (params: ParamSnapshot) => {
          params.restore(model);
          const value = resolved.score(evaluateModel(model, tasks, data, { batchSize: resolved.evaluationBatchSize }));
          // The caller's own score function returning NaN is a bug to report, not a candidate to rank last.
          if (resolved.customScore && (typeof value !== 'number' || Number.isNaN(value))) {
            invalidOption('score', value, `a function returning a number (it returned ${String(value)} in round ${round})`);
          }
          return value;
        };
        if (resolved.branchCheckpoint === 'best') branchBest = updateBranchBests(branchBest, outcomes, scoreOf);
        // What enters the merge: where each branch ended, or (authors' code) its best so far.
        const params = outcomes.map((o, b) => (resolved.branchCheckpoint === 'best' ? branchBest[b]!.params : o.params));
        const search = searchWeights(
          (weights) => {
            const merged = mergeBranches(params, weights);
            try {
              return scoreOf(merged);
            } finally {
              merged.dispose();
            }
          },
          runners.length,
          resolved,
        );
        const searchMs = performance.now() - searchStart;
        const merged = mergeBranches(params, search.weights);
        current.dispose();
        current = merged;
        lastScore = search.score;
        finalRound = round;
        assembleModel(model, current, keys, params, runners.map((r) => r.branch), search.weights);

        mergedOptimizer?.slots.dispose();
        mergedOptimizer = resolved.optimizerState === 'merge' ? mergeOptimizerStates(outcomes.map((o) => o.optimizer!), search.weights) : undefined;

        const record: RoundRecord = {
          round,
          step: (round + 1) * resolved.intervalSteps,
          branches: runners.map((r) => r.name),
          weights: search.weights,
          lambda: 1 - search.weights[0]!,
          score: search.score,
          branchScores: search.branchScores,
          ...(resolved.branchCheckpoint === 'best' ? { branchBest: branchBest.map((b) => b!.score) } : {}),
          evaluations: search.evaluations,
          trainMs,
          searchMs,
          trainLoss: Object.fromEntries(runners.flatMap((r, b) => Object.entries(outcomes[b]!.trainLoss).map(([task, loss]) => [`${r.name}/${task}`, loss]))),
        };
        records.push(record);

        if (!bestMerge || search.score > bestMerge.score) {
          bestMerge?.params.dispose();
          bestMerge = { params: ParamSnapshot.capture(model), score: search.score, round };
        } else if (resolved.forkFrom === 'best-merge') {
          // Our variant: a merge worse than the best seen is dropped; branches fork from the best one.
          current.dispose();
          current = bestMerge.params.clone();
          lastScore = bestMerge.score;
          finalRound = bestMerge.round;
          bestMerge.params.restore(model);
        }

        if (round === 0 && resolved.prune < runners.length) {
          const keep = topK(search.weights, resolved.prune);
          const dropped = runners.filter((_, b) => !keep.includes(b));
          runners = keep.map((b) => runners[b]!);
          branchBest.forEach((best, b) => !keep.includes(b) && best?.params.dispose());
          branchBest = keep.map((b) => branchBest[b]);
          await Promise.all(dropped.map((r) => r.dispose()));
        }
        sync = syncAfterMerge(resolved, mergedOptimizer);
        if (resolved.checkpoint) {
          await saveRun(resolved.checkpoint, { round, runners, current, bestMerge, branchBest, mergedOptimizer, records, subsampleRandom: subsampleRandom.getState(), lastScore, model, optimizer: resolved.optimizer });
        }
        progress.merged(record, options.onProgress);
        options.onRound?.(record);
      } finally {
        for (const o of outcomes) {
          o.params.dispose();
          o.optimizer?.slots.dispose();
        }
      }
    }
    if (resolved.finalModel === 'best' && bestMerge) {
      bestMerge.params.restore(model);
      lastScore = bestMerge.score;
      finalRound = bestMerge.round;
    }
  } finally {
    current.dispose();
    bestMerge?.params.dispose();
    branchBest.forEach((b) => b?.params.dispose());
    mergedOptimizer?.slots.dispose();
    await Promise.all(runners.map((r) => r.dispose()));
  }
  return {
    rounds: records,
    lambdas: records.map((r) => r.lambda),
    weights: records.map((r) => r.weights),
    branches: runners.map((r) => r.name),
    ...(ranked ? { auxiliaryRanking: ranked.ranking } : {}),
    score: lastScore,
    finalRound,
    steps: resolved.rounds * resolved.intervalSteps,
    ...(saved ? { resumedAfterRound: saved.round } : {}),
  };
}

/**
 * What branch b forks from: the merged entries (the rest stays the branch's own), or with
 * `branchCheckpoint: 'best'` its best parameters with the merged entries written over them — the
 * authors' `load_best()` followed by `load_state_dict(θ*, strict=False)`.
 */
function forkPoint(merged: ParamSnapshot, best: BranchBest | undefined, resolved: ResolvedOptions): ParamSnapshot {
  if (resolved.branchCheckpoint !== 'best' || !best) return merged;
  const mergedKeys = new Set(merged.keys);
  return ParamSnapshot.fromTensors(new Map(best.params.keys.map((k) => [k, (mergedKeys.has(k) ? merged : best.params).get(k).clone()])));
}

/** Keeps, per branch, the better of its previous best and where it ended this round (by its own score). */
function updateBranchBests(bests: readonly (BranchBest | undefined)[], outcomes: readonly BranchOutcome[], scoreOf: (p: ParamSnapshot) => number): BranchBest[] {
  return outcomes.map((o, b) => {
    const previous = bests[b];
    const score = scoreOf(o.params);
    if (previous && !(score > previous.score)) return previous;
    previous?.params.dispose();
    return { params: o.params.clone(), score };
  });
}

function syncAfterMerge(resolved: ResolvedOptions, mergedOptimizer: OptimizerSnapshot | undefined): OptimizerSync {
  return resolved.optimizerState === 'reset' ? { kind: 'reset' } : mergedOptimizer ? { kind: 'set', state: mergedOptimizer } : { kind: 'keep' };
}

/** Brings freshly started runners to the saved round: drops pruned branches, restores each branch's trainer. */
async function resumeRunners(runners: BranchRunner[], saved: SavedRun, resolved: ResolvedOptions): Promise<{ runners: BranchRunner[]; branchBest: (BranchBest | undefined)[] }> {
  const keep = saved.branches.map((name) => runners.findIndex((r) => r.name === name));
  const dropped = runners.filter((_, b) => !keep.includes(b));
  await Promise.all(dropped.map((r) => r.dispose()));
  const alive = keep.map((b) => runners[b]!);
  await Promise.all(alive.map((r, b) => r.restore(saved.branchDirs[b]!, { round: saved.round })));
  const branchBest = saved.branches.map((_, b) => {
    const params = saved.branchBest[b];
    return resolved.branchCheckpoint === 'best' && params ? { params, score: saved.branchBestScores[b]! } : undefined;
  });
  return { runners: alive, branchBest };
}

async function startRunners(options: ForkMergeOptions, resolved: ResolvedOptions): Promise<BranchRunner[]> {
  const common = { optimizer: resolved.optimizer, batchSize: resolved.batchSize, seed: resolved.seed, taskWeights: resolved.taskWeights };
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
async function trainBranches(runners: readonly BranchRunner[], starts: readonly ParamSnapshot[], resolved: ResolvedOptions, sync: OptimizerSync, round: number): Promise<BranchOutcome[]> {
  const want = resolved.optimizerState === 'merge';
  const context = { round };
  if (!resolved.workers) {
    const out: BranchOutcome[] = [];
    try {
      for (const [b, r] of runners.entries()) out.push(await r.run(starts[b]!, resolved.intervalSteps, sync, want, context));
    } catch (error) {
      disposeOutcomes(out);
      throw error;
    }
    return out;
  }
  const settled = await Promise.allSettled(runners.map((r, b) => r.run(starts[b]!, resolved.intervalSteps, sync, want, context)));
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

