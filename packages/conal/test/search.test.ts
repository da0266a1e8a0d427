import { describe, expect, it } from 'vitest';
import { MtlError, tf } from '@mtl/core';
import './setup.js';
import { ConalSearchSpace, conalSearch, runSearch } from '../src/index.js';
import { conflictProblem } from './fixtures/conflict-problem.js';

// Agreeing pair: one direction w, noisy labels (sharing pools them); the other two need their own
// directions u and v, with clean labels.
const problem = conflictProblem({ inputSize: 16, agreeNoise: 1, noise: 0.1, size: 48, validationSize: 128 });
const base = {
  inputShape: [problem.inputSize],
  tasks: problem.tasks,
  // A one-unit linear bottleneck: the agreeing pair's direction w fits in it, the two others' (u, v) do not.
  blocks: [{ kind: 'dense', units: 16 }, { kind: 'dense', units: 1, activation: 'linear' }] as const,
  train: problem.train,
  validation: problem.validation,
  batchSize: 16,
  weightOptimizer: { kind: 'momentum', learningRate: 0.05 } as const,
  architectureOptimizer: { kind: 'adam', learningRate: 3e-2 } as const,
  pretrainSteps: 100,
};

describe('bi-level search', () => {
  it('branches the tasks that conflict on the shared modules earlier than the agreeing pair (seeded)', () => {
    const result = conalSearch({ ...base, epochs: 60, seed: 3 });
    const bp = result.architecture.branchPoints;
    expect(Math.max(bp['conflict1']!, bp['conflict2']!)).toBeLessThan(Math.min(bp['agree1']!, bp['agree2']!));
    // The agreeing pair keeps the all-shared path (P = 3), the others leave before the first module.
    expect(bp).toEqual({ agree1: 3, agree2: 3, conflict1: 1, conflict2: 1 });
    expect(result.architecture.parameterCounts.derived).toBeLessThan(result.architecture.parameterCounts.searchSpace);
    // α history: the start (uniform), one record per epoch, softmax rows summing to 1.
    expect(result.alphaHistory).toHaveLength(61);
    expect(result.alphaHistory[0]!.alpha['agree1']!.every((q) => Math.abs(q - 1 / 3) < 1e-6)).toBe(true);
    for (const q of Object.values(result.alphaHistory.at(-1)!.alpha)) expect(q.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Conflicts were noticed and the shared modules were zeroed on those steps.
    expect(result.noticing.conflictSteps).toBeGreaterThan(0);
    expect(result.noticing.keptFraction.every((k) => k < 1)).toBe(true);
  });

  it('same seed, same architecture and α history; no tensor growth over a search', () => {
    const before = tf.memory().numTensors;
    const a = conalSearch({ ...base, pretrainSteps: 10, steps: 12, seed: 5, historyEvery: 4 });
    const afterFirst = tf.memory().numTensors;
    const b = conalSearch({ ...base, pretrainSteps: 10, steps: 12, seed: 5, historyEvery: 4 });
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(afterFirst).toBe(before);
    expect(b.architecture).toEqual(a.architecture);
    expect(b.alphaHistory).toEqual(a.alphaHistory);
    expect(a.alphaHistory.map((r) => r.step)).toEqual([0, 4, 8, 12]);
  });

  it('the weight step never moves α, and noticing: false steps every shared module (the released code)', () => {
    const space = new ConalSearchSpace({ inputShape: base.inputShape, tasks: base.tasks, blocks: base.blocks, seed: 1 });
    const alphaBefore = space.alphaParameters.map((p) => Array.from(p.variable.dataSync()));
    const sharedBefore = space.sharedParameters.map((p) => Array.from(p.variable.dataSync()));
    // Architecture learning rate 0: only the weight step could move α.
    const run = runSearch(space, base.tasks, { ...base, pretrainSteps: 0, steps: 3, noticing: false, architectureOptimizer: { kind: 'sgd', learningRate: 0 } }, 1);
    expect(space.alphaParameters.map((p) => Array.from(p.variable.dataSync()))).toEqual(alphaBefore);
    expect(run.noticing.keptFraction).toEqual([1, 1]);
    space.sharedParameters.forEach((p, i) => expect(Array.from(p.variable.dataSync())).not.toEqual(sharedBefore[i]));
    space.dispose();
  });

  it('with noticing, a step whose first shared module conflicts leaves every shared module unchanged', () => {
    const space = new ConalSearchSpace({ inputShape: base.inputShape, tasks: base.tasks, blocks: base.blocks, seed: 1 });
    const sharedBefore = space.sharedParameters.map((p) => Array.from(p.variable.dataSync()));
    const run = runSearch(space, base.tasks, { ...base, pretrainSteps: 0, steps: 1 }, 1);
    // At a random start four tasks conflict somewhere on module 1; then nothing shared may move.
    expect(run.noticing.keptFraction).toEqual([0, 0]);
    space.sharedParameters.forEach((p, i) => expect(Array.from(p.variable.dataSync())).toEqual(sharedBefore[i]));
    expect(space.taskParameters('agree1').some((p) => p.variable.dataSync()[0] !== 0)).toBe(true);
    space.dispose();
  });

  it('rejects bad options with MtlErrors naming them', () => {
    expect(() => conalSearch({ ...base, steps: 0 })).toThrow(/steps/);
    expect(() => conalSearch({ ...base, bogus: 1 } as never)).toThrow(/options\.bogus/);
    expect(() => conalSearch({ ...base, validation: undefined as never })).toThrow(MtlError);
    expect(() => conalSearch({ ...base, clipNorm: -1 })).toThrow(/clipNorm/);
    expect(() => conalSearch({ ...base, noticing: 'yes' as never })).toThrow(/noticing/);
  });
});
