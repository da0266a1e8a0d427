import { invalidOption, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import { toLabelPair, type NumericInput } from './numeric-input.js';

export interface BinaryF1Options {
  /** The label counted as positive. Default 1. */
  readonly positive?: number;
  /** F1 to report when there are no true and no predicted positives (2TP+FP+FN = 0). Default 0, as scikit-learn. */
  readonly zeroDivision?: number;
}

/** Counts of one class treated as positive. */
export interface ClassCounts {
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
}

/** True/false positives and false negatives of `positive` among integer labels. */
export function classCounts(predicted: ArrayLike<number>, target: ArrayLike<number>, positive: number): ClassCounts {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < predicted.length; i++) {
    const p = predicted[i] === positive;
    const t = target[i] === positive;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { truePositives: tp, falsePositives: fp, falseNegatives: fn };
}

/** F1 = 2TP / (2TP + FP + FN) from class counts; `undefined` when the denominator is 0. */
export function f1FromCounts(counts: ClassCounts): number | undefined {
  const denominator = 2 * counts.truePositives + counts.falsePositives + counts.falseNegatives;
  return denominator === 0 ? undefined : (2 * counts.truePositives) / denominator;
}

/** Binary F1 score of the positive label (harmonic mean of precision and recall). */
export function binaryF1(predicted: NumericInput, target: NumericInput, options: BinaryF1Options = {}): number {
  const positive = requireNonNegativeInteger('positive', options.positive ?? 1);
  const zeroDivision = options.zeroDivision ?? 0;
  if (!Number.isFinite(zeroDivision) || zeroDivision < 0 || zeroDivision > 1) invalidOption('zeroDivision', zeroDivision, 'a number in [0, 1]');
  const [p, t] = toLabelPair(predicted, target);
  return f1FromCounts(classCounts(p, t, positive)) ?? zeroDivision;
}

export interface MacroF1Options {
  /**
   * Number of classes; labels must lie in [0, classes). Classes that neither occur in the target
   * nor are predicted have no F1 and are left out of the mean (scikit-learn's default label set).
   */
  readonly classes?: number;
}

/** Unweighted mean over classes of each class's one-vs-rest F1. */
export function macroF1(predicted: NumericInput, target: NumericInput, options: MacroF1Options = {}): number {
  const classes = options.classes === undefined ? undefined : requirePositiveInteger('classes', options.classes);
  const [p, t] = toLabelPair(predicted, target, classes);
  const present = new Set<number>([...p, ...t]);
  let sum = 0;
  let count = 0;
  for (const c of present) {
    const f1 = f1FromCounts(classCounts(p, t, c));
    if (f1 !== undefined) {
      sum += f1;
      count++;
    }
  }
  return sum / count;
}
