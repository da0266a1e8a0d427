import { ParamSnapshot, evaluateModel, type MultiTaskModel } from '@mtl/core';
import type { ResolvedBranch } from './branches.js';
import type { ForkMergeOptions } from './options.js';
import { BranchTrainer } from './runners/branch-trainer.js';
import type { ResolvedOptions } from './validate.js';

export interface AuxiliaryRanking {
  readonly ranking: readonly { readonly task: string; readonly score: number }[];
  readonly branches: readonly ResolvedBranch[];
}

/**
 * The authors' branch construction (NYU `forkmerge.py` L301–351, DomainNet L227–260): train the
 * target with each auxiliary alone, from the starting model, for `pruningSteps`, scoring it on the
 * validation data every Δt steps and keeping its best score; rank the auxiliaries by that score; branch
 * k trains the target with the k best auxiliaries. Task weights are 1 each (NYU); with
 * `taskWeights: 'sampling'` the DomainNet probabilities: 1/|targets| per target, 1/k per auxiliary.
 * The ranking runs train in this thread, one after another.
 */
export function rankAuxiliaries(options: ForkMergeOptions, resolved: ResolvedOptions): AuxiliaryRanking {
  const { ks, pruningSteps } = resolved.topK!;
  const targets = resolved.targets;
  const auxiliaries = options.tasks.map((t) => t.name).filter((t) => !targets.includes(t));
  const weightsFor = (chosen: readonly string[]) => {
    const sampling = resolved.taskWeights === 'sampling';
    const w: Record<string, number> = {};
    for (const t of targets) w[t] = sampling ? 1 / targets.length : 1;
    for (const a of chosen) w[a] = sampling ? 1 / chosen.length : 1;
    return w;
  };
  const scored = auxiliaries.map((task, index) => ({ task, index, score: bestScore(options, resolved, { name: `rank-${task}`, weights: weightsFor([task]) }, pruningSteps) }));
  const ranking = [...scored].sort((a, b) => b.score - a.score || a.index - b.index).map(({ task, score }) => ({ task, score }));
  const branches = ks.map((k) => ({ name: k === 0 ? 'target' : `top-${k}`, weights: weightsFor(ranking.slice(0, k).map((r) => r.task)) }));
  return { ranking, branches };
}

function bestScore(options: ForkMergeOptions, resolved: ResolvedOptions, branch: ResolvedBranch, steps: number): number {
  const model: MultiTaskModel = options.model.clone();
  const trainer = new BranchTrainer({
    index: -1,
    branch,
    model,
    tasks: options.tasks,
    train: options.train,
    rule: resolved.rule,
    optimizer: resolved.optimizer,
    batchSize: resolved.batchSize,
    seed: resolved.seed,
    taskWeights: resolved.taskWeights,
  });
  let best = Number.NEGATIVE_INFINITY;
  try {
    for (let done = 0; done < steps; done += resolved.intervalSteps) {
      const start = ParamSnapshot.capture(model);
      const outcome = trainer.run(start, Math.min(resolved.intervalSteps, steps - done), { kind: 'keep' }, false, { round: -1 });
      start.dispose();
      outcome.params.dispose();
      const score = resolved.score(evaluateModel(model, options.tasks, options.validation, { batchSize: resolved.evaluationBatchSize }));
      if (score > best) best = score;
    }
  } finally {
    trainer.dispose(); // disposes the model too
  }
  return best;
}
