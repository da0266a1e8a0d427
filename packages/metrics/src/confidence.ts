import { MtlError } from '@mtl/core';
import { classesOf } from './classification.js';
import { toNumbers, type NumericInput } from './numeric-input.js';

export interface ConfidenceOptions {
  /** Classes per example; taken from a rank-2 tensor's shape when omitted. */
  readonly classes?: number;
  /** Whether scores are `'logits'` (softmax applied here) or `'probabilities'` (rows must sum to 1). Default `'logits'`. */
  readonly from?: 'logits' | 'probabilities';
}

/** Mean over examples of the largest class probability, `E_x max_y f(x, y)`. */
export function meanMaxConfidence(scores: NumericInput, options: ConfidenceOptions = {}): number {
  const k = classesOf(scores, options.classes, 'meanMaxConfidence');
  const from = options.from ?? 'logits';
  if (from !== 'logits' && from !== 'probabilities') {
    throw new MtlError('INVALID_OPTION', `option "from" must be "logits" or "probabilities", got ${JSON.stringify(from)}`, { option: 'from', value: from });
  }
  const values = toNumbers(scores, 'scores');
  if (values.length === 0) throw new MtlError('EMPTY_DATA', 'scores are empty', {});
  if (values.length % k !== 0) throw new MtlError('SHAPE_MISMATCH', `scores have ${values.length} numbers, not a multiple of ${k} classes`, { length: values.length, classes: k });
  const n = values.length / k;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = values.subarray(i * k, (i + 1) * k);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    if (from === 'logits') {
      // max softmax = 1 / Σ exp(z_c − max z): stable for large logits.
      let denominator = 0;
      for (const v of row) denominator += Math.exp(v - max);
      total += 1 / denominator;
    } else {
      let sum = 0;
      for (const v of row) {
        if (v < 0 || v > 1) throw new MtlError('INVALID_DATA', `probability ${v} in example ${i} is outside [0, 1]`, { example: i, value: v });
        sum += v;
      }
      if (Math.abs(sum - 1) > 1e-3) throw new MtlError('INVALID_DATA', `probabilities of example ${i} sum to ${sum}, not 1`, { example: i, sum });
      total += max;
    }
  }
  return total / n;
}

/**
 * Confidence score discrepancy (ForkMerge Def. 3.5): `d(D, D') = 1 − E_{x∼D'} max_y f*_D(x, y)`,
 * the unconfidence on test data D' of a model trained on D. Pass the test-set scores of the
 * trained target-task model. Grows as the training distribution drifts from the test one.
 */
export function confidenceScoreDiscrepancy(testScores: NumericInput, options: ConfidenceOptions = {}): number {
  return 1 - meanMaxConfidence(testScores, options);
}
