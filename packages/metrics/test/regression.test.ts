import { describe, expect, it } from 'vitest';
import { confusionMatrix, meanAbsoluteError, meanIoU, meanRelativeError, meanSquaredError, pixelAccuracy, rootMeanSquaredError } from '../src/index.js';
import { code } from './helpers.js';

describe('regression errors', () => {
  const p = [1, 2, 4, 0];
  const t = [2, 2, 1, 2]; // differences -1, 0, 3, -2
  it('MSE, RMSE, MAE', () => {
    expect(meanSquaredError(p, t)).toBeCloseTo(14 / 4, 12);
    expect(rootMeanSquaredError(p, t)).toBeCloseTo(Math.sqrt(3.5), 12);
    expect(meanAbsoluteError(Float32Array.from(p), t)).toBeCloseTo(6 / 4, 12);
  });

  it('relative error divides by |target|', () => {
    // |1-2|/2 + 0/2 + 3/1 + 2/2 = 0.5 + 0 + 3 + 1 = 4.5 → 1.125.
    expect(meanRelativeError(p, t)).toBeCloseTo(1.125, 12);
    // Zero targets: error, or skipped (|3-4|/4 = 0.25 only).
    expect(code(() => meanRelativeError([1, 3], [0, 4]))).toBe('INVALID_DATA');
    expect(meanRelativeError([1, 3], [0, 4], { ignoreZeroTargets: true })).toBeCloseTo(0.25, 12);
    expect(code(() => meanRelativeError([1], [0], { ignoreZeroTargets: true }))).toBe('EMPTY_DATA');
  });

  it('mismatched lengths are SHAPE_MISMATCH', () => {
    expect(code(() => meanSquaredError([1, 2], [1]))).toBe('SHAPE_MISMATCH');
    expect(code(() => meanAbsoluteError([1, Infinity], [1, 2]))).toBe('INVALID_DATA');
  });
});

describe('dense-task metrics', () => {
  // 8 pixels, 3 classes, 255 = ignore.
  const pred = [0, 0, 1, 1, 2, 2, 0, 1];
  const target = [0, 1, 1, 1, 2, 0, 255, 255];

  it('pixel accuracy skips ignored pixels', () => {
    // Scored pixels 0..5: right at 0, 2, 3, 4 → 4/6.
    expect(pixelAccuracy(pred, target, { classes: 3, ignoreIndex: 255 })).toBeCloseTo(4 / 6, 12);
  });

  it('mIoU from the confusion matrix', () => {
    // class 0: TP1, FP1 (pixel 1 predicted 0), FN1 (pixel 5) → 1/3
    // class 1: TP2, FP0, FN1 (pixel 1) → 2/3; class 2: TP1, FP1 (pixel 5), FN0 → 1/2.
    expect(meanIoU(pred, target, { classes: 3, ignoreIndex: 255 })).toBeCloseTo((1 / 3 + 2 / 3 + 1 / 2) / 3, 12);
    const m = confusionMatrix(pred, target, { classes: 3, ignoreIndex: 255 });
    expect(m.pixels).toBe(6);
    expect(Array.from(m.counts)).toEqual([1, 0, 1, 1, 2, 0, 0, 0, 1]);
  });

  it('a class absent from target and prediction is left out', () => {
    expect(meanIoU([0, 1], [0, 1], { classes: 5 })).toBe(1);
  });

  it('labels out of range and all-ignored input are typed errors', () => {
    expect(code(() => meanIoU([0, 3], [0, 1], { classes: 3 }))).toBe('INVALID_DATA');
    expect(() => meanIoU([0, 1], [0, 7], { classes: 3 })).toThrow(/target\[1\] = 7/);
    expect(code(() => pixelAccuracy([0], [255], { classes: 3, ignoreIndex: 255 }))).toBe('EMPTY_DATA');
    expect(code(() => pixelAccuracy([0], [0], { classes: 0 }))).toBe('INVALID_OPTION');
  });
});
