import { tf } from '../tf.js';
import { unknownTask } from '../tasks.js';
import { MtlError, invalidOption, isArray } from '../errors.js';
import { SeededRandom } from '../random.js';
import { isSharedParameter, isWeightParameter, parameterUsedBy, type Parameter, type ParameterRole } from '../parameters.js';

/**
 * How a pass runs. Evaluation (the default) uses BatchNorm's running statistics and no dropout;
 * training normalises with the batch's statistics and drops units.
 */
export interface ForwardOptions {
  /** Training mode. Default false (evaluation: what `evaluateModel` and `predict` use). */
  readonly training?: boolean;
  /**
   * Seed of this pass's dropout masks (training only): passes with equal seeds drop the same units,
   * so per-task backward passes of one step can share one mask. Default: the next seed of the
   * model's own stream (seeded by the builder's `seed`).
   */
  readonly seed?: number;
}

/** What a module sees of the pass it runs in. */
export interface ApplyContext {
  readonly training: boolean;
  /** Seed of the pass's dropout masks; a layer mixes in its own key. */
  readonly seed: number;
  /**
   * Id of the model's input tensor: a BatchNorm layer updates its running statistics at most once
   * per input batch, however many passes (one per task) run over it.
   */
  readonly inputId: number;
}

/** A JSON description of an architecture: enough to rebuild the model (see `createArchitecture`). */
export interface ArchitectureSpec {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
}

/**
 * A network with shared parameters and task-specific parameters. The split into `represent`
 * (the shared trunk, producing the shared representation z) and `head` (one task's output from z)
 * lets per-task gradients be taken w.r.t. z (one backward through the trunk) or w.r.t. the shared
 * parameters (exact).
 *
 * A parameter may be used by all tasks, by a group of tasks, or by one task ({@link Parameter.tasks}):
 * tree-shaped models (see `treeModel`) have modules each used by a set of tasks.
 */
export interface MultiTaskModel {
  readonly taskNames: readonly string[];
  /** Shape of one input example. */
  readonly inputShape: readonly number[];
  /** Every parameter, architecture parameters included (what snapshots and checkpoints carry). */
  readonly parameters: readonly Parameter[];
  /**
   * Weight parameters used by two or more tasks (or by every task: `tasks` undefined and no `task`),
   * the columns of the shared Jacobian; never architecture parameters.
   */
  readonly sharedParameters: readonly Parameter[];
  /**
   * Parameters marked `role: 'architecture'` (CoNAL's α): outside `sharedParameters`, `taskParameters`,
   * the Jacobian and the default update. Absent or empty for models without any.
   */
  readonly architectureParameters?: readonly Parameter[];
  /**
   * Non-trainable state (BatchNorm running mean and variance), by key like parameters. Snapshots of
   * the model (`ParamSnapshot.capture(model)`), merges, checkpoints and gradient workers carry it.
   * Absent or empty for models without any.
   */
  readonly buffers?: readonly Parameter[];
  /** The JSON description `saveModel` writes, when the model was built by a named architecture. */
  readonly architecture?: ArchitectureSpec;
  /** One task's own weight parameters: used by that task only (never architecture parameters). */
  taskParameters(task: string): readonly Parameter[];
  /**
   * Weight parameters the task's path from the shared representation z uses (its head: own
   * parameters and group-shared ones past z). Default: `taskParameters(task)`.
   */
  headParameters?(task: string): readonly Parameter[];
  /** The shared representation of a batch. */
  represent(x: tf.Tensor, options?: ForwardOptions): tf.Tensor;
  /** One task's prediction from the shared representation (MMoE gates also read the input `x`). */
  head(task: string, z: tf.Tensor, x: tf.Tensor, options?: ForwardOptions): tf.Tensor;
  /** Every task's prediction. */
  forward(x: tf.Tensor, options?: ForwardOptions): Record<string, tf.Tensor>;
  /** Names of the points whose features {@link features} returns (tree models: module names). */
  readonly featurePoints?: readonly string[];
  /** The features at named points (every point by default), from one pass. */
  features?(x: tf.Tensor, options?: ForwardOptions & { readonly points?: readonly string[] }): Record<string, tf.Tensor>;
  /** The next seed of the model's own dropout stream (for passes that should share one mask). */
  nextSeed?(): number;
  /** Points of the shared path where the representation can be taken instead (see {@link splitAt}). */
  readonly representationPoints?: readonly string[];
  /**
   * A view of this model (same variables) whose `represent` stops at `point` of the shared path and
   * whose heads run the rest: representation-space gradients at a chosen layer
   * (`computeTaskGradients(model, tasks, batch, 'representation', { point })`).
   */
  splitAt?(point: string): MultiTaskModel;
  /** A fresh model with the same architecture and its own variables, initialised to this one's values. */
  clone(): MultiTaskModel;
  dispose(): void;
}

/** A differentiable function with its parameters (and buffers). */
export interface Module {
  readonly parameters: readonly Parameter[];
  readonly buffers?: readonly Parameter[];
  /** `context` is absent when called by code that predates it: treat as evaluation. */
  apply(input: tf.Tensor, x: tf.Tensor, context?: ApplyContext): tf.Tensor;
}

/** What a {@link ModuleFactory} returns: the trunk, one head per task and optionally named feature points. */
export interface ModelModules {
  readonly trunk: Module;
  readonly heads: Record<string, Module>;
  /** The features at named points from one pass (see {@link MultiTaskModel.features}). */
  readonly features?: {
    readonly points: readonly string[];
    compute(x: tf.Tensor, context: ApplyContext, points: readonly string[]): Record<string, tf.Tensor>;
  };
  /**
   * The same network split at other points of the shared path (tree models: 'input' and each trunk
   * module): trunk up to the point, the rest in the heads. See {@link MultiTaskModel.splitAt}.
   */
  readonly splits?: Readonly<Record<string, { readonly trunk: Module; readonly heads: Record<string, Module> }>>;
}

/** Makes a non-trainable buffer (BatchNorm statistics). */
export type BufferFactory = (key: string, initial: tf.Tensor, tasks?: string | readonly string[]) => Parameter;

/** Builds a model's modules from a parameter factory (and a buffer factory), so `clone` can rebuild them. */
export type ModuleFactory = (make: ParameterFactory, buffer: BufferFactory) => ModelModules;

/**
 * Makes a model parameter used by `task` (a task name: task-specific; a list: the tasks that use it;
 * undefined: every task); `options.role: 'architecture'` marks an architecture parameter (see {@link Parameter.role}).
 */
export type ParameterFactory = (
  key: string,
  initial: tf.Tensor,
  task?: string | readonly string[],
  options?: { readonly role?: ParameterRole },
) => Parameter;

export interface ComposedModelOptions {
  /** Seed of the model's own dropout stream (passes without `seed`). Default 0. */
  readonly seed?: number;
  /** The description `saveModel` writes. */
  readonly architecture?: ArchitectureSpec;
}

let modelCounter = 0;

/** A model assembled from a trunk module and one head module per task. */
export class ComposedModel implements MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly parameters: readonly Parameter[];
  readonly sharedParameters: readonly Parameter[];
  readonly architectureParameters: readonly Parameter[];
  readonly buffers: readonly Parameter[];
  readonly architecture: ArchitectureSpec | undefined;
  readonly featurePoints: readonly string[] | undefined;
  private readonly trunk: Module;
  private readonly heads: Record<string, Module>;
  private readonly featureSource: ModelModules['features'];
  private readonly splits: ModelModules['splits'];
  private readonly stream: SeededRandom;
  private disposed = false;

  constructor(
    readonly inputShape: readonly number[],
    private readonly factory: ModuleFactory,
    private readonly options: ComposedModelOptions = {},
  ) {
    const id = ++modelCounter;
    const made: Parameter[] = [];
    const buffers: Parameter[] = [];
    const make: ParameterFactory = (key, initial, task, options) => {
      const variable = tf.variable(initial, true, `mtl${id}/${key}`);
      initial.dispose();
      const p: Parameter = { key, variable, ...users(key, task), ...(options?.role === 'architecture' ? { role: 'architecture' as const } : {}) };
      made.push(p);
      return p;
    };
    const buffer: BufferFactory = (key, initial, task) => {
      const variable = tf.variable(initial, false, `mtl${id}/${key}`);
      initial.dispose();
      const b: Parameter = { key, variable, ...users(key, task) };
      buffers.push(b);
      return b;
    };
    const modules = factory(make, buffer);
    this.trunk = modules.trunk;
    this.heads = modules.heads;
    this.featureSource = modules.features;
    this.featurePoints = modules.features?.points;
    this.splits = modules.splits;
    this.taskNames = Object.keys(modules.heads);
    this.parameters = made;
    this.buffers = buffers;
    this.architecture = options.architecture;
    this.stream = new SeededRandom(options.seed ?? 0);
    for (const p of [...made, ...buffers]) {
      for (const t of p.tasks ?? (p.task === undefined ? [] : [p.task])) {
        if (!this.taskNames.includes(t)) {
          [...made, ...buffers].forEach((q) => q.variable.dispose());
          throw new MtlError('UNKNOWN_TASK', `parameter "${p.key}" names unknown task "${t}"; known tasks: ${this.taskNames.join(', ')}`, {
            task: t,
            parameter: p.key,
            known: this.taskNames,
          });
        }
      }
    }
    this.sharedParameters = made.filter((p) => isSharedParameter(p) && isWeightParameter(p));
    this.architectureParameters = made.filter((p) => !isWeightParameter(p));
  }

  taskParameters(task: string): readonly Parameter[] {
    this.requireTask(task);
    return this.parameters.filter((p) => !isSharedParameter(p) && parameterUsedBy(p, task) && isWeightParameter(p));
  }

  headParameters(task: string): readonly Parameter[] {
    return [...new Set(this.requireTask(task).parameters)].filter(isWeightParameter);
  }

  represent(x: tf.Tensor, options?: ForwardOptions): tf.Tensor {
    this.assertAlive();
    return this.trunk.apply(x, x, this.context(x, options));
  }

  head(task: string, z: tf.Tensor, x: tf.Tensor, options?: ForwardOptions): tf.Tensor {
    return this.requireTask(task).apply(z, x, this.context(x, options));
  }

  forward(x: tf.Tensor, options?: ForwardOptions): Record<string, tf.Tensor> {
    this.assertAlive();
    // One context for the whole pass: trunk and heads share the pass's dropout seed.
    const context = this.context(x, options);
    const fixed: ForwardOptions = { training: context.training, seed: context.seed };
    const z = this.trunk.apply(x, x, context);
    const out: Record<string, tf.Tensor> = {};
    for (const task of this.taskNames) out[task] = this.head(task, z, x, fixed);
    return out;
  }

  get representationPoints(): readonly string[] | undefined {
    return this.splits ? Object.keys(this.splits) : undefined;
  }

  splitAt(point: string): MultiTaskModel {
    this.assertAlive();
    const split = this.splits?.[point];
    if (!split) invalidOption('point', point, this.splits ? `one of the model's representation points (${Object.keys(this.splits).join(', ')})` : 'a point of a model that has representation points (tree models)');
    return new SplitView(this, split.trunk, split.heads, (x, options) => this.context(x, options));
  }

  features(x: tf.Tensor, options: ForwardOptions & { readonly points?: readonly string[] } = {}): Record<string, tf.Tensor> {
    this.assertAlive();
    const source = this.featureSource;
    if (!source) throw new MtlError('INVALID_OPTION', 'this model has no named feature points', { option: 'points' });
    const points = options.points ?? source.points;
    for (const point of points) {
      if (!source.points.includes(point)) invalidOption('points', point, `one of the model's feature points (${source.points.join(', ')})`);
    }
    return source.compute(x, this.context(x, options), points);
  }

  clone(): MultiTaskModel {
    this.assertAlive();
    const copy = new ComposedModel(this.inputShape, this.factory, this.options);
    tf.tidy(() => {
      copy.parameters.forEach((p, i) => p.variable.assign(this.parameters[i]!.variable));
      copy.buffers.forEach((b, i) => b.variable.assign(this.buffers[i]!.variable));
    });
    return copy;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.parameters) p.variable.dispose();
    for (const b of this.buffers) b.variable.dispose();
  }

  /**
   * The next seed of the model's own dropout stream (seeded by the builder's `seed`): training passes
   * without a `seed` draw one; `computeTaskGradients` draws one for all of a step's passes.
   */
  nextSeed(): number {
    return this.stream.nextUint32() & 0x7fffffff;
  }

  /** @internal The pass context of `x` (views share the model's dropout stream). */
  context(x: tf.Tensor, options: ForwardOptions | undefined): ApplyContext {
    const training = options?.training ?? false;
    if (options?.seed !== undefined && !Number.isFinite(options.seed)) invalidOption('seed', options.seed, 'a finite number');
    const seed = options?.seed ?? (training ? this.nextSeed() : 0);
    return { training, seed, inputId: x.id };
  }

  private requireTask(task: string): Module {
    this.assertAlive();
    const head = this.heads[task];
    if (!head) throw unknownTask(task, this.taskNames);
    return head;
  }

  private assertAlive(): void {
    if (this.disposed) throw new MtlError('DISPOSED', 'this model was disposed');
  }
}

/** `task` / `tasks` fields of a parameter from the factory's argument. */
function users(key: string, task: string | readonly string[] | undefined): { task?: string; tasks?: readonly string[] } {
  if (task === undefined) return { task: undefined };
  if (typeof task === 'string') return { task };
  if (!isArray(task) || task.length === 0 || task.some((t) => typeof t !== 'string')) {
    invalidOption(`${key}.tasks`, task, 'a non-empty list of task names');
  }
  const tasks = Object.freeze([...new Set(task)]);
  return tasks.length === 1 ? { task: tasks[0]!, tasks } : { tasks };
}

/** {@link ComposedModel.splitAt}: the model's variables, another trunk/head split. */
class SplitView implements MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly inputShape: readonly number[];
  readonly parameters: readonly Parameter[];
  readonly sharedParameters: readonly Parameter[];
  readonly buffers: readonly Parameter[];

  constructor(
    private readonly base: ComposedModel,
    private readonly trunk: Module,
    private readonly heads: Record<string, Module>,
    private readonly contextOf: (x: tf.Tensor, options: ForwardOptions | undefined) => ApplyContext,
  ) {
    this.taskNames = base.taskNames;
    this.inputShape = base.inputShape;
    this.parameters = base.parameters;
    this.sharedParameters = base.sharedParameters;
    this.buffers = base.buffers;
  }

  taskParameters(task: string): readonly Parameter[] {
    return this.base.taskParameters(task);
  }

  headParameters(task: string): readonly Parameter[] {
    const head = this.heads[task];
    if (!head) throw unknownTask(task, this.taskNames);
    return [...new Set(head.parameters)].filter(isWeightParameter);
  }

  represent(x: tf.Tensor, options?: ForwardOptions): tf.Tensor {
    return this.trunk.apply(x, x, this.contextOf(x, options));
  }

  head(task: string, z: tf.Tensor, x: tf.Tensor, options?: ForwardOptions): tf.Tensor {
    const head = this.heads[task];
    if (!head) throw unknownTask(task, this.taskNames);
    return head.apply(z, x, this.contextOf(x, options));
  }

  forward(x: tf.Tensor, options?: ForwardOptions): Record<string, tf.Tensor> {
    return this.base.forward(x, options);
  }

  nextSeed(): number {
    return this.base.nextSeed();
  }

  clone(): MultiTaskModel {
    return this.base.clone();
  }

  dispose(): void {
    // A view owns nothing: the model it was taken from disposes the variables.
  }
}
