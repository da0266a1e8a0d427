import { MtlError } from '@mtl/core';
import { toPair, type NumericInput } from './numeric-input.js';

/** Mean squared error. */
export function meanSquaredError(prediction: NumericInput, target: NumericInput): number {
  const [p, t] = toPair(prediction, target);
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += (p[i]! - t[i]!) ** 2;
  return sum / p.length;
}

/** Root mean squared error. */
export function rootMeanSquaredError(prediction: NumericInput, target: NumericInput): number {
  return Math.sqrt(meanSquaredError(prediction, target));
}

/** Mean absolute error; the "abs err" of depth estimation benchmarks (NYUv2). */
export function meanAbsoluteError(prediction: NumericInput, target: NumericInput): number {
  const [p, t] = toPair(prediction, target);
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += Math.abs(p[i]! - t[i]!);
  return sum / p.length;
}

export interface RelativeErrorOptions {
  /**
   * Skip entries whose target is 0 (depth benchmarks mark missing depth with 0). Default false:
   * a zero target is an INVALID_DATA error.
   */
  readonly ignoreZeroTargets?: boolean;
}

/** Mean relative absolute error, mean of |p − t| / |t|; the "rel err" of depth estimation. */
export function meanRelativeError(prediction: NumericInput, target: NumericInput, options: RelativeErrorOptions = {}): number {
  const [p, t] = toPair(prediction, target);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < p.length; i++) {
    const ti = t[i]!;
    if (ti === 0) {
      if (options.ignoreZeroTargets) continue;
      throw new MtlError('INVALID_DATA', `target[${i}] is 0, so the relative error is undefined (set ignoreZeroTargets to skip such entries)`, { index: i });
    }
    sum += Math.abs(p[i]! - ti) / Math.abs(ti);
    count++;
  }
  if (count === 0) throw new MtlError('EMPTY_DATA', 'every target is 0; no relative error to average', {});
  return sum / count;
}
