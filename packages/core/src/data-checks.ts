/** Scans of gathered values, for the trainer and dataset validation (not part of the public API). */
import { MtlError } from './errors.js';

/** Index of the first NaN or ±Infinity in `values`, or -1. */
export function findNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** INVALID_DATA naming the example whose input holds a non-finite value. */
export function nonFiniteInput(what: string, example: number, value: number): MtlError {
  return new MtlError('INVALID_DATA', `${what}: the input of example ${example} holds ${value}`, { what, field: 'x', example, value });
}
