import { Trainer, adam, hardSharingMlp, progressReporter, type FitResult, type TrainerCallback } from '@mtl/core';
import { toyTwoTaskProblem } from '@mtl/core/testing';

export interface QuickstartResult {
  readonly fit: FitResult;
  readonly test: Record<string, number>;
  readonly stepsPerSecond: number;
}

/**
 * Two related tasks on synthetic data: `sign` (classify the sign of w1·x) and `value` (regress
 * w2·x, with w2 close to w1), sharing an MLP trunk, trained with the default rule (sum of losses).
 */
export async function runQuickstart(options: { epochs?: number; seed?: number; callbacks?: readonly TrainerCallback[] } = {}): Promise<QuickstartResult> {
  const seed = options.seed ?? 0;
  const problem = toyTwoTaskProblem({ seed, size: 2048, inputSize: 16 });
  const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [64, 32], seed });
  const trainer = new Trainer({
    model,
    tasks: problem.tasks,
    optimizer: adam(3e-3),
    batchSize: 64,
    seed,
    callbacks: options.callbacks ?? [],
    earlyStopping: { monitor: 'loss', patience: 3 },
  });
  const fit = await trainer.fit(problem.train, { epochs: options.epochs ?? 10, validation: problem.validation });
  const result = { fit, test: trainer.evaluate(problem.test), stepsPerSecond: median(fit.history.map((h) => h.stepsPerSecond)) };
  trainer.dispose();
  model.dispose();
  return result;
}

export const defaultCallbacks = (): TrainerCallback[] => [progressReporter()];

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
