import { describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, ParamSnapshot, adam, hardSharingMlp, tf, type OptimizerSnapshot } from '@mtl/core';
import { forkMerge, interpolate, mergeBranches, mergeOptimizerStates } from '../src/index.js';
import { auxProblem } from './fixtures/synthetic.js';

const p = auxProblem({ kind: 'hurts', seed: 3, trainSize: 64 });
const build = (seed: number) => hardSharingMlp({ inputSize: p.inputSize, tasks: p.tasks, trunk: [6], seed });

describe('merging', () => {
  it('returns branch 0 at λ = 0, branch 1 at λ = 1 exactly, and the interpolation in between', () => {
    const m0 = build(1);
    const m1 = build(2);
    const a = ParamSnapshot.capture(m0.parameters);
    const b = ParamSnapshot.capture(m1.parameters);
    const fa = a.flatten();
    const fb = b.flatten();
    const at0 = interpolate(a, b, 0);
    const at1 = interpolate(a, b, 1);
    const at03 = interpolate(a, b, 0.3);
    const vertex = mergeBranches([a, b], [0, 1]);
    expect(at0.flatten()).toEqual(fa);
    expect(at1.flatten()).toEqual(fb);
    expect(vertex.flatten()).toEqual(fb);
    const mid = at03.flatten();
    let maxError = 0;
    let moved = 0;
    for (let i = 0; i < fa.length; i++) {
      maxError = Math.max(maxError, Math.abs(mid[i]! - (0.7 * fa[i]! + 0.3 * fb[i]!)));
      moved = Math.max(moved, Math.abs(mid[i]! - fa[i]!));
    }
    expect(maxError).toBeLessThan(1e-6);
    expect(moved).toBeGreaterThan(0.01);
    for (const s of [a, b, at0, at1, at03, vertex]) s.dispose();
    m0.dispose();
    m1.dispose();
  });

  it('merges three branches with simplex weights and rejects weights off the simplex', () => {
    const models = [build(1), build(2), build(3)];
    const snaps = models.map((m) => ParamSnapshot.capture(m.parameters));
    const flats = snaps.map((s) => s.flatten());
    const merged = mergeBranches(snaps, [0.5, 0.25, 0.25]);
    const out = merged.flatten();
    for (let i = 0; i < out.length; i += 7) expect(out[i]).toBeCloseTo(0.5 * flats[0]![i]! + 0.25 * flats[1]![i]! + 0.25 * flats[2]![i]!, 6);
    expect(() => mergeBranches(snaps, [0.5, 0.5, 0.5])).toThrow(MtlError);
    expect(() => mergeBranches(snaps, [1.5, -0.5, 0])).toThrow(/weights\[1\]/);
    expect(() => interpolate(snaps[0]!, snaps[1]!, 1.2)).toThrow(/lambda/);
    merged.dispose();
    snaps.forEach((s) => s.dispose());
    models.forEach((m) => m.dispose());
  });

  it('merges optimizer state slot by slot, renormalising over the branches that hold a slot', () => {
    const m = build(1);
    const states: OptimizerSnapshot[] = [0.5, 1.5].map((scale) => {
      const opt = adam(0.01);
      const grads = new Map(m.parameters.filter((q) => q.task !== 'aux' || scale > 1).map((q) => [q.key, tf.mul(tf.onesLike(q.variable), scale)]));
      opt.apply(m.parameters, grads);
      grads.forEach((g) => g.dispose());
      const s = opt.snapshot();
      opt.dispose();
      return s;
    });
    const merged = mergeOptimizerStates(states, [0.25, 0.75]);
    const key = m.sharedParameters[0]!.key;
    const shared = merged.slots.get(`${key}::m`).dataSync()[0]!;
    // Adam's first moment after one step is 0.1 g: 0.25 * 0.05 + 0.75 * 0.15.
    expect(shared).toBeCloseTo(0.125, 6);
    const auxKey = m.taskParameters('aux')[0]!.key;
    // Only branch 1 trained the aux head: its slot is taken whole.
    expect(merged.slots.get(`${auxKey}::m`).dataSync()[0]).toBeCloseTo(0.15, 6);
    expect(merged.steps[auxKey]).toBe(1);
    merged.slots.dispose();
    states.forEach((s) => s.slots.dispose());
    m.dispose();
  });
});

describe('ForkMerge rounds', () => {
  it('leaves no tensors behind across fork/merge cycles, with every optimizer-state policy', async () => {
    const m = build(4);
    const run = (optimizerState: 'keep' | 'reset' | 'merge', authors = false) =>
      forkMerge({
        model: m,
        tasks: p.tasks,
        train: p.train,
        validation: p.validation,
        target: 'target',
        optimizer: { kind: 'adam', learningRate: 0.01 },
        branches: 'each-auxiliary',
        interval: 3,
        rounds: 3,
        batchSize: 16,
        optimizerState,
        ...(authors ? { branchCheckpoint: 'best', finalModel: 'best', forkFrom: 'best-merge', mergeScope: 'all' } as const : {}),
        validationSubsample: 40,
      });
    await run('keep');
    const baseline = tf.memory().numTensors;
    for (const policy of ['keep', 'reset', 'merge'] as const) {
      await run(policy, policy === 'reset');
      expect(tf.memory().numTensors).toBe(baseline);
    }
    m.dispose();
  });

  it('records λ per round, merges to the chosen point and synchronises the model to it', async () => {
    const m = build(5);
    const result = await forkMerge({
      model: m,
      tasks: p.tasks,
      train: p.train,
      validation: p.validation,
      target: 'target',
      optimizer: { kind: 'sgd', learningRate: 0.05 },
      interval: 4,
      rounds: 3,
      batchSize: 16,
      score: 'mse',
    });
    expect(result.rounds.map((r) => r.round)).toEqual([0, 1, 2]);
    expect(result.rounds.map((r) => r.step)).toEqual([4, 8, 12]);
    expect(result.steps).toBe(12);
    for (const r of result.rounds) {
      expect(r.weights).toHaveLength(2);
      expect(r.weights[0]! + r.weights[1]!).toBeCloseTo(1, 12);
      expect([0, 0.2, 0.4, 0.6, 0.8, 1].some((g) => Math.abs(g - r.lambda) < 1e-12)).toBe(true);
      expect(r.evaluations).toBe(6);
    }
    expect(result.lambdas).toEqual(result.rounds.map((r) => r.lambda));
    // The model holds the last merge: its validation score is the recorded one.
    const { evaluateModel } = await import('@mtl/core');
    expect(-evaluateModel(m, p.tasks, p.validation)['target/mse']!).toBeCloseTo(result.score, 6);
    m.dispose();
  });
});
