import { MtlError, tf } from '@mtl/core';
import { requirePositiveInteger } from '@mtl/core/internal';
import { toLabelPair, toNumbers, type NumericInput } from './numeric-input.js';

/** Fraction of predicted labels equal to the target labels, in [0, 1]. */
export function accuracy(predicted: NumericInput, target: NumericInput): number {
  const [p, t] = toLabelPair(predicted, target);
  let correct = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === t[i]) correct++;
  return correct / p.length;
}

/** Classification error: `1 − accuracy`. */
export function errorRate(predicted: NumericInput, target: NumericInput): number {
  return 1 - accuracy(predicted, target);
}

/**
 * Labels from per-class scores (logits or probabilities) stored row-major, `classes` numbers per
 * example: the index of each row's maximum (the first one on ties). A rank-2 tensor gives its own
 * number of classes.
 */
export function argmaxLabels(scores: NumericInput, classes?: number): Int32Array {
  const k = classesOf(scores, classes, 'argmaxLabels');
  const values = toNumbers(scores, 'scores');
  if (values.length === 0) throw new MtlError('EMPTY_DATA', 'scores are empty', {});
  if (values.length % k !== 0) {
    throw new MtlError('SHAPE_MISMATCH', `scores have ${values.length} numbers, not a multiple of ${k} classes`, { length: values.length, classes: k });
  }
  const n = values.length / k;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (values[i * k + c]! > values[i * k + best]!) best = c;
    labels[i] = best;
  }
  return labels;
}

/** The class count of a score matrix: given, or the last dimension of a rank-2 tensor. */
export function classesOf(scores: NumericInput, classes: number | undefined, what: string): number {
  if (classes !== undefined) return requirePositiveInteger(`${what}.classes`, classes);
  if (scores instanceof tf.Tensor && scores.rank === 2) return scores.shape[1]!;
  throw new MtlError('INVALID_OPTION', `${what} needs "classes" unless the scores are a rank-2 tensor`, { option: 'classes' });
}
