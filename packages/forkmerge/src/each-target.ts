import { join } from 'node:path';
import type { MultiTaskModel } from '@mtl/core';
import { invalidOption, isArray } from '@mtl/core/internal';
import { forkMerge } from './forkmerge.js';
import type { ForkMergeOptions, ForkMergeResult } from './options.js';

export interface EachTargetOptions extends Omit<ForkMergeOptions, 'target'> {
  /** The tasks to run as target, each in turn (default: every task). */
  readonly targets?: readonly string[];
}

export interface EachTargetResult {
  /** Per target task: its run and the model it produced (a copy the caller owns and disposes). */
  readonly runs: Readonly<Record<string, { readonly result: ForkMergeResult; readonly model: MultiTaskModel }>>;
}

/**
 * The multi-task protocol of the paper: ForkMerge once per task, with that task as target and every
 * other task as auxiliary, each run starting from a copy of `options.model` (so each task's number
 * comes from a network tuned for it, as in the paper's Tables). `options.model` itself is not changed.
 * With `checkpoint`, each target keeps its run in `<dir>/target-<task>` (and `resume` continues each).
 */
export async function forkMergeEachTarget(options: EachTargetOptions): Promise<EachTargetResult> {
  const { targets: requested, ...rest } = options;
  const names = options.tasks.map((t) => t.name);
  const targets: readonly string[] = requested ?? names;
  if (!isArray(targets) || targets.length === 0) invalidOption('targets', requested, 'a non-empty array of task names');
  for (const t of targets) if (!names.includes(t)) invalidOption('targets', t, `one of the tasks (${names.join(', ')})`);
  const models: MultiTaskModel[] = [];
  const runs: Record<string, { result: ForkMergeResult; model: MultiTaskModel }> = {};
  try {
    for (const target of targets) {
      const model = options.model.clone();
      models.push(model);
      const checkpoint = options.checkpoint ? { ...options.checkpoint, dir: join(options.checkpoint.dir, `target-${target}`) } : undefined;
      runs[target] = { result: await forkMerge({ ...rest, model, target, ...(checkpoint ? { checkpoint } : {}) }), model };
    }
  } catch (error) {
    for (const model of models) model.dispose();
    throw error;
  }
  return { runs };
}
