import { beforeAll, describe, expect, it } from 'vitest';
import { tf, useBestBackend } from '@mtl/core';
import {
  confidenceScoreDiscrepancy,
  cosineSimilarity,
  formatAffinity,
  gradientCosineMatrix,
  meanMaxConfidence,
  normaliseAffinity,
  symmetriseAffinity,
} from '../src/index.js';
import { code } from './helpers.js';

beforeAll(async () => {
  await useBestBackend();
});

describe('gradient cosine similarity', () => {
  it('matches hand-computed angles', () => {
    // (1,0)·(1,1) / (1·√2) = 1/√2; (1,0) vs (−1,0) = −1 (conflict).
    expect(cosineSimilarity([1, 0], [1, 1])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(cosineSimilarity([1, 0], [-2, 0])).toBe(-1);
    // (3,4)·(4,−3) = 0: orthogonal.
    expect(cosineSimilarity(Float32Array.from([3, 4]), [4, -3])).toBeCloseTo(0, 12);
  });

  it('builds a symmetric matrix from tensors without leaking', () => {
    const g = [tf.tensor1d([1, 0]), tf.tensor1d([0, 2]), tf.tensor1d([1, 1])];
    const before = tf.memory().numTensors;
    const m = gradientCosineMatrix(g, ['a', 'b', 'c']);
    expect(tf.memory().numTensors).toBe(before);
    expect(m[0]![0]).toBe(1);
    expect(m[0]![1]).toBeCloseTo(0, 12);
    expect(m[1]![2]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(m[2]![1]).toBe(m[1]![2]);
    g.forEach((t) => t.dispose());
  });

  it('zero or mismatched gradients are typed errors naming the task', () => {
    expect(code(() => cosineSimilarity([0, 0], [1, 1]))).toBe('INVALID_DATA');
    expect(code(() => cosineSimilarity([1, 0, 0], [1, 1]))).toBe('SHAPE_MISMATCH');
    expect(() => gradientCosineMatrix([[1, 0], [0, 0]], ['left', 'right'])).toThrow(/task "right"/);
    expect(code(() => gradientCosineMatrix([]))).toBe('INVALID_OPTION');
  });
});

describe('confidence score discrepancy', () => {
  it('is one minus the mean max probability', () => {
    // Rows: max 0.7 and 0.5 → mean 0.6 → CSD 0.4.
    const probs = [0.7, 0.2, 0.1, 0.25, 0.5, 0.25];
    expect(meanMaxConfidence(probs, { classes: 3, from: 'probabilities' })).toBeCloseTo(0.6, 12);
    expect(confidenceScoreDiscrepancy(probs, { classes: 3, from: 'probabilities' })).toBeCloseTo(0.4, 12);
  });

  it('applies softmax to logits (also a rank-2 tensor)', () => {
    // Logits (0, ln 3): softmax (1/4, 3/4) → max 0.75; logits (0, 0): 0.5 → mean 0.625.
    const logits = tf.tensor2d([
      [0, Math.log(3)],
      [0, 0],
    ]);
    expect(confidenceScoreDiscrepancy(logits)).toBeCloseTo(0.375, 6);
    logits.dispose();
    // Huge logits stay finite.
    expect(meanMaxConfidence([1000, 0], { classes: 2 })).toBeCloseTo(1, 12);
  });

  it('rejects rows that are not probabilities', () => {
    expect(code(() => meanMaxConfidence([0.5, 0.6], { classes: 2, from: 'probabilities' }))).toBe('INVALID_DATA');
    expect(code(() => meanMaxConfidence([1.5, -0.5], { classes: 2, from: 'probabilities' }))).toBe('INVALID_DATA');
    expect(code(() => meanMaxConfidence([0.5, 0.5, 1], { classes: 2 }))).toBe('SHAPE_MISMATCH');
  });
});

describe('affinity matrix helpers', () => {
  const m = [
    [2, 1, -1],
    [4, 4, 0],
    [1, 3, 0.5],
  ];

  it('normalises each column by its diagonal', () => {
    // Column 0 / 2, column 1 / 4, column 2 / 0.5.
    expect(normaliseAffinity(m)).toEqual([
      [1, 0.25, -2],
      [2, 1, 0],
      [0.5, 0.75, 1],
    ]);
  });

  it('symmetrises as (M + Mᵀ)/2', () => {
    expect(symmetriseAffinity(m)).toEqual([
      [2, 2.5, 0],
      [2.5, 4, 1.5],
      [0, 1.5, 0.5],
    ]);
  });

  it('pretty-prints with task names', () => {
    const text = formatAffinity(
      [
        [1, -0.5],
        [0.25, 1],
      ],
      ['left', 'right'],
      { digits: 2 },
    );
    expect(text.split('\n')).toEqual(['source\\target   left  right', 'left            1.00  -0.50', 'right           0.25   1.00']);
  });

  it('ragged, non-finite or zero-diagonal matrices are typed errors', () => {
    expect(code(() => normaliseAffinity([[1, 2], [3]]))).toBe('SHAPE_MISMATCH');
    expect(code(() => symmetriseAffinity([[NaN]]))).toBe('INVALID_DATA');
    expect(() => normaliseAffinity([[0, 1], [1, 1]], ['a', 'b'])).toThrow(/task "a"/);
    expect(code(() => formatAffinity([[1]], ['a', 'b']))).toBe('SHAPE_MISMATCH');
    expect(code(() => formatAffinity([]))).toBe('EMPTY_DATA');
  });
});
