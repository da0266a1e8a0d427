import { describe, expect, it } from 'vitest';
import { MtlError } from '@mtl/core';
import { noticeConflicts, noticeConflictsByModule } from '../src/index.js';

// Three tasks, three all-shared modules of sizes 2, 1, 2. Hand-made gradients.
const agreeing = [
  [[1, 0], [2], [1, 1]],
  [[1, 1], [1], [0, 1]],
  [[0, 2], [3], [1, 0]],
];

describe('conflict noticing (Eq. 5)', () => {
  it('keeps every module when no pair conflicts: the plain per-module sum', () => {
    const r = noticeConflictsByModule(agreeing);
    expect(r.kept).toEqual([true, true, true]);
    expect(r.firstConflict).toBe(-1);
    expect(r.moduleGradients.map((g) => Array.from(g))).toEqual([[2, 3], [6], [2, 2]]);
  });

  it('zeros the conflicting module and every later one, keeps the earlier ones', () => {
    // Tasks 0 and 2 conflict on module 1 only (2 * -1 < 0); module 2 agrees but comes later.
    const g = [
      [[1, 0], [2], [1, 1]],
      [[1, 1], [1], [0, 1]],
      [[0, 2], [-1], [1, 0]],
    ];
    const r = noticeConflictsByModule(g);
    expect(r.kept).toEqual([true, false, false]);
    expect(r.firstConflict).toBe(1);
    expect(r.moduleGradients.map((m) => Array.from(m))).toEqual([[2, 3], [0], [0, 0]]);
  });

  it('a conflict on the first module zeros all of them', () => {
    const g = [
      [[1, 0], [1], [1]],
      [[-1, 0.5], [1], [1]],
    ];
    const r = noticeConflictsByModule(g);
    expect(r.kept).toEqual([false, false, false]);
    expect(r.moduleGradients.map((m) => Array.from(m))).toEqual([[0, 0], [0], [0]]);
  });

  it('uses the sign of the cosine, not of individual entries (mixed signs with a positive dot are kept)', () => {
    // (3, -1)·(1, 2) = 1 > 0: not a conflict although entries differ in sign.
    const r = noticeConflictsByModule([[[3, -1]], [[1, 2]]]);
    expect(r.kept).toEqual([true]);
    expect(Array.from(r.moduleGradients[0]!)).toEqual([4, 1]);
  });

  it('a zero gradient (no direction) and an orthogonal pair count as non-conflicting', () => {
    const r = noticeConflictsByModule([[[0, 0], [1, 0]], [[5, -3], [0, 1]]]);
    expect(r.kept).toEqual([true, true]);
  });

  it('noticing: false is the released code: plain sums even when tasks conflict', () => {
    const r = noticeConflictsByModule([[[1], [1]], [[-2], [1]]], { noticing: false });
    expect(r.kept).toEqual([true, true]);
    expect(r.moduleGradients.map((m) => Array.from(m))).toEqual([[-1], [2]]);
  });

  it('on a Jacobian: names the first conflicting pair, leaves columns outside modules summed', () => {
    // columns: module A = [0,2), module B = [2,3), column 3 belongs to no module.
    const data = Float64Array.from([1, 1, 1, 5, /**/ 1, 1, -1, 7]);
    const r = noticeConflicts({ rows: 2, cols: 4, data }, [{ offset: 0, size: 2 }, { offset: 2, size: 1 }]);
    expect(r.firstConflict).toBe(1);
    expect(r.conflictingPair).toEqual([0, 1]);
    expect(Array.from(r.direction)).toEqual([2, 2, 0, 12]);
  });

  it('rejects ragged gradients and overlapping modules with SHAPE_MISMATCH', () => {
    expect(() => noticeConflictsByModule([[[1, 2]], [[1]]])).toThrow(MtlError);
    expect(() => noticeConflicts({ rows: 1, cols: 3, data: new Float64Array(3) }, [{ offset: 0, size: 2 }, { offset: 1, size: 2 }])).toThrow(/modules must be in order/);
  });
});
