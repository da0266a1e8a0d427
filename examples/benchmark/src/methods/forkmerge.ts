import type { ForkMergeOptions, forkMerge as ForkMergeFunction } from '@mtl/forkmerge';
import type { HistoryEntry } from '../job.js';
import { badOption } from '../errors.js';
import type { MethodAdapter } from './types.js';

/** Options a `--config` may pass to forkMerge (data, model, optimizer and seed come from the benchmark). */
const PASSED = ['branches', 'search', 'grid', 'binarySteps', 'score', 'validationSubsample', 'prune', 'optimizerState', 'restoreBest', 'interval', 'rounds'] as const;

/**
 * ForkMerge (@mtl/forkmerge): by default one merge per epoch (`interval: { epochs: 1 }`,
 * `rounds: epochs`), so every branch sees as many epochs as the other methods. Targets are the
 * dataset's targets (auxiliary data: branches target-only and target + auxiliary; multi-task data:
 * each task alone and all). ForkMerge has no checkpoints of its own: a killed ForkMerge job starts
 * over (its result is deterministic, so the final result is the same).
 */
export const forkmerge: MethodAdapter = {
  name: 'ForkMerge',
  aliases: ['fork-merge'],
  family: 'outer loop',
  package: '@mtl/forkmerge',
  cost: 5,
  description: 'fork into branches with different task weights, merge by the validation-best λ each epoch',
  async run(ctx) {
    for (const key of Object.keys(ctx.options)) {
      if (!(PASSED as readonly string[]).includes(key)) throw badOption(`methodOptions.ForkMerge.${key}`, `unknown ForkMerge option "${key}"; available: ${PASSED.join(', ')}`);
    }
    // Loaded when the method runs: a broken or missing package fails this method only.
    const { forkMerge } = await ctx.importPackage<{ forkMerge: typeof ForkMergeFunction }>('@mtl/forkmerge');
    const { tasks, train, validation, targets } = ctx.data;
    const model = ctx.buildModel();
    const epochs = ctx.job.training.epochs;
    const rounds = (ctx.options.rounds as number | undefined) ?? epochs;
    const history: HistoryEntry[] = [];
    let last = performance.now();
    try {
      const result = await forkMerge({
        interval: { epochs: 1 },
        ...(ctx.options as Partial<ForkMergeOptions>),
        model,
        tasks,
        train,
        validation,
        target: targets.length === tasks.length ? undefined : targets,
        rounds,
        optimizer: ctx.optimizerConfig,
        batchSize: ctx.job.training.batchSize,
        seed: ctx.job.seed,
        onRound: (record) => {
          const now = performance.now();
          history.push({ epoch: record.round, trainLoss: branchLosses(record.trainLoss, tasks.map((t) => t.name)), validation: { score: record.score, lambda: record.lambda }, seconds: (now - last) / 1000 });
          last = now;
          ctx.progress({ epoch: record.round + 1, epochs: rounds, step: 0, stepsPerEpoch: 1, fraction: (record.round + 1) / rounds, phase: `merge λ=${record.lambda.toFixed(2)}` });
        },
      });
      return { test: ctx.evaluateTest(model), params: model.parameters.reduce((s, p) => s + p.variable.size, 0), history, lambdas: result.lambdas };
    } finally {
      model.dispose();
    }
  },
};

/** Each task's training loss in a round: from the branch that trains every task (`all`) when there is one, else the first branch that trains it. */
function branchLosses(trainLoss: Readonly<Record<string, number>>, tasks: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const task of tasks) {
    const key = Object.keys(trainLoss).find((k) => k === `all/${task}`) ?? Object.keys(trainLoss).find((k) => k.endsWith(`/${task}`));
    if (key !== undefined) out[task] = trainLoss[key]!;
  }
  return out;
}
