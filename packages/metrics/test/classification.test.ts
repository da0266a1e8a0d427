import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBestBackend } from '@mtl/core';
import { accuracy, argmaxLabels, binaryF1, errorRate, macroF1 } from '../src/index.js';
import { code } from './helpers.js';

beforeAll(async () => {
  await useBestBackend();
});

describe('accuracy and error', () => {
  it('counts matching labels', () => {
    // 3 of 5 right.
    expect(accuracy([0, 1, 2, 1, 0], [0, 1, 1, 1, 2])).toBeCloseTo(0.6, 12);
    expect(errorRate(Int32Array.from([0, 1, 2, 1, 0]), [0, 1, 1, 1, 2])).toBeCloseTo(0.4, 12);
  });

  it('reads tensors without leaking', () => {
    const p = tf.tensor1d([1, 1, 0, 0], 'int32');
    const t = tf.tensor1d([1, 0, 0, 0], 'int32');
    const before = tf.memory().numTensors;
    expect(accuracy(p, t)).toBe(0.75);
    expect(tf.memory().numTensors).toBe(before);
    p.dispose();
    t.dispose();
  });

  it('takes labels from score rows', () => {
    expect(Array.from(argmaxLabels([0.1, 0.9, 0.3, 2, -1, 0], 3))).toEqual([1, 0]);
    const logits = tf.tensor2d([
      [0, 5],
      [3, 1],
      [2, 2],
    ]);
    expect(Array.from(argmaxLabels(logits))).toEqual([1, 0, 0]);
    logits.dispose();
  });

  it('rejects bad input with typed errors', () => {
    expect(code(() => accuracy([0, 1], [0]))).toBe('SHAPE_MISMATCH');
    expect(code(() => accuracy([], []))).toBe('EMPTY_DATA');
    expect(code(() => accuracy([0.5], [0]))).toBe('INVALID_DATA');
    expect(code(() => accuracy([NaN], [0]))).toBe('INVALID_DATA');
    expect(code(() => argmaxLabels([1, 2, 3], 2))).toBe('SHAPE_MISMATCH');
    expect(code(() => argmaxLabels([1, 2, 3]))).toBe('INVALID_OPTION');
    expect(() => accuracy([0, -1], [0, 1])).toThrow(/prediction\[1\] = -1/);
  });
});

describe('F1', () => {
  it('binary F1 from hand-counted TP/FP/FN', () => {
    // pred 1 1 0 1 0 0, target 1 0 0 1 1 0: TP=2, FP=1, FN=1 → 2·2/(4+1+1) = 2/3.
    expect(binaryF1([1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 1, 0])).toBeCloseTo(2 / 3, 12);
    // Positive = 0 on pred 1 1 0 1 0 1: TP=1 (idx 2), FP=1 (idx 4), FN=2 (idx 1, 5) → 2/5.
    expect(binaryF1([1, 1, 0, 1, 0, 1], [1, 0, 0, 1, 1, 0], { positive: 0 })).toBeCloseTo(2 / 5, 12);
  });

  it('binary F1 with no positives anywhere uses zeroDivision', () => {
    expect(binaryF1([0, 0], [0, 0])).toBe(0);
    expect(binaryF1([0, 0], [0, 0], { zeroDivision: 1 })).toBe(1);
    expect(code(() => binaryF1([0], [0], { zeroDivision: 2 }))).toBe('INVALID_OPTION');
  });

  it('macro F1 averages per-class F1', () => {
    // pred 0 0 1 2 2 1, target 0 1 1 2 0 1:
    // class 0: TP1 FP1 FN1 → 0.5; class 1: TP2 FP0 FN1 → 0.8; class 2: TP1 FP1 FN0 → 2/3.
    const expected = (0.5 + 0.8 + 2 / 3) / 3;
    expect(macroF1([0, 0, 1, 2, 2, 1], [0, 1, 1, 2, 0, 1])).toBeCloseTo(expected, 12);
    // Class 3 never occurs: left out of the mean.
    expect(macroF1([0, 0, 1, 2, 2, 1], [0, 1, 1, 2, 0, 1], { classes: 4 })).toBeCloseTo(expected, 12);
    expect(code(() => macroF1([0, 5], [0, 1], { classes: 4 }))).toBe('INVALID_DATA');
  });
});
