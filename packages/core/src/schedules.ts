import { tf } from './tf.js';
import { MtlError, invalidOption, requireFiniteNumber, requireNonNegativeInteger, requirePositiveInteger } from './errors.js';

/**
 * A learning-rate schedule as plain JSON data (it is stored in checkpoints with the optimizer's
 * config). `t` is the optimizer's schedule step: the number of training steps taken so far (the
 * trainer advances it once per step, see `Optimizer.advanceSchedule`). `lr(t) = base · factor(t)`:
 * - `step`: `gamma^⌊t / stepSize⌋` (PyTorch `StepLR` counted in steps);
 * - `exponential`: `gamma^t` (PyTorch `ExponentialLR` counted in steps);
 * - `cosine`: linear warm-up `(t + 1) / warmupSteps` for `t < warmupSteps`, then
 *   `min + (base − min) · ½ (1 + cos(π (t − warmupSteps) / (totalSteps − warmupSteps)))` until
 *   `totalSteps`, then `min` (`minLearningRate`, an absolute rate).
 */
export type LearningRateSchedule =
  | { readonly kind: 'step'; readonly stepSize: number; readonly gamma: number }
  | { readonly kind: 'exponential'; readonly gamma: number }
  | { readonly kind: 'cosine'; readonly totalSteps: number; readonly warmupSteps?: number; readonly minLearningRate?: number };

/** Multiplies the learning rate by `gamma` (default 0.1) every `stepSize` steps: `stepDecay({ stepSize, gamma })` or `stepDecay(stepSize, gamma)`. */
export function stepDecay(options: { stepSize: number; gamma?: number } | number, gamma?: number): LearningRateSchedule {
  const o = typeof options === 'number' ? { stepSize: options, gamma } : options;
  checkFactoryKeys('stepDecay', o, ['stepSize', 'gamma']);
  return validateSchedule({ kind: 'step', stepSize: o.stepSize, gamma: o.gamma ?? 0.1 });
}

/** Multiplies the learning rate by `gamma` every step: `exponentialDecay({ gamma })` or `exponentialDecay(gamma)`. */
export function exponentialDecay(options: { gamma: number } | number): LearningRateSchedule {
  const o = typeof options === 'number' ? { gamma: options } : options;
  checkFactoryKeys('exponentialDecay', o, ['gamma']);
  return validateSchedule({ kind: 'exponential', gamma: o.gamma });
}

/**
 * Cosine decay from the base rate to `minLearningRate` (default 0) over `totalSteps`, after
 * `warmupSteps` (default 0) of linear warm-up: `cosineDecay({ totalSteps, warmupSteps?, minLearningRate? })`
 * or `cosineDecay(totalSteps, { warmupSteps?, minLearningRate? })`.
 */
export function cosineDecay(
  options: { totalSteps: number; warmupSteps?: number; minLearningRate?: number } | number,
  rest: { warmupSteps?: number; minLearningRate?: number } = {},
): LearningRateSchedule {
  const o = typeof options === 'number' ? { ...rest, totalSteps: options } : options;
  checkFactoryKeys('cosineDecay', o, ['totalSteps', 'warmupSteps', 'minLearningRate']);
  return validateSchedule({ kind: 'cosine', totalSteps: o.totalSteps, warmupSteps: o.warmupSteps ?? 0, minLearningRate: o.minLearningRate ?? 0 });
}

function checkFactoryKeys(factory: string, options: object, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') invalidOption(factory, options, 'an options object');
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) invalidOption(`${factory}.${key}`, (options as Record<string, unknown>)[key], `one of ${known.join(', ')}`);
  }
}

/** The learning rate of schedule step `t` for base rate `base`. */
export function scheduledLearningRate(base: number, schedule: LearningRateSchedule | undefined, t: number): number {
  if (!schedule) return base;
  switch (schedule.kind) {
    case 'step':
      return base * schedule.gamma ** Math.floor(t / schedule.stepSize);
    case 'exponential':
      return base * schedule.gamma ** t;
    case 'cosine': {
      const warmup = schedule.warmupSteps ?? 0;
      const min = schedule.minLearningRate ?? 0;
      if (t < warmup) return (base * (t + 1)) / warmup;
      if (t >= schedule.totalSteps) return min;
      const progress = (t - warmup) / (schedule.totalSteps - warmup);
      return min + (base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
    }
  }
}

const SCHEDULE_KEYS: Record<LearningRateSchedule['kind'], readonly string[]> = {
  step: ['kind', 'stepSize', 'gamma'],
  exponential: ['kind', 'gamma'],
  cosine: ['kind', 'totalSteps', 'warmupSteps', 'minLearningRate'],
};

/** Checks a schedule (kind, ranges, no unknown keys); returns it. */
export function validateSchedule(schedule: LearningRateSchedule, option = 'optimizer.schedule'): LearningRateSchedule {
  const kind = (schedule as { kind?: unknown } | undefined)?.kind;
  if (typeof kind !== 'string' || !(kind in SCHEDULE_KEYS)) invalidOption(`${option}.kind`, kind, '"step", "exponential" or "cosine"');
  for (const key of Object.keys(schedule)) {
    if (!SCHEDULE_KEYS[schedule.kind].includes(key)) invalidOption(`${option}.${key}`, (schedule as unknown as Record<string, unknown>)[key], `one of the keys of a "${kind}" schedule (${SCHEDULE_KEYS[schedule.kind].join(', ')})`);
  }
  switch (schedule.kind) {
    case 'step':
      requirePositiveInteger(`${option}.stepSize`, schedule.stepSize);
      requireFiniteNumber(`${option}.gamma`, schedule.gamma, { min: 0, max: 1 });
      break;
    case 'exponential':
      requireFiniteNumber(`${option}.gamma`, schedule.gamma, { min: 0, max: 1 });
      break;
    case 'cosine': {
      requirePositiveInteger(`${option}.totalSteps`, schedule.totalSteps);
      const warmup = requireNonNegativeInteger(`${option}.warmupSteps`, schedule.warmupSteps ?? 0);
      if (warmup >= schedule.totalSteps) invalidOption(`${option}.warmupSteps`, warmup, `fewer than totalSteps (${schedule.totalSteps})`);
      requireFiniteNumber(`${option}.minLearningRate`, schedule.minLearningRate ?? 0, { min: 0 });
      break;
    }
  }
  return schedule;
}

/**
 * Scales gradients so that their global L2 norm (over all tensors together) is at most `maxNorm`,
 * as PyTorch's `clip_grad_norm_`: factor `min(1, maxNorm / (norm + 1e-6))`. Returns new tensors
 * (the same ones when no scaling was needed) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  requireFiniteNumber('maxNorm', maxNorm, { min: 0 });
  if (grads.size === 0) return { grads: new Map(grads), norm: 0 };
  const norm = tf.tidy(() => Math.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
  if (!Number.isFinite(norm)) throw new MtlError('NON_FINITE_GRADIENT', `the gradients' global norm is ${norm}; cannot clip`, { norm });
  const factor = Math.min(1, maxNorm / (norm + 1e-6));
  if (factor === 1) return { grads: new Map(grads), norm };
  return { grads: new Map([...grads].map(([key, g]) => [key, tf.mul(g, factor)])), norm };
}
