import { tf } from './tf.js';
import { MtlError, invalidOption, requireFiniteNumber } from './errors.js';
import { computeTaskGradients, gradsByKey, sharedGradientsFromDirection, targetOf, type GradientSpace, type TaskGradients } from './gradients.js';
import type { StepContext, StepTasksOptions, StepTasksResult, TaskGradientsOptions } from './update-rules.js';
import type { ForwardOptions, MultiTaskModel } from './models/model.js';
import { hashString, mixSeeds } from './models/layers.js';
import type { Batch } from './data.js';
import type { Task } from './tasks.js';
import type { Optimizer } from './optimizers.js';
import { ParamSnapshot, isWeightParameter, parameterTasks, type Parameter } from './parameters.js';
import type { SeededRandom } from './random.js';
import type { GradientWorkers } from './parallel/gradient-workers.js';
import { selectColumns, selectRows } from './step-gradients.js';
import { recordForward, type RecordedForward } from './recorded-forward.js';

/** Mixed with the step index into the step's dropout seed. */
const STEP_DROPOUT_SALT = hashString('mtl/step-dropout');

/** What the trainer hands a step context: the step's fixed facts, plus the frozen parameters. */
export type StepContextInit = Pick<StepContext, 'step' | 'epoch' | 'model' | 'tasks' | 'batch' | 'optimizer' | 'random'> & {
  /** Keys of parameters no update may change. */
  readonly frozen?: ReadonlySet<string>;
  /** Computes parameter-space task gradients in worker threads too (see {@link GradientWorkers}). */
  readonly gradientWorkers?: GradientWorkers | undefined;
  /** The next batch of the trainer's seeded validation stream (`ctx.validationBatch()`); absent: none. */
  readonly validationBatches?: (() => Batch) | undefined;
  /** The next batch of the trainer's seeded extra-training stream (`ctx.nextTrainingBatch()`); absent: none. */
  readonly trainingBatches?: (() => Batch) | undefined;
};

/**
 * What a context and every context derived from it (`withBatch`, `stepTasks`'s rule context)
 * share: they drive one model, so one parameter version says whether a cached value is stale.
 */
interface SharedStepState {
  /** Version of the parameter values: 0 at the start of the step, a fresh number after every change. */
  version: number;
  lastVersion: number;
  updated: boolean;
  readonly heldBatches: Batch[];
}

/** A derived context's restrictions: which parameters its updates may step, and their learning-rate scales. */
interface UpdateScope {
  readonly parameters: readonly Parameter[];
  readonly lrScale: number;
  readonly lrScales: ReadonlyMap<string, number>;
}

interface Cached<T> {
  readonly version: number;
  readonly value: T;
}

const TASK_GRADIENT_OPTIONS = new Set(['tasks', 'parameters']);
const DIRECTION_OPTIONS = new Set(['space', 'headWeights', 'tasks', 'parameters']);
const APPLY_OPTIONS = new Set(['parameters', 'lrScale']);
const STEP_TASKS_OPTIONS = new Set(['weights', 'lrScale', 'headLrScale', 'rule']);

/**
 * The trainer's {@link StepContext}. Must be used inside one `tf.tidy` (the trainer's): cached
 * tensors are freed when it ends; batches it hands out are freed by {@link release}. Every loss it
 * computes is checked before any update is applied. Caches are keyed by a parameter version that
 * every update (and every {@link lookahead}) changes, so nothing read after an update is stale.
 */
export class TrainingStepContext implements StepContext {
  readonly step: number;
  readonly epoch: number;
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly batch: Batch;
  readonly optimizer: Optimizer;
  readonly random: SeededRandom;
  private readonly init: StepContextInit;
  private readonly frozen: ReadonlySet<string>;
  private readonly shared: SharedStepState;
  private readonly scope: UpdateScope | undefined;
  /** True for the context the trainer made (its batch is the step's batch, its losses the step's report). */
  private readonly primary: boolean;
  private lossCache: Cached<readonly number[]> | undefined;
  /**
   * The forward that {@link losses} ran, recorded (see recorded-forward.ts), for this context's batch
   * at `version`: a loss weighting reads the losses, picks weights and then backpropagates Σ w_t L_t
   * from this tape (`weightedLossGradients`), so its step is 1 forward + 1 backward, not 2 forwards.
   * Its saved tensors belong to the trainer's tidy (freed at the step's end at the latest).
   */
  private lossTape: { version: number; recorded: RecordedForward<tf.Tensor1D>; losses: tf.Tensor1D } | undefined;
  private readonly gradientCache = new Map<string, Cached<TaskGradients>>();
  private startLosses: readonly number[] | undefined;

  constructor(init: StepContextInit, derived?: { shared: SharedStepState; scope: UpdateScope | undefined }) {
    this.init = init;
    this.step = init.step;
    this.epoch = init.epoch;
    this.model = init.model;
    this.tasks = init.tasks;
    this.batch = init.batch;
    this.optimizer = init.optimizer;
    this.random = init.random;
    this.frozen = init.frozen ?? new Set();
    this.shared = derived?.shared ?? { version: 0, lastVersion: 0, updated: false, heldBatches: [] };
    this.scope = derived?.scope;
    this.primary = derived === undefined;
  }

  /**
   * The losses of the step's batch at the parameters the step started from, if the rule computed
   * them before its first update (the trainer reports them); undefined otherwise.
   */
  get computedLosses(): readonly number[] | undefined {
    return this.startLosses;
  }

  /** True once an update has been applied in this step (by this context or one derived from it). */
  get updated(): boolean {
    return this.shared.updated;
  }

  losses(): readonly number[] {
    const cached = this.lossCache;
    if (cached && cached.version === this.shared.version) return cached.value;
    this.dropLossTape();
    const recorded = recordForward(() => {
      const outputs = this.model.forward(this.batch.x, this.pass);
      return tf.stack(this.tasks.map((t) => t.loss(outputs[t.name]!, targetOf(this.batch, t)))) as tf.Tensor1D;
    });
    // Inside another gradient computation the tape cannot be kept: a plain forward.
    if (!recorded) return this.evaluateLosses();
    recorded.adoptIntoScope();
    const losses = Array.from(recorded.outputs.dataSync());
    // Only the loss vector's id and shape are needed to backpropagate from it.
    recorded.outputs.dispose();
    try {
      this.remember(losses);
    } catch (error) {
      recorded.dispose();
      throw error;
    }
    this.lossTape = { version: this.shared.version, recorded, losses: recorded.outputs };
    return losses;
  }

  private dropLossTape(): void {
    this.lossTape?.recorded.dispose();
    this.lossTape = undefined;
  }

  evaluateLosses(): readonly number[] {
    const values = tf.tidy(() => {
      const outputs = this.model.forward(this.batch.x, this.pass);
      return tf.stack(this.tasks.map((t) => t.loss(outputs[t.name]!, targetOf(this.batch, t))));
    });
    const losses = Array.from(values.dataSync());
    values.dispose();
    return this.remember(losses);
  }

  lookahead<T>(values: ReadonlyMap<string, tf.Tensor>, fn: () => T): T {
    const known = new Set(this.model.parameters.map((p) => p.key));
    for (const key of values.keys()) if (!known.has(key)) invalidOption('lookahead values', key, "keys of the model's parameters");
    const touched = this.model.parameters.filter((p) => values.has(p.key));
    const saved = ParamSnapshot.capture(touched);
    const outer = this.shared.version;
    const inner = this.newVersion();
    try {
      tf.tidy(() => touched.forEach((p) => p.variable.assign(values.get(p.key)!)));
      return fn();
    } finally {
      saved.restore(touched);
      saved.dispose();
      // The exact old values are back: caches from before are valid again, unless fn applied an update.
      if (this.shared.version === inner) this.shared.version = outer;
      else this.newVersion();
    }
  }

  taskGradients(space: GradientSpace = 'parameters', options: TaskGradientsOptions = {}): TaskGradients {
    checkKeys('taskGradients', options, TASK_GRADIENT_OPTIONS);
    const tasks = options.tasks === undefined ? this.tasks : this.resolveTasks('tasks', options.tasks);
    const columns = options.parameters === undefined ? undefined : this.resolveSharedColumns(space, options.parameters);
    const key = `${space}|${tasks.map((t) => t.name).join(',')}|${columns?.map((p) => p.key).join(',') ?? '*'}`;
    const cached = this.gradientCache.get(key);
    if (cached && cached.version === this.shared.version) return cached.value;
    const rows = columns ? this.taskGradients(space, options.tasks === undefined ? {} : { tasks: options.tasks }) : this.rowsFor(space, tasks);
    const value = columns ? selectColumns(rows, columns) : rows;
    this.gradientCache.set(key, { version: this.shared.version, value });
    return value;
  }

  weightedLossGradients(weights: readonly number[], options: { parameters?: readonly Parameter[] } = {}): Map<string, tf.Tensor> {
    checkKeys('weightedLossGradients', options, new Set(['parameters']));
    if (weights.length !== this.tasks.length) {
      throw new MtlError('SHAPE_MISMATCH', `${weights.length} weights for ${this.tasks.length} tasks`, { expected: this.tasks.length, actual: weights.length });
    }
    weights.forEach((w, i) => requireFiniteNumber(`weights[${i}] (task "${this.tasks[i]!.name}")`, w));
    const names = this.tasks.map((t) => t.name);
    const weightOf = new Map(names.map((n, i) => [n, weights[i]!]));
    const candidates = options.parameters === undefined ? this.defaultParameters() : this.resolveParameters(options.parameters);
    // A parameter only tasks of weight 0 use gets no entry at all: it is not stepped and its optimizer state stays.
    const params = candidates.filter((p) => parameterTasks(p, names).some((t) => (weightOf.get(t) ?? 0) !== 0));
    if (params.length === 0) {
      this.losses();
      return new Map();
    }
    const tape = this.lossTape;
    if (tape && tape.version === this.shared.version && tape.recorded.alive) {
      // The losses were read at these parameters on this batch: backpropagate Σ w_t L_t from that forward.
      const dy = tf.tensor1d(weights as number[]);
      const found = tape.recorded.gradients(tape.losses, params.map((p) => p.variable), dy);
      dy.dispose();
      const out = new Map<string, tf.Tensor>();
      params.forEach((p, i) => {
        const g = found[i];
        if (g) out.set(p.key, g);
      });
      return out;
    }
    let taskLosses: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      const outputs = this.model.forward(this.batch.x, this.pass);
      taskLosses = tf.keep(tf.stack(this.tasks.map((t) => t.loss(outputs[t.name]!, targetOf(this.batch, t)))));
      return tf.sum<tf.Scalar>(tf.mul(taskLosses, tf.tensor1d(weights as number[])));
    }, params.map((p) => p.variable));
    const losses = Array.from(taskLosses!.dataSync());
    taskLosses!.dispose();
    this.remember(losses);
    return gradsByKey(params, grads);
  }

  gradientsFromDirection(
    direction: tf.Tensor1D | Float32Array | Float64Array,
    options: { space?: GradientSpace; headWeights?: readonly number[]; tasks?: readonly string[]; parameters?: readonly Parameter[] } = {},
  ): Map<string, tf.Tensor> {
    checkKeys('gradientsFromDirection', options, DIRECTION_OPTIONS);
    const { space, headWeights, ...subset } = options;
    const gradients = this.taskGradients(space ?? 'parameters', subset);
    if (headWeights && headWeights.length !== gradients.taskNames.length) {
      throw new MtlError('SHAPE_MISMATCH', `${headWeights.length} head weights for ${gradients.taskNames.length} tasks`, {
        expected: gradients.taskNames.length,
        actual: headWeights.length,
      });
    }
    const vector = direction instanceof tf.Tensor ? direction : tf.tensor1d(direction instanceof Float32Array ? direction : Float32Array.from(direction));
    const out = sharedGradientsFromDirection(this.model, this.batch, gradients, vector, { forward: this.pass });
    gradients.taskNames.forEach((task, t) => {
      const weight = headWeights?.[t] ?? 1;
      // Weight 0 means "this head does not move": no entry, so neither its value nor its optimizer state changes.
      if (weight === 0) return;
      for (const [key, g] of gradients.taskSpecific.get(task)!) {
        // A group-shared parameter on the head paths (representation space) sums its tasks' gradients.
        const scaled = weight === 1 ? g : tf.mul(g, weight);
        const previous = out.get(key);
        out.set(key, previous ? tf.add(previous, scaled) : scaled);
      }
    });
    return out;
  }

  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, options: { parameters?: readonly Parameter[]; lrScale?: number } = {}): void {
    checkKeys('applyGradients', options, APPLY_OPTIONS);
    const lrScale = options.lrScale === undefined ? 1 : requireFiniteNumber('lrScale', options.lrScale, { min: 0 });
    const named = options.parameters === undefined ? this.defaultParameters() : this.resolveParameters(options.parameters);
    this.stepParameters(grads, named, lrScale, new Map());
  }

  stepTasks(taskNames: readonly string[], options: StepTasksOptions = {}): StepTasksResult {
    checkKeys('stepTasks', options, STEP_TASKS_OPTIONS);
    const group = this.resolveTasks('taskNames', taskNames);
    const lrScale = options.lrScale === undefined ? 1 : requireFiniteNumber('lrScale', options.lrScale, { min: 0 });
    const headLrScale = options.headLrScale === undefined ? 1 : requireFiniteNumber('headLrScale', options.headLrScale, { min: 0 });
    if (options.rule !== undefined && options.weights !== undefined) {
      invalidOption('weights', options.weights, 'left out when a rule is given (the rule chooses its own weights)');
    }
    const groupWeights = options.weights === undefined ? undefined : this.groupWeights(taskNames, options.weights);
    const shared = this.model.sharedParameters;
    const sharedKeys = new Set(shared.map((p) => p.key));
    const own = group.flatMap((t) => this.model.taskParameters(t.name)).filter((p) => !sharedKeys.has(p.key));
    const scoped = this.withinScope([...shared, ...new Map(own.map((p) => [p.key, p])).values()]);
    const lrScales = new Map(headLrScale === 1 ? [] : own.map((p) => [p.key, headLrScale] as const));
    let before: readonly number[];
    if (options.rule) {
      before = this.losses();
      options.rule.step(this.derive({ tasks: group, scope: { parameters: scoped, lrScale, lrScales } }));
    } else {
      const weights = this.tasks.map((t) => {
        if (!group.includes(t)) return 0;
        return groupWeights?.get(t.name) ?? 1;
      });
      // This forward pass also gives the losses before the step (remembered at the current version).
      const grads = this.weightedLossGradients(weights, { parameters: scoped });
      before = this.losses();
      this.stepParameters(grads, scoped, lrScale, lrScales);
    }
    return { before: [...before], after: [...this.losses()] };
  }

  validationBatch(): Batch {
    if (!this.init.validationBatches) invalidOption('validation', undefined, 'a dataset given to Trainer({ validation }) so that ctx.validationBatch() has a stream to draw from');
    return this.hold(this.init.validationBatches());
  }

  nextTrainingBatch(): Batch {
    if (!this.init.trainingBatches) invalidOption('trainingBatches', undefined, 'a stream of extra training batches (the Trainer provides one)');
    return this.hold(this.init.trainingBatches());
  }

  withBatch(batch: Batch): StepContext {
    if (!batch || !(batch.x instanceof tf.Tensor) || typeof batch.targets !== 'object') invalidOption('batch', batch, 'a Batch ({ size, x, targets })');
    const shape = batch.x.shape.slice(1);
    const expected = this.model.inputShape;
    if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
      throw new MtlError('SHAPE_MISMATCH', `batch examples have shape [${shape.join(', ')}], the model expects [${expected.join(', ')}]`, { expected, actual: shape });
    }
    for (const task of this.tasks) targetOf(batch, task);
    return this.derive({ batch });
  }

  /** Frees the batches {@link validationBatch} and {@link nextTrainingBatch} handed out (the trainer calls it after the step). */
  release(): void {
    for (const batch of this.shared.heldBatches.splice(0)) {
      batch.x.dispose();
      for (const t of Object.values(batch.targets)) t.dispose();
    }
  }

  private derive(changes: { batch?: Batch; tasks?: readonly Task[]; scope?: UpdateScope }): TrainingStepContext {
    return new TrainingStepContext(
      { ...this.init, batch: changes.batch ?? this.batch, tasks: changes.tasks ?? this.tasks },
      { shared: this.shared, scope: changes.scope ?? this.scope },
    );
  }

  private hold(batch: Batch): Batch {
    // Kept: a rule may draw a batch inside its own tf.tidy and use it after; freed by release().
    tf.keep(batch.x);
    for (const t of Object.values(batch.targets)) tf.keep(t);
    this.shared.heldBatches.push(batch);
    return batch;
  }

  /**
   * How this step's passes run: training mode, one dropout seed for every pass of the step (derived
   * from the step index, so a resumed run draws the masks the uninterrupted run drew).
   */
  private get pass(): ForwardOptions {
    return { training: true, seed: mixSeeds(this.step, STEP_DROPOUT_SALT) };
  }

  /** The rows of `tasks` over all shared columns, from the full Jacobian when it is already there. */
  private rowsFor(space: GradientSpace, tasks: readonly Task[]): TaskGradients {
    const all = tasks.length === this.tasks.length && tasks.every((t, i) => t === this.tasks[i]);
    if (!all) {
      const full = this.gradientCache.get(`${space}|${this.tasks.map((t) => t.name).join(',')}|*`);
      if (full && full.version === this.shared.version) return selectRows(full.value, tasks.map((t) => this.tasks.indexOf(t)));
      return computeTaskGradients(this.model, tasks, this.batch, space, { forward: this.pass });
    }
    // Representation space stays serial: its trunk pass is shared by all tasks, only the heads differ.
    const gradients =
      space === 'parameters' && this.init.gradientWorkers
        ? this.init.gradientWorkers.compute(this.model, this.tasks, this.batch, { forward: this.pass })
        : computeTaskGradients(this.model, this.tasks, this.batch, space, { forward: this.pass });
    this.remember(Array.from(gradients.losses.dataSync()));
    return gradients;
  }

  isFrozen(key: string): boolean {
    return this.frozen.has(key);
  }

  /** Steps the named parameters that have a gradient and are neither frozen nor outside this context's scope. */
  private stepParameters(grads: ReadonlyMap<string, tf.Tensor>, named: readonly Parameter[], lrScale: number, lrScales: ReadonlyMap<string, number>): void {
    const params = this.withinScope(named).filter((p) => !this.frozen.has(p.key) && grads.has(p.key));
    assertFiniteGradients(grads, params, this.step);
    const scales = new Map(this.scope?.lrScales ?? []);
    for (const [key, s] of lrScales) scales.set(key, (scales.get(key) ?? 1) * s);
    this.optimizer.apply(params, grads, { lrScale: lrScale * (this.scope?.lrScale ?? 1), ...(scales.size ? { lrScales: scales } : {}) });
    this.shared.updated = true;
    this.newVersion();
  }

  private defaultParameters(): readonly Parameter[] {
    return this.scope?.parameters ?? this.model.parameters.filter(isWeightParameter);
  }

  private withinScope(params: readonly Parameter[]): readonly Parameter[] {
    if (!this.scope) return params;
    const allowed = new Set(this.scope.parameters.map((p) => p.key));
    return params.filter((p) => allowed.has(p.key));
  }

  private newVersion(): number {
    this.shared.version = ++this.shared.lastVersion;
    return this.shared.version;
  }

  /** Checks losses, caches them for the current parameters, and keeps the step's starting losses for the report. */
  private remember(losses: readonly number[]): readonly number[] {
    this.assertFinite(losses);
    this.lossCache = { version: this.shared.version, value: losses };
    if (this.primary && this.shared.version === 0) this.startLosses ??= losses;
    return losses;
  }

  private resolveTasks(option: string, names: readonly string[]): readonly Task[] {
    if (!Array.isArray(names) || names.length === 0) invalidOption(option, names, 'a non-empty array of task names');
    const out: Task[] = [];
    for (const name of names) {
      const task = this.tasks.find((t) => t.name === name);
      if (!task) throw new MtlError('UNKNOWN_TASK', `${option} names unknown task "${String(name)}"; this step's tasks: ${this.tasks.map((t) => t.name).join(', ')}`, { task: name, known: this.tasks.map((t) => t.name) });
      if (out.includes(task)) invalidOption(option, name, 'task names without repeats');
      out.push(task);
    }
    // Jacobian rows and losses follow the step's task order, whatever order the names came in.
    return this.tasks.filter((t) => out.includes(t));
  }

  /** `stepTasks` weights by task name, from an array in `taskNames` order or a record by name. */
  private groupWeights(taskNames: readonly string[], weights: readonly number[] | Readonly<Record<string, number>>): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    if (Array.isArray(weights)) {
      if (weights.length !== taskNames.length) {
        throw new MtlError('SHAPE_MISMATCH', `${weights.length} weights for ${taskNames.length} tasks`, { expected: taskNames.length, actual: weights.length });
      }
      taskNames.forEach((name, i) => out.set(name, requireFiniteNumber(`weights[${i}] (task "${name}")`, weights[i], { min: 0 })));
      return out;
    }
    if (weights === null || typeof weights !== 'object') invalidOption('weights', weights, 'an array (one weight per task name) or a record of weights by task name');
    for (const [name, w] of Object.entries(weights as Readonly<Record<string, number>>)) {
      if (!taskNames.includes(name)) throw new MtlError('UNKNOWN_TASK', `weights name task "${name}", which is not in the group (${taskNames.join(', ')})`, { task: name, known: [...taskNames] });
      out.set(name, requireFiniteNumber(`weights.${name}`, w, { min: 0 }));
    }
    return out;
  }

  private resolveParameters(params: readonly Parameter[]): readonly Parameter[] {
    if (!Array.isArray(params)) invalidOption('parameters', params, 'an array of the model\'s parameters');
    const byKey = new Map(this.model.parameters.map((p) => [p.key, p]));
    return params.map((p: Parameter | undefined) => {
      const key = p?.key;
      const own = key === undefined ? undefined : byKey.get(key);
      if (!own) invalidOption('parameters', key, "parameters of this step's model");
      return own;
    });
  }

  private resolveSharedColumns(space: GradientSpace, params: readonly Parameter[]): readonly Parameter[] {
    if (space !== 'parameters') invalidOption('parameters', `${params.length} parameters`, "left out in the 'representation' space (its columns are the representation, not parameters)");
    const wanted = new Set(this.resolveParameters(params).map((p) => p.key));
    const shared = this.model.sharedParameters;
    for (const key of wanted) if (!shared.some((p) => p.key === key)) invalidOption('parameters', key, 'shared parameters (model.sharedParameters)');
    if (wanted.size === 0) invalidOption('parameters', params, 'a non-empty list of shared parameters');
    return shared.filter((p) => wanted.has(p.key));
  }

  private assertFinite(losses: readonly number[]): void {
    const bad = losses.findIndex((l) => !Number.isFinite(l));
    if (bad >= 0) {
      const task = this.tasks[bad]!.name;
      throw new MtlError('NON_FINITE_LOSS', `loss of task "${task}" is ${losses[bad]} at step ${this.step} (epoch ${this.epoch}); no update was applied`, {
        task,
        step: this.step,
        epoch: this.epoch,
        value: losses[bad],
      });
    }
  }
}

/** Unknown option keys are errors (a typo must not be silently ignored). */
function checkKeys(method: string, options: object, known: ReadonlySet<string>): void {
  if (options === null || typeof options !== 'object') invalidOption(`${method} options`, options, 'an object');
  for (const key of Object.keys(options)) {
    if (!known.has(key)) invalidOption(`${method}.${key}`, (options as Record<string, unknown>)[key], `one of the known options (${[...known].join(', ')})`);
  }
}

/** One scalar sync on the happy path; names the first bad parameter when something is off. */
function assertFiniteGradients(grads: ReadonlyMap<string, tf.Tensor>, params: readonly Parameter[], step: number): void {
  if (params.length === 0) return;
  const total = tf.tidy(() => tf.addN(params.map((p) => tf.sum(tf.abs(grads.get(p.key)!)))).dataSync()[0]!);
  if (Number.isFinite(total)) return;
  const bad = params.find((p) => !Number.isFinite(tf.tidy(() => tf.sum(tf.abs(grads.get(p.key)!)).dataSync()[0]!)));
  throw new MtlError('NON_FINITE_GRADIENT', `gradient of parameter "${bad?.key ?? '?'}" is not finite at step ${step}; no update was applied`, {
    parameter: bad?.key,
    task: bad?.task,
    step,
  });
}

