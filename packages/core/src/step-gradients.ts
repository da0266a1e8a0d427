import { tf } from './tf.js';
import { ParameterLayout, type Parameter } from './parameters.js';
import type { TaskGradients } from './gradients.js';

/** The rows of `gradients` for the tasks at `indices` (same tensors for the own-parameter gradients). */
export function selectRows(gradients: TaskGradients, indices: readonly number[]): TaskGradients {
  const rows = tf.tensor1d(Int32Array.from(indices), 'int32');
  const jacobian = tf.gather<tf.Tensor2D>(gradients.jacobian, rows);
  const losses = tf.gather<tf.Tensor1D>(gradients.losses, rows);
  rows.dispose();
  const taskNames = indices.map((i) => gradients.taskNames[i]!);
  return {
    ...gradients,
    taskNames,
    losses,
    jacobian,
    taskSpecific: new Map(taskNames.map((name) => [name, gradients.taskSpecific.get(name)!])),
  };
}

/**
 * The columns of a parameter-space Jacobian that belong to `columns` (in `sharedLayout` order),
 * with the layout of just those parameters: GradNorm's "last shared layer" norms.
 */
export function selectColumns(gradients: TaskGradients, columns: readonly Parameter[]): TaskGradients {
  const keep = new Set(columns.map((p) => p.key));
  const entries = gradients.sharedLayout.entries.filter((e) => keep.has(e.key));
  const jacobian = tf.tidy(() => tf.concat2d(entries.map((e) => tf.slice(gradients.jacobian, [0, e.offset], [-1, e.size])), 1));
  return { ...gradients, jacobian, sharedLayout: new ParameterLayout(entries.map((e) => ({ key: e.key, shape: e.shape }))) };
}
