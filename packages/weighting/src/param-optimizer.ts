import { invalidOption, isArray, requireFiniteNumber } from '@mtl/core/internal';
import type { TrainerOptimizer } from './types.js';

/**
 * How a method steps its own few learnable numbers (UW's log-variances, GradNorm's logits, IMTL-L's
 * scales): `'trainer'` (default) — with the trainer's optimizer, as LibMTL, whose weighting
 * parameters sit in the model's optimizer — or a private optimizer given here.
 */
export type ParamOptimizerChoice = 'trainer' | ParamOptimizerOptions;

/** A private optimizer for a method's own parameters. */
export interface ParamOptimizerOptions {
  /** 'adam' (default), 'sgd' or 'momentum'. */
  readonly type?: 'adam' | 'sgd' | 'momentum';
  /** Default 1e-3 (the trainer's default Adam learning rate). */
  readonly learningRate?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
  /** Momentum factor for 'momentum' (default 0.9). */
  readonly momentum?: number;
  readonly nesterov?: boolean;
  /** L2 penalty added to the gradient (PyTorch's `weight_decay`; default 0). */
  readonly weightDecay?: number;
}

/** JSON state of the optimizer of a method's own parameters (moments and the step count). */
export interface ParamOptimizerState {
  readonly t: number;
  readonly m: readonly number[];
  readonly v: readonly number[];
}

export interface ParamOptimizer {
  initialState(n: number): ParamOptimizerState;
  /**
   * One step: returns the new parameters and optimizer state (inputs untouched). `trainer` is the
   * trainer's optimizer of this step (used in 'trainer' mode; absent outside a trainer: Adam 1e-3).
   */
  step(params: readonly number[], grads: readonly number[], state: ParamOptimizerState, trainer?: TrainerOptimizer): { params: number[]; state: ParamOptimizerState };
}

const TRAINER_FALLBACK: TrainerOptimizer = { kind: 'adam', learningRate: 1e-3 };

/**
 * The optimizer of a method's own parameters. In 'trainer' mode it applies the trainer's update
 * rule with its current learning rate to these numbers, with the same formulas as core's
 * `Optimizer` (PyTorch's): per-parameter moments kept in the method's state, so the result is what
 * stepping them inside the trainer's optimizer gives, and it resumes from a checkpoint.
 */
export function paramOptimizer(choice: ParamOptimizerChoice | undefined = 'trainer'): ParamOptimizer {
  const fixed = choice === 'trainer' ? undefined : checkPrivate(choice);
  return {
    initialState: (n) => ({ t: 0, m: new Array<number>(n).fill(0), v: new Array<number>(n).fill(0) }),
    step(params, grads, state, trainer) {
      return applyStep(fixed ?? trainer ?? TRAINER_FALLBACK, params, grads, state);
    },
  };
}

function checkPrivate(options: ParamOptimizerOptions): TrainerOptimizer {
  if (typeof options !== 'object' || options === null || isArray(options)) invalidOption('optimizer', options, "'trainer' or { type?, learningRate?, ... }");
  const known = ['type', 'learningRate', 'beta1', 'beta2', 'epsilon', 'momentum', 'nesterov', 'weightDecay'];
  for (const key of Object.keys(options)) if (!known.includes(key)) invalidOption(`optimizer.${key}`, (options as Record<string, unknown>)[key], `one of the keys ${known.join(', ')}`);
  const kind = options.type ?? 'adam';
  if (kind !== 'adam' && kind !== 'sgd' && kind !== 'momentum') invalidOption('optimizer.type', kind, "'adam', 'sgd' or 'momentum'");
  if (options.nesterov !== undefined && typeof options.nesterov !== 'boolean') invalidOption('optimizer.nesterov', options.nesterov, 'a boolean');
  return {
    kind,
    learningRate: requireFiniteNumber('optimizer.learningRate', options.learningRate ?? 1e-3, { min: 0 }),
    beta1: requireFiniteNumber('optimizer.beta1', options.beta1 ?? 0.9, { min: 0, max: 1 }),
    beta2: requireFiniteNumber('optimizer.beta2', options.beta2 ?? 0.999, { min: 0, max: 1 }),
    epsilon: requireFiniteNumber('optimizer.epsilon', options.epsilon ?? 1e-8, { min: 0 }),
    momentum: requireFiniteNumber('optimizer.momentum', options.momentum ?? 0.9, { min: 0, max: 1 }),
    nesterov: options.nesterov ?? false,
    weightDecay: requireFiniteNumber('optimizer.weightDecay', options.weightDecay ?? 0, { min: 0 }),
  };
}

/** One step of SGD / momentum / Adam on plain numbers, core's `Optimizer` formulas. */
function applyStep(o: TrainerOptimizer, params: readonly number[], rawGrads: readonly number[], state: ParamOptimizerState): { params: number[]; state: ParamOptimizerState } {
  const lr = o.learningRate;
  const wd = o.weightDecay ?? 0;
  const grads = wd ? rawGrads.map((g, i) => g + wd * params[i]!) : rawGrads;
  const t = state.t + 1;
  if (o.kind === 'sgd') return { params: params.map((p, i) => p - lr * grads[i]!), state: { ...state, t } };
  if (o.kind === 'momentum') {
    const mu = o.momentum ?? 0.9;
    // core (PyTorch): the first buffer is the gradient itself.
    const m = grads.map((g, i) => (state.t === 0 ? g : state.m[i]! * mu + g));
    const direction = o.nesterov ? grads.map((g, i) => g + m[i]! * mu) : m;
    return { params: params.map((p, i) => p - lr * direction[i]!), state: { t, m, v: state.v } };
  }
  const b1 = o.beta1 ?? 0.9;
  const b2 = o.beta2 ?? 0.999;
  const eps = o.epsilon ?? 1e-8;
  const m = state.m.map((mi, i) => b1 * mi + (1 - b1) * grads[i]!);
  const v = state.v.map((vi, i) => b2 * vi + (1 - b2) * grads[i]! * grads[i]!);
  const c1 = 1 - Math.pow(b1, t);
  const c2 = 1 - Math.pow(b2, t);
  return { params: params.map((p, i) => p - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps)), state: { t, m, v } };
}
