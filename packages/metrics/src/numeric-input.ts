import { MtlError, tf } from '@mtl/core';

/** Numbers a metric accepts: a plain array, any typed array, or a tfjs tensor (read synchronously). */
export type NumericInput = readonly number[] | Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array | Int16Array | Uint32Array | Int8Array | tf.Tensor;

/**
 * Copies an input into float64 numbers, checking every value is finite. Tensors are read with
 * `dataSync`, which creates no tensors, so a metric never leaks.
 */
export function toNumbers(input: NumericInput, what: string): Float64Array {
  let values: Float64Array;
  if (input instanceof tf.Tensor) {
    if (input.isDisposed) throw new MtlError('DISPOSED', `${what} is a disposed tensor`, { what });
    values = Float64Array.from(input.dataSync());
  } else if (Array.isArray(input) || ArrayBuffer.isView(input)) {
    values = Float64Array.from(input as ArrayLike<number>);
  } else {
    throw new MtlError('INVALID_DATA', `${what} must be an array of numbers, a typed array or a tensor`, { what });
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new MtlError('INVALID_DATA', `${what} has a non-finite value (${values[i]}) at index ${i}`, { what, index: i, value: values[i] });
    }
  }
  return values;
}

/** Reads a prediction/target pair: both non-empty and of the same length. */
export function toPair(prediction: NumericInput, target: NumericInput): [Float64Array, Float64Array] {
  const p = toNumbers(prediction, 'prediction');
  const t = toNumbers(target, 'target');
  if (p.length !== t.length) {
    throw new MtlError('SHAPE_MISMATCH', `prediction has ${p.length} values, target has ${t.length}`, { prediction: p.length, target: t.length });
  }
  if (p.length === 0) throw new MtlError('EMPTY_DATA', 'prediction and target are empty', {});
  return [p, t];
}

/** Reads integer class labels in [0, classes) (any integer ≥ 0 when `classes` is undefined). */
export function toLabels(input: NumericInput, what: string, classes?: number): Int32Array {
  const values = toNumbers(input, what);
  const labels = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || (classes !== undefined && v >= classes)) {
      const range = classes === undefined ? 'a non-negative integer' : `an integer in [0, ${classes})`;
      throw new MtlError('INVALID_DATA', `${what}[${i}] = ${v} is not ${range}`, { what, index: i, value: v });
    }
    labels[i] = v;
  }
  return labels;
}

/** Reads a pair of label arrays of equal, non-zero length. */
export function toLabelPair(prediction: NumericInput, target: NumericInput, classes?: number): [Int32Array, Int32Array] {
  const p = toLabels(prediction, 'prediction', classes);
  const t = toLabels(target, 'target', classes);
  if (p.length !== t.length) {
    throw new MtlError('SHAPE_MISMATCH', `prediction has ${p.length} labels, target has ${t.length}`, { prediction: p.length, target: t.length });
  }
  if (p.length === 0) throw new MtlError('EMPTY_DATA', 'prediction and target are empty', {});
  return [p, t];
}
