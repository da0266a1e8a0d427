import type { MultiTaskModel } from '../models/model.js';
import type { Task } from '../tasks.js';

/**
 * What a gradient-worker setup module's default export returns (or resolves to): the same
 * architecture and tasks as the main thread. Parameter values do not matter (each job sends the
 * main thread's), but keys, shapes and task names must match, and the task losses must be the same
 * functions for the results to equal the serial ones.
 */
export interface GradientWorkerSetup {
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
}

/** The default export of a setup module; `args` is `setupArgs` (structured-cloned). */
export type GradientWorkerSetupFactory = (args: unknown) => GradientWorkerSetup | Promise<GradientWorkerSetup>;
