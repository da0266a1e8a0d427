import { tf } from './tf.js';
import { MtlError, invalidOption, requireFiniteNumber, requireNonNegativeInteger } from './errors.js';
import { ParamSnapshot, type Parameter } from './parameters.js';
import { clipByGlobalNorm, scheduledLearningRate, validateSchedule, type LearningRateSchedule } from './schedules.js';

/** Options every optimizer kind takes. */
export interface OptimizerCommonConfig {
  /** The base learning rate (the schedule's rate at step 0). */
  readonly learningRate: number;
  /** L2 penalty added to the gradient (PyTorch's `weight_decay`, after clipping). */
  readonly weightDecay?: number;
  /** Learning-rate schedule over the optimizer's schedule steps (see {@link LearningRateSchedule}). */
  readonly schedule?: LearningRateSchedule;
  /** Clip the gradients of each `apply` call to this global L2 norm first (PyTorch `clip_grad_norm_`). */
  readonly clipNorm?: number;
}

export type OptimizerConfig =
  | (OptimizerCommonConfig & { readonly kind: 'sgd' })
  | (OptimizerCommonConfig & { readonly kind: 'momentum'; readonly momentum?: number; readonly nesterov?: boolean })
  | (OptimizerCommonConfig & { readonly kind: 'adam'; readonly beta1?: number; readonly beta2?: number; readonly epsilon?: number });

/** Optimizer state as owned tensors plus per-parameter step counts; restorable and mergeable. */
export interface OptimizerSnapshot {
  readonly config: OptimizerConfig;
  /** Slots keyed `${parameterKey}::${slotName}`. */
  readonly slots: ParamSnapshot;
  readonly steps: Readonly<Record<string, number>>;
  /** The schedule step (training steps taken); when absent, `restore` keeps the optimizer's own. */
  readonly scheduleStep?: number;
  /** The base learning rate (it may have been changed with the `learningRate` setter). */
  readonly baseLearningRate?: number;
}

interface Slots {
  readonly m?: tf.Tensor | undefined;
  readonly v?: tf.Tensor | undefined;
}

/**
 * SGD, momentum SGD and Adam with **per-parameter** state and step counts (PyTorch conventions).
 * Updating a subset of parameters moves exactly that subset: the other parameters and their
 * moments stay put, which selective group updates need (tfjs's own optimizers index state by the
 * position of a gradient in the list and share one step counter). {@link preview} computes the
 * values a step would produce without changing anything, for lookahead methods.
 */
export class Optimizer {
  readonly config: OptimizerConfig;
  private readonly slots = new Map<string, Map<string, tf.Variable>>();
  private readonly steps = new Map<string, number>();
  private lr: number;
  private scheduleT = 0;

  constructor(config: OptimizerConfig) {
    this.config = validateConfig(config);
    this.lr = config.learningRate;
  }

  /** The learning rate the next step uses: the base rate under the schedule at {@link scheduleStep}. */
  get learningRate(): number {
    return scheduledLearningRate(this.lr, this.config.schedule, this.scheduleT);
  }

  /** Sets the base learning rate (the schedule, if any, scales it). */
  set learningRate(value: number) {
    this.lr = requireFiniteNumber('learningRate', value, { min: 0 });
  }

  get baseLearningRate(): number {
    return this.lr;
  }

  /** Training steps taken so far, as the schedule counts them. */
  get scheduleStep(): number {
    return this.scheduleT;
  }

  /**
   * Moves the schedule on by `steps` (default 1). The trainer calls it once per training step (so
   * ForkMerge branches, driven by `runSteps`, follow their schedules too); a rule that owns another
   * optimizer (CoNAL's architecture optimizer) advances that one itself.
   */
  advanceSchedule(steps = 1): void {
    this.scheduleT += requireNonNegativeInteger('steps', steps);
  }

  /**
   * One step on the parameters that have a gradient in `grads` (matched by key); every other
   * parameter keeps its value and its state. `lrScales` multiplies `lrScale` per parameter key.
   */
  apply(params: readonly Parameter[], grads: ReadonlyMap<string, tf.Tensor>, options: { lrScale?: number; lrScales?: ReadonlyMap<string, number> } = {}): void {
    tf.tidy(() => {
      grads = this.clipped(params, grads);
      for (const p of params) {
        const grad = grads.get(p.key);
        if (!grad) continue;
        const step = (this.steps.get(p.key) ?? 0) + 1;
        const next = this.update(p, grad, step, (options.lrScale ?? 1) * (options.lrScales?.get(p.key) ?? 1));
        p.variable.assign(next.value);
        this.storeSlot(p.key, 'm', next.m);
        this.storeSlot(p.key, 'v', next.v);
        this.steps.set(p.key, step);
      }
    });
  }

  /** The values `apply` would give the parameters, as new tensors; nothing is modified. */
  preview(params: readonly Parameter[], grads: ReadonlyMap<string, tf.Tensor>, options: { lrScale?: number; lrScales?: ReadonlyMap<string, number> } = {}): Map<string, tf.Tensor> {
    const stepped = params.filter((p) => grads.has(p.key));
    const values = tf.tidy(() => {
      const clipped = this.clipped(stepped, grads);
      return stepped.map((p) => this.update(p, clipped.get(p.key)!, (this.steps.get(p.key) ?? 0) + 1, (options.lrScale ?? 1) * (options.lrScales?.get(p.key) ?? 1)).value);
    });
    return new Map(stepped.map((p, i) => [p.key, values[i]!]));
  }

  snapshot(): OptimizerSnapshot {
    const entries = new Map<string, tf.Tensor>();
    for (const [key, slots] of this.slots) {
      for (const [name, variable] of slots) entries.set(`${key}::${name}`, tf.clone(variable));
    }
    return { config: this.config, slots: ParamSnapshot.fromTensors(entries), steps: Object.fromEntries(this.steps), scheduleStep: this.scheduleT, baseLearningRate: this.lr };
  }

  /** Replaces all state with a copy of `snapshot` (the snapshot stays owned by the caller). */
  restore(snapshot: OptimizerSnapshot): void {
    if (snapshot.config.kind !== this.config.kind) {
      throw new MtlError('INVALID_OPTION', `cannot restore ${snapshot.config.kind} state into a ${this.config.kind} optimizer`, {
        expected: this.config.kind,
        actual: snapshot.config.kind,
      });
    }
    this.reset();
    for (const slotKey of snapshot.slots.keys) {
      const split = slotKey.lastIndexOf('::');
      this.storeSlot(slotKey.slice(0, split), slotKey.slice(split + 2), snapshot.slots.get(slotKey));
    }
    for (const [key, step] of Object.entries(snapshot.steps)) this.steps.set(key, step);
    // Snapshots that do not carry a schedule position (made elsewhere) leave this one's as it is.
    if (snapshot.scheduleStep !== undefined) this.scheduleT = requireNonNegativeInteger('snapshot.scheduleStep', snapshot.scheduleStep);
    if (snapshot.baseLearningRate !== undefined) this.learningRate = snapshot.baseLearningRate;
  }

  /**
   * Forgets the per-parameter state (moments, step counts), as if new. The schedule position is
   * training progress, not optimizer memory: it stays (an outer loop that resets its branches'
   * optimizers every round keeps following its schedule). {@link restore} sets it.
   */
  reset(): void {
    for (const slots of this.slots.values()) for (const v of slots.values()) v.dispose();
    this.slots.clear();
    this.steps.clear();
  }

  dispose(): void {
    this.reset();
  }

  /** The gradients of the parameters stepped, clipped together to `clipNorm` when it is set. */
  private clipped(params: readonly Parameter[], grads: ReadonlyMap<string, tf.Tensor>): ReadonlyMap<string, tf.Tensor> {
    if (this.config.clipNorm === undefined) return grads;
    const present = new Map(params.filter((p) => grads.has(p.key)).map((p) => [p.key, grads.get(p.key)!]));
    return clipByGlobalNorm(present, this.config.clipNorm).grads;
  }

  private update(p: Parameter, rawGrad: tf.Tensor, step: number, lrScale: number): { value: tf.Tensor } & Slots {
    const cfg = this.config;
    const lr = this.learningRate * lrScale;
    const theta = p.variable;
    const grad = cfg.weightDecay ? tf.add(rawGrad, tf.mul(theta, cfg.weightDecay)) : rawGrad;
    const slots = this.slots.get(p.key);
    switch (cfg.kind) {
      case 'sgd':
        return { value: tf.sub(theta, tf.mul(grad, lr)) };
      case 'momentum': {
        const mu = cfg.momentum ?? 0.9;
        const previous = slots?.get('m');
        const m = previous ? tf.add(tf.mul(previous, mu), grad) : grad;
        const direction = cfg.nesterov ? tf.add(grad, tf.mul(m, mu)) : m;
        return { value: tf.sub(theta, tf.mul(direction, lr)), m };
      }
      case 'adam': {
        const beta1 = cfg.beta1 ?? 0.9;
        const beta2 = cfg.beta2 ?? 0.999;
        const eps = cfg.epsilon ?? 1e-8;
        const prevM = slots?.get('m');
        const prevV = slots?.get('v');
        const m = tf.add(prevM ? tf.mul(prevM, beta1) : tf.zerosLike(grad), tf.mul(grad, 1 - beta1));
        const v = tf.add(prevV ? tf.mul(prevV, beta2) : tf.zerosLike(grad), tf.mul(tf.square(grad), 1 - beta2));
        const mHat = tf.div(m, 1 - beta1 ** step);
        const vHat = tf.div(v, 1 - beta2 ** step);
        const value = tf.sub(theta, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), eps)), lr));
        return { value, m, v };
      }
    }
  }

  private storeSlot(key: string, name: string, value: tf.Tensor | undefined): void {
    if (!value) return;
    let slots = this.slots.get(key);
    if (!slots) this.slots.set(key, (slots = new Map<string, tf.Variable>()));
    const existing = slots.get(name);
    if (existing) existing.assign(value);
    // The variable shares (ref-counts) the value's data: no copy, and nothing to leak.
    else slots.set(name, tf.variable(value, false));
  }
}

const COMMON_KEYS = ['kind', 'learningRate', 'weightDecay', 'schedule', 'clipNorm'];
const CONFIG_KEYS: Record<OptimizerConfig['kind'], readonly string[]> = {
  sgd: COMMON_KEYS,
  momentum: [...COMMON_KEYS, 'momentum', 'nesterov'],
  adam: [...COMMON_KEYS, 'beta1', 'beta2', 'epsilon'],
};

function validateConfig(config: OptimizerConfig): OptimizerConfig {
  if (!config || !['sgd', 'momentum', 'adam'].includes((config as { kind?: string }).kind ?? '')) {
    invalidOption('optimizer.kind', (config as { kind?: unknown } | undefined)?.kind, '"sgd", "momentum" or "adam"');
  }
  for (const [key, value] of Object.entries(config)) {
    // An explicit `undefined` is how optional settings are often passed along: not a typo.
    if (value !== undefined && !CONFIG_KEYS[config.kind].includes(key)) invalidOption(`optimizer.${key}`, value, `one of the settings of a "${config.kind}" optimizer (${CONFIG_KEYS[config.kind].join(', ')})`);
  }
  requireFiniteNumber('optimizer.learningRate', config.learningRate, { min: 0 });
  if (config.weightDecay !== undefined) requireFiniteNumber('optimizer.weightDecay', config.weightDecay, { min: 0 });
  if (config.schedule !== undefined) validateSchedule(config.schedule);
  if (config.clipNorm !== undefined) requireFiniteNumber('optimizer.clipNorm', config.clipNorm, { min: 0 });
  if (config.kind === 'momentum' && config.momentum !== undefined) {
    requireFiniteNumber('optimizer.momentum', config.momentum, { min: 0, max: 1 });
  }
  if (config.kind === 'adam') {
    if (config.beta1 !== undefined) requireFiniteNumber('optimizer.beta1', config.beta1, { min: 0, max: 0.999999 });
    if (config.beta2 !== undefined) requireFiniteNumber('optimizer.beta2', config.beta2, { min: 0, max: 0.99999999 });
    if (config.epsilon !== undefined) requireFiniteNumber('optimizer.epsilon', config.epsilon, { min: 0 });
  }
  return config;
}

type Extra = Omit<OptimizerCommonConfig, 'learningRate'>;
export const sgd = (learningRate: number, options: Extra = {}): Optimizer => new Optimizer({ ...options, kind: 'sgd', learningRate });
export const momentum = (learningRate: number, options: Extra & { momentum?: number; nesterov?: boolean } = {}): Optimizer =>
  new Optimizer({ ...options, kind: 'momentum', learningRate });
export const adam = (learningRate = 1e-3, options: Extra & { beta1?: number; beta2?: number; epsilon?: number } = {}): Optimizer =>
  new Optimizer({ ...options, kind: 'adam', learningRate });
