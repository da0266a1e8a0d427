import { beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom, sgd, tf, useBestBackend, type StepContext } from '@mtl/core';
import { createRule, mgda, sumOverBatch, toUpdateRule } from '../src/index.js';
import { expectClose, fromRows } from './helpers.js';

/** The part of a StepContext an aggregator rule touches, over a fixed representation Jacobian. */
function fakeContext(rows: number[][], batch: number): { ctx: StepContext; applied: () => number[] } {
  let direction: number[] = [];
  const ctx = {
    step: 0,
    epoch: 0,
    optimizer: sgd(0.1),
    random: new SeededRandom(1),
    tasks: rows.map((_, t) => ({ name: `t${t}` })),
    losses: () => rows.map(() => 1),
    taskGradients: () => ({ jacobian: tf.tensor2d(rows), representationShape: [batch, rows[0]!.length / batch] }),
    gradientsFromDirection: (d: Float32Array | Float64Array) => {
      direction = Array.from(d);
      return new Map();
    },
    applyGradients: () => undefined,
  } as unknown as StepContext;
  return { ctx, applied: () => direction };
}

describe("representation-space forms: per-sample (flattened) vs LibMTL's rep_grad (batch-summed)", () => {
  beforeAll(async () => {
    await useBestBackend();
  });
  // Task 0: samples (1, 0), (1, 0) → sum (2, 0); task 1: (0, 1), (0, 3) → sum (0, 4).
  const rows = [
    [1, 0, 1, 0],
    [0, 1, 0, 3],
  ];
  it('sumOverBatch adds the samples feature by feature', () => {
    expect(Array.from(sumOverBatch(fromRows(rows), 2).data)).toEqual([2, 0, 0, 4]);
    expect(() => sumOverBatch(fromRows(rows), 3)).toThrow(/batch of 3/);
  });
  it('MGDA by hand: batch-sum weights from (2, 0), (0, 4) → (0.8, 0.2); per-sample from ‖g‖² = 2, 10 → (5/6, 1/6)', () => {
    // Orthogonal rows: the min-norm weights are ∝ 1/‖g_t‖².
    const libmtl = fakeContext(rows, 2);
    const r1 = toUpdateRule(mgda({ solver: 'exact' }), { space: 'representation', representationForm: 'batch-sum' }).step(libmtl.ctx);
    expectClose(r1!.weights!, [0.8, 0.2], 1e-12);
    expectClose(libmtl.applied(), [0.8, 0.2, 0.8, 0.6], 1e-7);
    const flat = fakeContext(rows, 2);
    const r2 = createRule('mgda-ub', { solver: 'exact' }).step(flat.ctx);
    expectClose(r2!.weights!, [5 / 6, 1 / 6], 1e-12);
    expectClose(flat.applied(), [5 / 6, 1 / 6, 5 / 6, 0.5], 1e-7);
    const viaRegistry = fakeContext(rows, 2);
    createRule('mgda-ub', { solver: 'exact', representationForm: 'batch-sum' }).step(viaRegistry.ctx);
    expectClose(viaRegistry.applied(), [0.8, 0.2, 0.8, 0.6], 1e-7);
  });
  it('batch-sum needs the representation space', () => {
    expect(() => createRule('mgda', { representationForm: 'batch-sum' })).toThrow(/space 'representation'/);
    expect(() => createRule('mgda-ub', { representationForm: 'sum' as 'batch-sum' })).toThrow(/representationForm/);
  });
});
