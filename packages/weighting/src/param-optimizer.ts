import { invalidOption, requireFiniteNumber } from '@mtl/core';

/** A tiny optimizer for a method's own few learnable numbers (UW's log-variances, GradNorm's weights). */
export interface ParamOptimizerOptions {
  /** 'adam' (default; LibMTL steps these with the model's optimizer, usually Adam) or 'sgd'. */
  readonly type?: 'adam' | 'sgd';
  /** Default 1e-3 (the trainer's default Adam learning rate). */
  readonly learningRate?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

/** JSON state of a {@link ParamOptimizerOptions} optimizer. */
export interface ParamOptimizerState {
  readonly t: number;
  readonly m: readonly number[];
  readonly v: readonly number[];
}

export interface ParamOptimizer {
  initialState(n: number): ParamOptimizerState;
  /** One step: returns the new parameters and optimizer state (inputs untouched). */
  step(params: readonly number[], grads: readonly number[], state: ParamOptimizerState): { params: number[]; state: ParamOptimizerState };
}

export function paramOptimizer(options: ParamOptimizerOptions = {}): ParamOptimizer {
  const type = options.type ?? 'adam';
  if (type !== 'adam' && type !== 'sgd') invalidOption('optimizer.type', type, "'adam' or 'sgd'");
  const lr = requireFiniteNumber('optimizer.learningRate', options.learningRate ?? 1e-3, { min: 0 });
  const b1 = requireFiniteNumber('optimizer.beta1', options.beta1 ?? 0.9, { min: 0, max: 1 });
  const b2 = requireFiniteNumber('optimizer.beta2', options.beta2 ?? 0.999, { min: 0, max: 1 });
  const eps = requireFiniteNumber('optimizer.epsilon', options.epsilon ?? 1e-8, { min: 0 });
  return {
    initialState: (n) => ({ t: 0, m: new Array<number>(n).fill(0), v: new Array<number>(n).fill(0) }),
    step(params, grads, state) {
      if (type === 'sgd') return { params: params.map((p, i) => p - lr * grads[i]!), state: { ...state, t: state.t + 1 } };
      const t = state.t + 1;
      const m = state.m.map((mi, i) => b1 * mi + (1 - b1) * grads[i]!);
      const v = state.v.map((vi, i) => b2 * vi + (1 - b2) * grads[i]! * grads[i]!);
      const c1 = 1 - Math.pow(b1, t);
      const c2 = 1 - Math.pow(b2, t);
      return { params: params.map((p, i) => p - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps)), state: { t, m, v } };
    },
  };
}
