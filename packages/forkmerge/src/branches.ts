import { MtlError, tf, type Task } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';
import type { BranchPreset, BranchSpec } from './options.js';

/** A branch after validation: a name and its task weights ν_b (only positive weights kept). */
export interface ResolvedBranch {
  readonly name: string;
  readonly weights: Readonly<Record<string, number>>;
}

/**
 * The task-weighting vectors of a preset. Vectors that coincide (e.g. `target+aux` and `all` with a
 * single auxiliary) are kept once.
 */
export function presetBranches(preset: BranchPreset, taskNames: readonly string[], targets: readonly string[]): ResolvedBranch[] {
  const auxiliaries = taskNames.filter((t) => !targets.includes(t));
  const ones = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, 1]));
  const out: ResolvedBranch[] = [];
  const push = (name: string, names: readonly string[]) => {
    const weights = ones(names);
    if (!out.some((b) => sameWeights(b.weights, weights))) out.push({ name, weights });
  };
  switch (preset) {
    case 'pair':
      if (auxiliaries.length === 0) invalidOption('branches', preset, '"per-task" or explicit branches when every task is a target ("pair" needs an auxiliary task)');
      push('target', targets);
      push('all', taskNames);
      break;
    case 'each-auxiliary':
      if (auxiliaries.length === 0) invalidOption('branches', preset, '"per-task" or explicit branches when every task is a target ("each-auxiliary" needs an auxiliary task)');
      push('target', targets);
      for (const aux of auxiliaries) push(`target+${aux}`, [...targets, aux]);
      push('all', taskNames);
      break;
    case 'per-task':
      for (const task of taskNames) push(task, [task]);
      push('all', taskNames);
      break;
    default:
      invalidOption('branches', preset, '"pair", "each-auxiliary", "per-task" or an array of { weights }');
  }
  return out;
}

/** Validates explicit branches: known tasks, finite non-negative weights, at least one positive weight each. */
export function explicitBranches(specs: readonly BranchSpec[], taskNames: readonly string[]): ResolvedBranch[] {
  if (!Array.isArray(specs) || specs.length === 0) invalidOption('branches', specs, 'a preset name or a non-empty array of branches');
  const list: readonly BranchSpec[] = specs;
  return list.map((spec, b) => {
    const weights = (spec as BranchSpec | undefined)?.weights;
    if (weights === null || typeof weights !== 'object') invalidOption(`branches[${b}].weights`, weights, 'a record of task weights');
    const kept: Record<string, number> = {};
    for (const [task, w] of Object.entries(weights)) {
      if (!taskNames.includes(task)) {
        throw new MtlError('INVALID_OPTION', `option "branches[${b}].weights" names unknown task "${task}"; known tasks: ${taskNames.join(', ')}`, {
          option: `branches[${b}].weights.${task}`,
          value: task,
          expected: `one of ${taskNames.join(', ')}`,
        });
      }
      if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) invalidOption(`branches[${b}].weights.${task}`, w, 'a finite non-negative number');
      if (w > 0) kept[task] = w;
    }
    if (Object.keys(kept).length === 0) invalidOption(`branches[${b}].weights`, weights, 'at least one positive task weight');
    const name = spec.name ?? `branch${b}`;
    if (typeof name !== 'string' || name.length === 0) invalidOption(`branches[${b}].name`, name, 'a non-empty string');
    return { name, weights: kept };
  });
}

/**
 * The tasks a branch trains: those with ν_b > 0, in the model's task order, each loss scaled by its
 * weight (a weight of 1 keeps the task as is). Metrics are unchanged.
 */
export function branchTasks(tasks: readonly Task[], weights: Readonly<Record<string, number>>): Task[] {
  return tasks.flatMap((task) => {
    const w = weights[task.name] ?? 0;
    if (w <= 0) return [];
    if (w === 1) return [task];
    const scaled: Task = {
      ...task,
      loss: (prediction, target) => tf.tidy(() => tf.mul<tf.Scalar>(task.loss(prediction, target), w)),
    };
    return [scaled];
  });
}

function sameWeights(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
