import { tf } from './tf.js';
import { MtlError, invalidOption } from './errors.js';
import { ParameterLayout, parameterTasks, parameterUsedBy, type Parameter } from './parameters.js';
import type { ForwardOptions, MultiTaskModel } from './models/model.js';
import type { Batch } from './data.js';
import type { Task } from './tasks.js';
import { recordForward, type RecordedForward } from './recorded-forward.js';

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
  /** The point of the shared path z was taken at, when not the end of the trunk (see {@link TaskGradientOptions.point}). */
  readonly representationPoint?: string;
  /**
   * task → parameter key → ∇L_task w.r.t. the parameters outside the Jacobian that the task uses:
   * in parameter space its own parameters (used by it alone); in representation space every weight
   * parameter of its path past z (`model.headParameters`), group-shared ones included.
   */
  readonly taskSpecific: ReadonlyMap<string, ReadonlyMap<string, tf.Tensor>>;
  /**
   * The shared parameters grouped by the set of tasks that use them, in `sharedLayout` order of first
   * appearance. Hard sharing: one group with every task. A parameter-space Jacobian row of a task is
   * zero in the columns of the groups it is not in; {@link aggregateByGroups} aggregates each group
   * over its own tasks only.
   */
  readonly sharedGroups?: readonly SharingGroup[];
}

/** Shared parameters used by the same set of tasks. */
export interface SharingGroup {
  /** The tasks that use these parameters (model task order). */
  readonly tasks: readonly string[];
  /** Their keys, in `sharedLayout` order. */
  readonly keys: readonly string[];
}

/** Options of {@link computeTaskGradients}. */
export interface TaskGradientOptions {
  /**
   * How the passes run. Default `{ training: true }` with one dropout seed for every task's pass (from
   * `model.nextSeed` when the model has it, else 0), so all rows see the same mask as one PyTorch forward.
   */
  readonly forward?: ForwardOptions;
  /**
   * Representation space only: take z at this point of the shared path instead of the end of the
   * trunk (`model.representationPoints`; tree models: 'input' or a trunk module), e.g. GradNorm's or
   * MGDA-UB's representation at a chosen layer. The parameters before the point form the trunk.
   */
  readonly point?: string;
}

/**
 * Computes {@link TaskGradients}. Tensors are fresh; run inside `tf.tidy` or call
 * {@link disposeTaskGradients}.
 *
 * In parameter space task t's row is ∇L_t over the shared parameters it uses, zeros in the columns
 * of shared parameters it does not use (subset sharing); each pass differentiates only the
 * parameters the task uses. Hard sharing (every shared parameter used by every task) is unchanged.
 */
export function computeTaskGradients(
  model: MultiTaskModel,
  tasks: readonly Task[],
  batch: Batch,
  space: GradientSpace = 'parameters',
  options: TaskGradientOptions = {},
): TaskGradients {
  const forward = trainingPass(model, options.forward);
  if (space === 'parameters') {
    if (options.point !== undefined) invalidOption('point', options.point, "absent in space 'parameters' (a point splits the representation)");
    return parameterSpaceGradients(model, tasks, batch, forward);
  }
  const gradients = representationSpaceGradients(splitModel(model, options.point), tasks, batch, forward);
  return options.point === undefined ? gradients : { ...gradients, representationPoint: options.point };
}

/** The model seen through its split at `point` (the model itself without a point). */
function splitModel(model: MultiTaskModel, point: string | undefined): MultiTaskModel {
  if (point === undefined) return model;
  if (!model.splitAt) invalidOption('point', point, 'a point of a model that has representation points (tree models)');
  return model.splitAt(point);
}

/** The forward options of one step's passes: training, one seed for all of them. */
export function trainingPass(model: MultiTaskModel, forward: ForwardOptions | undefined): ForwardOptions {
  const training = forward?.training ?? true;
  const seed = forward?.seed ?? (training ? (model.nextSeed?.() ?? 0) : 0);
  return { training, seed };
}

/** Groups `model.sharedParameters` by the set of tasks using them (see {@link TaskGradients.sharedGroups}). */
export function sharingGroups(model: MultiTaskModel): SharingGroup[] {
  const groups = new Map<string, { tasks: readonly string[]; keys: string[] }>();
  for (const p of model.sharedParameters) {
    const tasks = parameterTasks(p, model.taskNames);
    const id = tasks.join('\u0000');
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { tasks, keys: [] }));
    group.keys.push(p.key);
  }
  return [...groups.values()];
}

/**
 * Parameter-space rows with one forward pass and T backward passes from its recorded tape (as
 * PyTorch's `retain_graph=True`), so a per-task step costs 1 forward + T backward passes, not T of
 * each. Falls back to one `tf.variableGrads` pass per task where the tape cannot be kept (inside
 * another gradient computation, or an engine without the tape internals: see recorded-forward.ts);
 * both give the same numbers bit for bit.
 */
function parameterSpaceGradients(model: MultiTaskModel, tasks: readonly Task[], batch: Batch, forward: ForwardOptions): TaskGradients {
  const shared = model.sharedParameters;
  const sharedLayout = ParameterLayout.of(shared);
  const recorded = recordForward(() => {
    const z = model.represent(batch.x, forward);
    return tasks.map((task) => task.loss(model.head(task.name, z, batch.x, forward), targetOf(batch, task)));
  });
  if (!recorded) return parameterSpaceGradientsPerTaskForward(model, tasks, batch, forward);
  const rows: tf.Tensor1D[] = [];
  const taskSpecific = new Map<string, Map<string, tf.Tensor>>();
  try {
    tasks.forEach((task, t) => {
      const own = model.taskParameters(task.name);
      const params = [...shared.filter((p) => parameterUsedBy(p, task.name)), ...own];
      const grads = recorded.gradients(recorded.outputs[t]!, params.map((p) => p.variable));
      const byKey = new Map<string, tf.Tensor>();
      params.forEach((p, i) => {
        const g = grads[i];
        if (g) byKey.set(p.key, g);
      });
      rows.push(tf.tidy(() => sharedLayout.flatten(byKey)));
      taskSpecific.set(task.name, new Map(own.map((p) => [p.key, byKey.get(p.key) ?? tf.zerosLike(p.variable)])));
      // The shared entries are in the row now; own entries were handed to taskSpecific.
      params.forEach((p) => !own.includes(p) && byKey.get(p.key)?.dispose());
    });
  } catch (error) {
    tf.dispose([...recorded.outputs, ...rows]);
    for (const m of taskSpecific.values()) tf.dispose([...m.values()]);
    throw error;
  } finally {
    recorded.dispose();
  }
  return finish(model, tasks, 'parameters', recorded.outputs, rows, sharedLayout, taskSpecific);
}

/** The plain path: one `tf.variableGrads` forward and backward per task. */
export function parameterSpaceGradientsPerTaskForward(model: MultiTaskModel, tasks: readonly Task[], batch: Batch, forward: ForwardOptions): TaskGradients {
  const shared = model.sharedParameters;
  const sharedLayout = ParameterLayout.of(shared);
  const rows: tf.Tensor1D[] = [];
  const losses: tf.Scalar[] = [];
  const taskSpecific = new Map<string, Map<string, tf.Tensor>>();
  for (const task of tasks) {
    const own = model.taskParameters(task.name);
    const params = [...shared.filter((p) => parameterUsedBy(p, task.name)), ...own];
    const result = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => task.loss(model.head(task.name, model.represent(batch.x, forward), batch.x, forward), targetOf(batch, task)),
        params.map((p) => p.variable),
      );
      const byKey = gradsByKey(params, grads);
      return { value, row: sharedLayout.flatten(byKey), own: own.map((p) => byKey.get(p.key) ?? tf.zerosLike(p.variable)) };
    });
    losses.push(result.value);
    rows.push(result.row);
    taskSpecific.set(task.name, new Map(own.map((p, i) => [p.key, result.own[i]!])));
  }
  return finish(model, tasks, 'parameters', losses, rows, sharedLayout, taskSpecific);
}

/** The weight parameters of a task's path past z. */
export function headParametersOf(model: MultiTaskModel, task: string): readonly Parameter[] {
  return model.headParameters ? model.headParameters(task) : model.taskParameters(task);
}

/** Shared parameters of the trunk (not on any head path): the ones a z-space direction reaches. */
function trunkParameters(model: MultiTaskModel): Parameter[] {
  const inHeads = new Set(model.taskNames.flatMap((t) => headParametersOf(model, t).map((p) => p.key)));
  const trunk = model.sharedParameters.filter((p) => !inHeads.has(p.key));
  const partial = trunk.find((p) => parameterTasks(p, model.taskNames).length !== model.taskNames.length);
  if (partial) {
    throw new MtlError(
      'INVALID_OPTION',
      `representation-space gradients need a trunk every task uses; parameter "${partial.key}" is in the trunk but used by ${parameterTasks(partial, model.taskNames).join(', ')} only: use space 'parameters'`,
      { option: 'space', value: 'representation', parameter: partial.key },
    );
  }
  return trunk;
}

/**
 * The trunk forward of a representation-space {@link TaskGradients}, kept (see recorded-forward.ts)
 * so that {@link sharedGradientsFromDirection} backpropagates a direction through the trunk without
 * running it again: 1 forward + T head backwards + 1 trunk backward per step, as MGDA-UB counts it,
 * and one more trunk backward (no forward) for each further direction (IT-MTL's candidates).
 */
interface RecordedTrunk {
  readonly recorded: RecordedForward<tf.Tensor>;
  readonly z: tf.Tensor;
  readonly batch: Batch;
  readonly forward: ForwardOptions;
  /** The trunk variables' data at recording: an assignment since then means the tape is of other values. */
  readonly dataIds: readonly object[];
}
const recordedTrunks = new WeakMap<TaskGradients, RecordedTrunk>();

function representationSpaceGradients(model: MultiTaskModel, tasks: readonly Task[], batch: Batch, forward: ForwardOptions): TaskGradients {
  const sharedLayout = ParameterLayout.of(model.sharedParameters);
  const trunk = trunkParameters(model);
  const trunkForward = () => {
    const rep = model.represent(batch.x, forward);
    // An identity trunk (z taken at the input) hands back the batch's own tensor: own a copy.
    return rep === batch.x ? tf.clone(rep) : rep;
  };
  // No trunk parameters: nothing to backpropagate into later, so nothing to record.
  const recorded = trunk.length > 0 ? recordForward(trunkForward) : undefined;
  const z = recorded ? recorded.outputs : tf.tidy(trunkForward);
  // Its saved tensors live as long as the tensors made here: the caller's tidy, or disposeTaskGradients.
  recorded?.adoptIntoScope();
  const rows: tf.Tensor1D[] = [];
  const losses: tf.Scalar[] = [];
  const taskSpecific = new Map<string, Map<string, tf.Tensor>>();
  try {
    for (const task of tasks) {
      const own = headParametersOf(model, task.name);
      const result = tf.tidy(() => {
        const { value, grads } = tf.engine().gradients(
          () => task.loss(model.head(task.name, z, batch.x, forward), targetOf(batch, task)),
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
  } catch (error) {
    recorded?.dispose();
    tf.dispose([z, ...losses, ...rows]);
    for (const m of taskSpecific.values()) tf.dispose([...m.values()]);
    throw error;
  }
  const representationShape = z.shape;
  // Only z's id and shape are needed to backpropagate from it later.
  z.dispose();
  const gradients = { ...finish(model, tasks, 'representation', losses, rows, sharedLayout, taskSpecific), representationShape };
  if (recorded) recordedTrunks.set(gradients, { recorded, z, batch, forward, dataIds: trunk.map((p) => p.variable.dataId) });
  return gradients;
}

function finish(
  model: MultiTaskModel,
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
  return { taskNames: tasks.map((t) => t.name), space, losses: lossVector, jacobian, sharedLayout, taskSpecific, sharedGroups: sharingGroups(model) };
}

/**
 * Gradients of the shared parameters for a direction in the Jacobian's space: in parameter space
 * it is split back into tensors; in representation space it is backpropagated through the trunk
 * (the vector-Jacobian product dz ↦ (∂z/∂θs)ᵀ dz), giving the trunk's parameters (shared
 * parameters on head paths get theirs from `taskSpecific`, see {@link gradientsFromDirection}).
 */
export function sharedGradientsFromDirection(
  model: MultiTaskModel,
  batch: Batch,
  gradients: TaskGradients,
  direction: tf.Tensor1D,
  options: TaskGradientOptions = {},
): Map<string, tf.Tensor> {
  const dim = gradients.jacobian.shape[1];
  if (direction.size !== dim) {
    throw new MtlError('SHAPE_MISMATCH', `direction has ${direction.size} numbers, the ${gradients.space} Jacobian has ${dim} columns`, {
      expected: dim,
      actual: direction.size,
    });
  }
  if (gradients.space === 'parameters') return gradients.sharedLayout.unflatten(direction);
  const view = splitModel(model, gradients.representationPoint);
  const trunk = trunkParameters(view);
  const kept = recordedTrunks.get(gradients);
  // Without explicit forward options, the pass the Jacobian was taken on (same dropout mask: the
  // vector-Jacobian product of that very z), not a fresh seed.
  const forward = options.forward === undefined && kept ? kept.forward : trainingPass(model, options.forward);
  const dz = tf.reshape(direction, [...gradients.representationShape!]);
  if (trunk.length === 0) {
    dz.dispose();
    return new Map();
  }
  const samePass =
    kept !== undefined &&
    kept.recorded.alive &&
    kept.batch === batch &&
    kept.forward.training === forward.training &&
    kept.forward.seed === forward.seed &&
    trunk.every((p, i) => p.variable.dataId === kept.dataIds[i]);
  if (samePass) {
    // The trunk's forward of this very pass is on the kept tape: backpropagate dz, run nothing forward.
    const grads = kept.recorded.gradients(kept.z, trunk.map((p) => p.variable), dz);
    dz.dispose();
    return new Map(trunk.map((p, i) => [p.key, grads[i] ?? tf.zerosLike(p.variable)]));
  }
  const { value, grads } = tf.engine().gradients(() => view.represent(batch.x, forward), trunk.map((p) => p.variable), dz, true);
  tf.dispose([dz, value]);
  return new Map(trunk.map((p, i) => [p.key, grads[i] ?? tf.zerosLike(p.variable)]));
}

/**
 * Every weight parameter's gradient for a Jacobian-space direction: the shared parameters from
 * {@link sharedGradientsFromDirection}, plus Σ_t headWeights[t] · taskSpecific[t] (default weight 1:
 * a parameter used by one task gets that task's gradient, as in LibMTL; a group-shared parameter on
 * the head paths in representation space gets the sum over the tasks using it).
 */
export function gradientsFromDirection(
  model: MultiTaskModel,
  batch: Batch,
  gradients: TaskGradients,
  direction: tf.Tensor1D,
  options: TaskGradientOptions & { readonly headWeights?: readonly number[] } = {},
): Map<string, tf.Tensor> {
  const out = sharedGradientsFromDirection(model, batch, gradients, direction, options);
  gradients.taskNames.forEach((task, t) => {
    const weight = options.headWeights?.[t] ?? 1;
    for (const [key, g] of gradients.taskSpecific.get(task)!) {
      const scaled = weight === 1 ? g : tf.mul(g, weight);
      const previous = out.get(key);
      out.set(key, previous ? tf.add(previous, scaled) : scaled);
    }
  });
  return out;
}

/** The forward options a representation-space Jacobian's kept trunk pass ran with (internal; for tests). */
export function recordedPassOf(gradients: TaskGradients): ForwardOptions | undefined {
  return recordedTrunks.get(gradients)?.forward;
}

export function disposeTaskGradients(gradients: TaskGradients): void {
  recordedTrunks.get(gradients)?.recorded.dispose();
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

/** One group's rows and columns of the shared Jacobian. */
export interface GroupSlice {
  readonly group: SharingGroup;
  /** Row indices (positions in `gradients.taskNames`) of the group's tasks present in the Jacobian. */
  readonly rows: readonly number[];
  /** Column ranges of the group's parameters. */
  readonly columns: readonly { readonly offset: number; readonly size: number }[];
}

/**
 * The parameter-space Jacobian cut by sharing group: for each group of shared parameters, the rows
 * of the tasks that use them and the columns of those parameters. Hard sharing gives one slice with
 * every row and every column.
 */
export function groupSlices(gradients: TaskGradients, model: MultiTaskModel): GroupSlice[] {
  const groups = gradients.sharedGroups ?? sharingGroups(model);
  // A Jacobian restricted to some columns (`ctx.taskGradients(space, { parameters })`) keeps only theirs.
  const present = new Set(gradients.sharedLayout.keys);
  return groups
    .map((group) => {
      const keys = group.keys.filter((key) => present.has(key));
      return {
        group: { tasks: group.tasks, keys },
        rows: gradients.taskNames.map((t, i) => (group.tasks.includes(t) ? i : -1)).filter((i) => i >= 0),
        columns: keys.map((key) => {
          const e = gradients.sharedLayout.entry(key);
          return { offset: e.offset, size: e.size };
        }),
      };
    })
    .filter((slice) => slice.rows.length > 0 && slice.columns.length > 0);
}

/** Whether the Jacobian is one block: every shared parameter used by every task of the Jacobian. */
export function isSingleGroup(slices: readonly GroupSlice[], rows: number, cols: number): boolean {
  return slices.length === 1 && slices[0]!.rows.length === rows && slices[0]!.columns.reduce((n, c) => n + c.size, 0) === cols;
}

/** The sub-matrix of `jacobian` (rows × cols, row-major) for one slice. */
export function sliceMatrix(data: Float32Array | Float64Array, cols: number, slice: GroupSlice): { rows: number; cols: number; data: Float64Array } {
  const width = slice.columns.reduce((n, c) => n + c.size, 0);
  const out = new Float64Array(slice.rows.length * width);
  slice.rows.forEach((r, i) => {
    let at = i * width;
    for (const c of slice.columns) {
      out.set(data.subarray(r * cols + c.offset, r * cols + c.offset + c.size), at);
      at += c.size;
    }
  });
  return { rows: slice.rows.length, cols: width, data: out };
}

/** Writes a slice's direction (its columns, concatenated) into the full direction. */
export function scatterDirection(direction: Float64Array, slice: GroupSlice, part: Float32Array | Float64Array): void {
  let at = 0;
  for (const c of slice.columns) {
    direction.set(part.subarray(at, at + c.size), c.offset);
    at += c.size;
  }
}
