import { tf } from './tf.js';
import { MtlError } from './errors.js';
import { ParameterLayout, type Parameter } from './parameters.js';
import type { MultiTaskModel } from './models/model.js';
import type { Batch } from './data.js';
import type { Task } from './tasks.js';

/**
 * Where per-task gradients are taken: w.r.t. the shared **parameters** (exact, one backward per task
 * through the whole network) or w.r.t. the shared **representation** z (cheaper: the trunk is run
 * once, each task backpropagates through its head only; MGDA-UB and LibMTL's `rep_grad`).
 */
export type GradientSpace = 'parameters' | 'representation';

/** Per-task losses, the Jacobian of the task losses, and each task's own-parameter gradients. */
export interface TaskGradients {
  readonly taskNames: readonly string[];
  readonly space: GradientSpace;
  /** [T] task losses. */
  readonly losses: tf.Tensor1D;
  /** [T, D]: row t is ∇L_t w.r.t. the shared parameters (flattened in `sharedLayout` order) or z. */
  readonly jacobian: tf.Tensor2D;
  readonly sharedLayout: ParameterLayout;
  /** Shape of z (batch first) when `space` is 'representation'. */
  readonly representationShape?: readonly number[];
  /** task → parameter key → ∇L_task w.r.t. that task's own parameters. */
  readonly taskSpecific: ReadonlyMap<string, ReadonlyMap<string, tf.Tensor>>;
}

/**
 * Computes {@link TaskGradients}. Tensors are fresh; run inside `tf.tidy` or call
 * {@link disposeTaskGradients}.
 */
export function computeTaskGradients(model: MultiTaskModel, tasks: readonly Task[], batch: Batch, space: GradientSpace = 'parameters'): TaskGradients {
  return space === 'parameters' ? parameterSpaceGradients(model, tasks, batch) : representationSpaceGradients(model, tasks, batch);
}

function parameterSpaceGradients(model: MultiTaskModel, tasks: readonly Task[], batch: Batch): TaskGradients {
  const shared = model.sharedParameters;
  const sharedLayout = ParameterLayout.of(shared);
  const rows: tf.Tensor1D[] = [];
  const losses: tf.Scalar[] = [];
  const taskSpecific = new Map<string, Map<string, tf.Tensor>>();
  for (const task of tasks) {
    const own = model.taskParameters(task.name);
    const params = [...shared, ...own];
    const result = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => task.loss(model.head(task.name, model.represent(batch.x), batch.x), targetOf(batch, task)),
        params.map((p) => p.variable),
      );
      const byKey = gradsByKey(params, grads);
      return { value, row: sharedLayout.flatten(byKey), own: own.map((p) => byKey.get(p.key) ?? tf.zerosLike(p.variable)) };
    });
    losses.push(result.value);
    rows.push(result.row);
    taskSpecific.set(task.name, new Map(own.map((p, i) => [p.key, result.own[i]!])));
  }
  return finish(tasks, 'parameters', losses, rows, sharedLayout, taskSpecific);
}

function representationSpaceGradients(model: MultiTaskModel, tasks: readonly Task[], batch: Batch): TaskGradients {
  const sharedLayout = ParameterLayout.of(model.sharedParameters);
  const z = tf.tidy(() => model.represent(batch.x));
  const rows: tf.Tensor1D[] = [];
  const losses: tf.Scalar[] = [];
  const taskSpecific = new Map<string, Map<string, tf.Tensor>>();
  for (const task of tasks) {
    const own = model.taskParameters(task.name);
    const result = tf.tidy(() => {
      const { value, grads } = tf.engine().gradients(
        () => task.loss(model.head(task.name, z, batch.x), targetOf(batch, task)),
        [z, ...own.map((p) => p.variable)],
        undefined,
        true,
      );
      return {
        value: value,
        row: tf.reshape<tf.Rank.R1>(grads[0] ?? tf.zerosLike(z), [-1]),
        own: own.map((p, i) => grads[i + 1] ?? tf.zerosLike(p.variable)),
      };
    });
    losses.push(result.value);
    rows.push(result.row);
    taskSpecific.set(task.name, new Map(own.map((p, i) => [p.key, result.own[i]!])));
  }
  const representationShape = z.shape;
  z.dispose();
  return { ...finish(tasks, 'representation', losses, rows, sharedLayout, taskSpecific), representationShape };
}

function finish(
  tasks: readonly Task[],
  space: GradientSpace,
  losses: tf.Scalar[],
  rows: tf.Tensor1D[],
  sharedLayout: ParameterLayout,
  taskSpecific: Map<string, Map<string, tf.Tensor>>,
): TaskGradients {
  const lossVector = tf.stack(losses) as tf.Tensor1D;
  const jacobian = tf.stack(rows) as tf.Tensor2D;
  tf.dispose([...losses, ...rows]);
  return { taskNames: tasks.map((t) => t.name), space, losses: lossVector, jacobian, sharedLayout, taskSpecific };
}

/**
 * Gradients of the shared parameters for a direction in the Jacobian's space: in parameter space
 * it is split back into tensors; in representation space it is backpropagated through the trunk
 * (the vector-Jacobian product dz ↦ (∂z/∂θs)ᵀ dz).
 */
export function sharedGradientsFromDirection(model: MultiTaskModel, batch: Batch, gradients: TaskGradients, direction: tf.Tensor1D): Map<string, tf.Tensor> {
  const dim = gradients.jacobian.shape[1];
  if (direction.size !== dim) {
    throw new MtlError('SHAPE_MISMATCH', `direction has ${direction.size} numbers, the ${gradients.space} Jacobian has ${dim} columns`, {
      expected: dim,
      actual: direction.size,
    });
  }
  if (gradients.space === 'parameters') return gradients.sharedLayout.unflatten(direction);
  const shared = model.sharedParameters;
  const dz = tf.reshape(direction, [...gradients.representationShape!]);
  const { value, grads } = tf.engine().gradients(() => model.represent(batch.x), shared.map((p) => p.variable), dz, true);
  tf.dispose([dz, value]);
  return new Map(shared.map((p, i) => [p.key, grads[i] ?? tf.zerosLike(p.variable)]));
}

export function disposeTaskGradients(gradients: TaskGradients): void {
  gradients.losses.dispose();
  gradients.jacobian.dispose();
  for (const m of gradients.taskSpecific.values()) for (const t of m.values()) t.dispose();
}

export function targetOf(batch: Batch, task: Task): tf.Tensor {
  const target = batch.targets[task.name];
  if (!target) throw new MtlError('MISSING_TARGET', `batch has no targets for task "${task.name}"`, { task: task.name });
  return target;
}

export function gradsByKey(params: readonly Parameter[], grads: tf.NamedTensorMap): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const p of params) {
    const g = grads[p.variable.name];
    if (g) out.set(p.key, g);
  }
  return out;
}
