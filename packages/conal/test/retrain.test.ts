import { describe, expect, it } from 'vitest';
import { aggregatorRule, tf, weightedSum } from '@mtl/core';
import type { GradientAggregator, Matrix, UpdateRule } from '@mtl/core';
import './setup.js';
import { ConalSearchSpace, architectureFromBranchPoints, retrain } from '../src/index.js';
import { conflictProblem } from './fixtures/conflict-problem.js';

const problem = conflictProblem({ inputSize: 6, noise: 0.1, size: 96, validationSize: 64 });
const blocks = [{ kind: 'dense', units: 8 }, { kind: 'dense', units: 4 }] as const;

/** A derived tree with an all-shared-by-three first module (a group), a pair-shared second, and a fully separate task. */
function architecture() {
  const space = new ConalSearchSpace({ inputShape: [problem.inputSize], tasks: problem.tasks, blocks });
  const arch = architectureFromBranchPoints(space, problem.tasks, { agree1: 3, agree2: 3, conflict1: 2, conflict2: 1 });
  space.dispose();
  return arch;
}

/** Hand-written aggregators, on plain matrices: the row sum, and PCGrad with a fixed (row) order. */
const rowSum: GradientAggregator<null> = {
  name: 'row-sum',
  initialState: () => null,
  aggregate: (g: Matrix) => {
    const direction = new Float64Array(g.cols);
    for (let r = 0; r < g.rows; r++) for (let c = 0; c < g.cols; c++) direction[c]! += g.data[r * g.cols + c]!;
    return { direction, weights: Array.from({ length: g.rows }, () => 1), state: null };
  },
};
const fixedOrderPcgrad: GradientAggregator<null> = {
  name: 'pcgrad-fixed-order',
  initialState: () => null,
  aggregate: (g: Matrix) => {
    const row = (r: number) => Array.from(g.data.subarray(r * g.cols, (r + 1) * g.cols));
    const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    const direction = new Float64Array(g.cols);
    for (let i = 0; i < g.rows; i++) {
      const pc = row(i);
      for (let j = 0; j < g.rows; j++) {
        if (j === i) continue;
        const gj = row(j);
        const d = dot(pc, gj);
        const n = dot(gj, gj);
        if (d < 0 && n > 0) for (let c = 0; c < pc.length; c++) pc[c]! -= (d / n) * gj[c]!;
      }
      pc.forEach((v, c) => (direction[c]! += v));
    }
    return { direction, weights: Array.from({ length: g.rows }, () => 1), state: null };
  },
};

async function trainWith(rule?: UpdateRule, seed = 1) {
  const result = await retrain({
    architecture: architecture(),
    tasks: problem.tasks,
    train: problem.train,
    validation: problem.validation,
    epochs: 6,
    batchSize: 16,
    optimizer: { kind: 'adam', learningRate: 1e-2, clipNorm: 5 },
    seed,
    ...(rule ? { rule } : {}),
  });
  const total = (log: (typeof result.history)[number]) => Object.values(log.trainLoss).reduce((a, b) => a + b, 0);
  return { ...result, first: total(result.history[0]!), last: total(result.history.at(-1)!) };
}

describe('retraining the derived network', () => {
  it('trains from scratch with the default RLW (U[0,1] normalised), every aggregator and the plain sum', async () => {
    for (const rule of [undefined, aggregatorRule(rowSum), aggregatorRule(fixedOrderPcgrad), weightedSum()]) {
      const r = await trainWith(rule);
      expect(r.history).toHaveLength(6);
      expect(r.last).toBeLessThan(r.first * 0.7);
      expect(r.history.at(-1)!.validation).toBeDefined();
      r.model.dispose();
    }
  });

  it('same seed, same trained weights; no tensor growth', async () => {
    const before = tf.memory().numTensors;
    const a = await trainWith(undefined, 4);
    const wa = a.model.parameters.map((p) => Array.from(p.variable.dataSync()));
    a.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const b = await trainWith(undefined, 4);
    expect(b.model.parameters.map((p) => Array.from(p.variable.dataSync()))).toEqual(wa);
    b.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects unknown options and a rule that is not one', async () => {
    await expect(retrain({ architecture: architecture(), tasks: problem.tasks, train: problem.train, bogus: 1 } as never)).rejects.toThrow(/options\.bogus/);
    await expect(retrain({ architecture: architecture(), tasks: problem.tasks, train: problem.train, rule: {} as never })).rejects.toThrow(/rule/);
    await expect(retrain({ architecture: architecture(), tasks: problem.tasks, train: problem.train, epochs: 0 })).rejects.toThrow(/epochs/);
  });
});
