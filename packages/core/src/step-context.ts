import { tf } from './tf.js';
import { MtlError } from './errors.js';
import { computeTaskGradients, gradsByKey, sharedGradientsFromDirection, targetOf, type GradientSpace, type TaskGradients } from './gradients.js';
import type { StepContext } from './update-rules.js';
import type { MultiTaskModel } from './models/model.js';
import type { Batch } from './data.js';
import type { Task } from './tasks.js';
import type { Optimizer } from './optimizers.js';
import { ParamSnapshot, type Parameter } from './parameters.js';
import type { SeededRandom } from './random.js';
import type { GradientWorkers } from './parallel/gradient-workers.js';

/** What the trainer hands a step context: the step's fixed facts, plus the frozen parameters. */
export type StepContextInit = Pick<StepContext, 'step' | 'epoch' | 'model' | 'tasks' | 'batch' | 'optimizer' | 'random'> & {
  /** Keys of parameters no update may change. */
  readonly frozen?: ReadonlySet<string>;
  /** Computes parameter-space task gradients in worker threads too (see {@link GradientWorkers}). */
  readonly gradientWorkers?: GradientWorkers | undefined;
};

/**
 * The trainer's {@link StepContext}. Must be used inside one `tf.tidy` (the trainer's): cached
 * tensors are freed when it ends. Every loss it computes is checked before any update is applied.
 */
export class TrainingStepContext implements StepContext {
  readonly step: number;
  readonly epoch: number;
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly batch: Batch;
  readonly optimizer: Optimizer;
  readonly random: SeededRandom;
  private readonly frozen: ReadonlySet<string>;
  private readonly gradientWorkers: GradientWorkers | undefined;
  private cachedLosses: readonly number[] | undefined;
  private readonly gradientCache = new Map<GradientSpace, TaskGradients>();
  /** True once an update has been applied (the losses then describe the pre-update model). */
  updated = false;

  constructor(init: StepContextInit) {
    this.step = init.step;
    this.epoch = init.epoch;
    this.model = init.model;
    this.tasks = init.tasks;
    this.batch = init.batch;
    this.optimizer = init.optimizer;
    this.random = init.random;
    this.frozen = init.frozen ?? new Set();
    this.gradientWorkers = init.gradientWorkers;
  }

  get computedLosses(): readonly number[] | undefined {
    return this.cachedLosses;
  }

  losses(): readonly number[] {
    this.cachedLosses ??= this.evaluateLosses();
    return this.cachedLosses;
  }

  evaluateLosses(): readonly number[] {
    const values = tf.tidy(() => {
      const outputs = this.model.forward(this.batch.x);
      return tf.stack(this.tasks.map((t) => t.loss(outputs[t.name]!, targetOf(this.batch, t))));
    });
    const losses = Array.from(values.dataSync());
    values.dispose();
    this.assertFinite(losses);
    return losses;
  }

  lookahead<T>(values: ReadonlyMap<string, tf.Tensor>, fn: () => T): T {
    const touched = this.model.parameters.filter((p) => values.has(p.key));
    const saved = ParamSnapshot.capture(touched);
    try {
      tf.tidy(() => touched.forEach((p) => p.variable.assign(values.get(p.key)!)));
      return fn();
    } finally {
      saved.restore(touched);
      saved.dispose();
    }
  }

  taskGradients(space: GradientSpace = 'parameters'): TaskGradients {
    let cached = this.gradientCache.get(space);
    if (!cached) {
      // Representation space stays serial: its trunk pass is shared by all tasks, only the heads differ.
      cached =
        space === 'parameters' && this.gradientWorkers
          ? this.gradientWorkers.compute(this.model, this.tasks, this.batch)
          : computeTaskGradients(this.model, this.tasks, this.batch, space);
      this.gradientCache.set(space, cached);
      this.recordLosses(cached.losses);
    }
    return cached;
  }

  weightedLossGradients(weights: readonly number[]): Map<string, tf.Tensor> {
    if (weights.length !== this.tasks.length) {
      throw new MtlError('SHAPE_MISMATCH', `${weights.length} weights for ${this.tasks.length} tasks`, { expected: this.tasks.length, actual: weights.length });
    }
    const params = this.model.parameters;
    let taskLosses: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      const outputs = this.model.forward(this.batch.x);
      taskLosses = tf.keep(tf.stack(this.tasks.map((t) => t.loss(outputs[t.name]!, targetOf(this.batch, t)))));
      return tf.sum<tf.Scalar>(tf.mul(taskLosses, tf.tensor1d(weights as number[])));
    }, params.map((p) => p.variable));
    this.recordLosses(taskLosses!);
    taskLosses!.dispose();
    return gradsByKey(params, grads);
  }

  gradientsFromDirection(direction: tf.Tensor1D | Float32Array | Float64Array, options: { space?: GradientSpace; headWeights?: readonly number[] } = {}): Map<string, tf.Tensor> {
    const gradients = this.taskGradients(options.space ?? 'parameters');
    const vector = direction instanceof tf.Tensor ? direction : tf.tensor1d(direction instanceof Float32Array ? direction : Float32Array.from(direction));
    const out = sharedGradientsFromDirection(this.model, this.batch, gradients, vector);
    this.tasks.forEach((task, t) => {
      const weight = options.headWeights?.[t] ?? 1;
      for (const [key, g] of gradients.taskSpecific.get(task.name)!) out.set(key, weight === 1 ? g : tf.mul(g, weight));
    });
    return out;
  }

  applyGradients(grads: ReadonlyMap<string, tf.Tensor>, options: { parameters?: readonly Parameter[]; lrScale?: number } = {}): void {
    const params = (options.parameters ?? this.model.parameters).filter((p) => !this.frozen.has(p.key));
    assertFiniteGradients(grads, params, this.step);
    this.optimizer.apply(params, grads, options.lrScale === undefined ? {} : { lrScale: options.lrScale });
    this.updated = true;
  }

  private recordLosses(values: tf.Tensor): void {
    if (this.cachedLosses) return;
    const losses = Array.from(values.dataSync());
    this.assertFinite(losses);
    this.cachedLosses = losses;
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

/** One scalar sync on the happy path; names the first bad parameter when something is off. */
function assertFiniteGradients(grads: ReadonlyMap<string, tf.Tensor>, params: readonly Parameter[], step: number): void {
  const present = params.filter((p) => grads.has(p.key));
  if (present.length === 0) return;
  const total = tf.tidy(() => tf.addN(present.map((p) => tf.sum(tf.abs(grads.get(p.key)!)))).dataSync()[0]!);
  if (Number.isFinite(total)) return;
  const bad = present.find((p) => !Number.isFinite(tf.tidy(() => tf.sum(tf.abs(grads.get(p.key)!)).dataSync()[0]!)));
  throw new MtlError('NON_FINITE_GRADIENT', `gradient of parameter "${bad?.key ?? '?'}" is not finite at step ${step}; no update was applied`, {
    parameter: bad?.key,
    task: bad?.task,
    step,
  });
}
