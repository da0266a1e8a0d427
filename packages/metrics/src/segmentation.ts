import { MtlError } from '@mtl/core';
import { requirePositiveInteger } from '@mtl/core/internal';
import { toNumbers, type NumericInput } from './numeric-input.js';

export interface SegmentationOptions {
  /** Number of classes; labels outside [0, classes) other than `ignoreIndex` are INVALID_DATA. */
  readonly classes: number;
  /** Target label of pixels to leave out (e.g. 255 or −1). Default: none. */
  readonly ignoreIndex?: number;
}

/** Per-pixel class confusion: `matrix[target * classes + predicted]` counts, ignoring `ignoreIndex` pixels. */
export interface ConfusionMatrix {
  readonly classes: number;
  readonly counts: Float64Array;
  readonly pixels: number;
}

/** Counts (target, predicted) label pairs over all pixels. */
export function confusionMatrix(predicted: NumericInput, target: NumericInput, options: SegmentationOptions): ConfusionMatrix {
  const classes = requirePositiveInteger('classes', options.classes);
  const p = toNumbers(predicted, 'prediction');
  const t = toNumbers(target, 'target');
  if (p.length !== t.length) {
    throw new MtlError('SHAPE_MISMATCH', `prediction has ${p.length} pixels, target has ${t.length}`, { prediction: p.length, target: t.length });
  }
  const counts = new Float64Array(classes * classes);
  let pixels = 0;
  for (let i = 0; i < p.length; i++) {
    const ti = t[i]!;
    if (ti === options.ignoreIndex) continue;
    checkLabel(ti, 'target', i, classes);
    checkLabel(p[i]!, 'prediction', i, classes);
    counts[ti * classes + p[i]!]! += 1;
    pixels++;
  }
  if (pixels === 0) throw new MtlError('EMPTY_DATA', 'no pixels left to score (all ignored or empty input)', {});
  return { classes, counts, pixels };
}

/** Fraction of scored pixels whose predicted label is right. */
export function pixelAccuracy(predicted: NumericInput, target: NumericInput, options: SegmentationOptions): number {
  const m = confusionMatrix(predicted, target, options);
  let correct = 0;
  for (let c = 0; c < m.classes; c++) correct += m.counts[c * m.classes + c]!;
  return correct / m.pixels;
}

/**
 * Mean intersection over union: per class TP / (TP + FP + FN), averaged over the classes that occur
 * in the target or the prediction (a class absent from both has no IoU and is skipped, as a nan-mean).
 */
export function meanIoU(predicted: NumericInput, target: NumericInput, options: SegmentationOptions): number {
  return iouFromConfusion(confusionMatrix(predicted, target, options)).mean;
}

/** Per-class IoU (`undefined` for absent classes) and their mean, from a confusion matrix. */
export function iouFromConfusion(m: ConfusionMatrix): { perClass: (number | undefined)[]; mean: number } {
  const k = m.classes;
  const perClass: (number | undefined)[] = [];
  let sum = 0;
  let count = 0;
  for (let c = 0; c < k; c++) {
    let rowSum = 0;
    let colSum = 0;
    for (let j = 0; j < k; j++) {
      rowSum += m.counts[c * k + j]!;
      colSum += m.counts[j * k + c]!;
    }
    const tp = m.counts[c * k + c]!;
    const union = rowSum + colSum - tp;
    if (union === 0) {
      perClass.push(undefined);
      continue;
    }
    perClass.push(tp / union);
    sum += tp / union;
    count++;
  }
  return { perClass, mean: sum / count };
}

function checkLabel(v: number, what: string, index: number, classes: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= classes) {
    throw new MtlError('INVALID_DATA', `${what}[${index}] = ${v} is not a class label in [0, ${classes})`, { what, index, value: v });
  }
}
