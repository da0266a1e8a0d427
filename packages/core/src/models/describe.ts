import { invalidOption, isArray, requirePositiveInteger } from '../errors.js';
import { validateTaskName } from '../tasks.js';
import type { ArchitectureSpec } from './model.js';

/** What an architecture needs of a task: its name and output size (a `Task` has both). */
export interface TaskOutput {
  readonly name: string;
  readonly outputSize: number;
}

/** Checks a task list for an architecture: non-empty, unique valid names, positive output sizes. */
export function validateTaskOutputs(tasks: readonly TaskOutput[]): readonly TaskOutput[] {
  if (!isArray(tasks) || tasks.length === 0) invalidOption('tasks', tasks, 'a non-empty array of tasks');
  const seen = new Set<string>();
  for (const task of tasks) {
    validateTaskName(task?.name);
    if (seen.has(task.name)) invalidOption('tasks', task.name, 'tasks with unique names');
    requirePositiveInteger(`${task.name}.outputSize`, task.outputSize);
    seen.add(task.name);
  }
  return tasks;
}

/**
 * The JSON description of an architecture built from `options`: tasks reduced to name and output
 * size (losses and metrics are not part of the network), everything else as JSON.
 */
export function describeArchitecture<O extends { readonly tasks: readonly TaskOutput[] }>(name: string, options: O): ArchitectureSpec {
  const plain = JSON.parse(JSON.stringify({ ...options, tasks: options.tasks.map((t) => ({ name: t.name, outputSize: t.outputSize })) })) as Record<string, unknown>;
  return { name, options: plain };
}

/** Throws INVALID_OPTION for keys of `options` not in `known` (unknown option keys are errors). */
export function checkKnownKeys(what: string, options: object, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null) invalidOption('options', options, `the options object of ${what}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) invalidOption(key, (options as Record<string, unknown>)[key], `no such option of ${what} (options: ${known.join(', ')})`);
  }
}
