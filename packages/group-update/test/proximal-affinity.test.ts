import { describe, expect, it } from 'vitest';
import { groupingSimilarity, recordGroupStep, zeroAffinity } from '../src/proximal-affinity.js';
import { regroup } from '../src/regroup.js';
import { resolveOptions } from '../src/options.js';

describe('recordGroupStep: the inter- and intra-group rules', () => {
  it('group {0, 1}: losses 1 → 0.8, 1 → 1.2, 2 → 1 (β = 1)', () => {
    // |G| = 2: a_0 = (1 − 0.8)/2 = 0.1, a_1 = (1 − 1.2)/2 = −0.1, a_2 = (1 − 0.5)/2 = 0.25.
    const M = zeroAffinity(3);
    recordGroupStep(M, [0, 1], [1, 1, 2], [0.8, 1.2, 1], 1);
    expect(M[0]![0]).toBeCloseTo(0.1, 12); // self, a ≥ 0: recorded
    expect(M[0]![1]).toBeCloseTo(-0.1, 12); // signs differ: −max(a_1, a_0) = −max(−0.1, 0.1)
    expect(M[0]![2]).toBeCloseTo(0.25, 12); // inter-group
    expect(M[1]![0]).toBeCloseTo(-0.1, 12); // signs differ: −max(a_0, a_1) = −0.1
    expect(M[1]![1]).toBe(0); // self with a < 0: not recorded
    expect(M[1]![2]).toBeCloseTo(0.25, 12);
    expect(M[2]).toEqual([0, 0, 0]); // task 2 is not a source this step
  });

  it('decays with β and skips tasks without a positive previous loss', () => {
    const M = [
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ];
    recordGroupStep(M, [1], [0, 2, 4], [1, 1, 1], 0.5);
    // |G| = 1: a_1 = 0.5, a_2 = 0.75; task 0's loss before is 0: skipped.
    expect(M[1]).toEqual([1, 0.75, 0.875]);
    expect(M[0]).toEqual([1, 1, 1]);
    // Both signs negative within a group: a_t recorded (a_t · a_s ≥ 0).
    const N = zeroAffinity(2);
    recordGroupStep(N, [0, 1], [1, 1], [1.2, 1.4], 1);
    expect(N[0]![1]).toBeCloseTo(-0.2, 12);
    expect(N[1]![0]).toBeCloseTo(-0.1, 12);
    expect(N[0]![0]).toBe(0);
  });
});

describe('groupingSimilarity: columns divided by the diagonal, then symmetrised', () => {
  it('M = [[2, 1], [−1, 4]] → X = [[1, 0.25], [−0.5, 1]] → [[1, −0.125], [−0.125, 1]]', () => {
    expect(groupingSimilarity([
      [2, 1],
      [-1, 4],
    ])).toEqual([
      [1, -0.125],
      [-0.125, 1],
    ]);
  });

  it('is undefined while a task has no self-affinity', () => {
    expect(groupingSimilarity([
      [0, 1],
      [1, 1],
    ])).toBeUndefined();
  });
});

describe('regroup: the authors\' settings and retry rule', () => {
  const settings = resolveOptions({}).clustering;
  it('two positive blocks with negative cross affinity form two groups in exemplar order', () => {
    const M = [
      [1, 0.8, -0.5, -0.4],
      [0.9, 1, -0.6, -0.5],
      [-0.5, -0.4, 1, 0.7],
      [-0.3, -0.6, 0.8, 1],
    ];
    expect(regroup(M, [[0], [1], [2], [3]], settings, () => 0)).toEqual({ groups: [[0, 1], [2, 3]], regrouped: true });
  });

  it('keeps the previous groups when every attempt finds no exemplar', () => {
    // One iteration per attempt and a preference far below every similarity: never an exemplar
    // (see the affinityPropagation tests), so all 10 attempts fail.
    const M = [
      [1, 0.2, 0.1],
      [0.3, 1, 0.5],
      [0.1, 0.4, 1],
    ];
    const failing = { ...settings, maxIter: 1, preference: -100 };
    expect(regroup(M, [[2, 0], [1]], failing, () => 0)).toEqual({ groups: [[2, 0], [1]], regrouped: false });
    expect(regroup(zeroAffinity(3), [[0, 1, 2]], settings, () => 0)).toEqual({ groups: [[0, 1, 2]], regrouped: false });
  });
});
