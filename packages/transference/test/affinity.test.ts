import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ComposedModel,
  SeededRandom,
  Trainer,
  adam,
  batchNormLayer,
  denseLayer,
  hardSharingMlp,
  inMemoryDataset,
  isMtlError,
  momentum,
  regressionTask,
  sequential,
  sgd,
  tf,
  weightedSum,
  type Optimizer,
} from '@mtl/core';
import { checkUpdateRuleConformance, toyTwoTaskProblem } from '@mtl/core/testing';
import { measureAffinity, measureStepAffinity, selectTaskGroups, withAffinity, type AffinityMeasurement } from '../src/index.js';
import { lookaheadLosses } from '../src/lookahead.js';
import { conflictingClusters, contextOn, parameterValues, range, scalarModel } from './fixtures.js';

const EXACT = { firstOrder: false, normalizeByLr: true, heads: 'current' } as const;

describe('lookahead affinity on a model worked by hand', () => {
  // ŷ_t = h_t w x on the batch x = (1, 2); heads fixed during the lookahead.
  const heads = { A: 1, B: 0.5, C: -1 };
  const ys = { A: [1, 2], B: [-1, -2], C: [0.5, 1] };
  const w0 = Math.fround(0.8);
  const xs = [1, 2];
  const loss = (t: keyof typeof ys, w: number) => xs.reduce((s, x, n) => s + (heads[t] * w * x - ys[t][n]!) ** 2, 0) / xs.length;
  const grad = (t: keyof typeof ys) => xs.reduce((s, x, n) => s + 2 * (heads[t] * w0 * x - ys[t][n]!) * heads[t] * x, 0) / xs.length;
  const names = ['A', 'B', 'C'] as const;
  const data = inMemoryDataset({ x: xs, inputShape: [1], targets: ys });
  const tasks = names.map((n) => regressionTask(n));

  const measured = (eta: number, firstOrder: boolean) => {
    const model = scalarModel(heads, w0);
    const result = measureAffinity({ model, tasks, data, optimizer: sgd(eta), batchSize: 2, shuffle: false, firstOrder });
    model.dispose();
    return result.affinity;
  };

  it('exact: (1 − L_j(w − η g_i) / L_j(w)) / η', () => {
    for (const eta of [0.1, 0.01]) {
      const Z = measured(eta, false);
      names.forEach((i, r) =>
        names.forEach((j, c) => {
          const expected = (1 - loss(j, w0 - eta * grad(i)) / loss(j, w0)) / eta;
          expect(Z[r]![c]!).toBeCloseTo(expected, 3);
        }),
      );
    }
  });

  it('first order: g_i g_j / L_j, and the exact value converges to it as η → 0', () => {
    const first = measured(0.01, true);
    names.forEach((i, r) => names.forEach((j, c) => expect(first[r]![c]!).toBeCloseTo((grad(i) * grad(j)) / loss(j, w0), 4)));
    const gap = (eta: number) => {
      const exact = measured(eta, false);
      return Math.max(...exact.flatMap((row, r) => row.map((v, c) => Math.abs(v - first[r]![c]!))));
    };
    const coarse = gap(0.05);
    const fine = gap(0.005);
    // The gap is the second-order term η g_i² L_j'' / (2 L_j): linear in η.
    expect(coarse).toBeGreaterThan(1e-3);
    expect(fine / coarse).toBeGreaterThan(0.05);
    expect(fine / coarse).toBeLessThan(0.15);
  });

  it('normalizeByLr: false gives the raw 1 − L′/L (η times the normalised value)', () => {
    const model = scalarModel(heads, w0);
    const raw = measureAffinity({ model, tasks, data, optimizer: sgd(0.1), batchSize: 2, shuffle: false, normalizeByLr: false }).affinity;
    expect(raw[0]![1]!).toBeCloseTo(1 - loss('B', w0 - 0.1 * grad('A')) / loss('B', w0), 5);
    model.dispose();
  });
});

describe('the simulated step is the optimizer’s real step', () => {
  const problem = toyTwoTaskProblem({ seed: 4, size: 128 });
  const optimizers: [string, () => Optimizer][] = [
    ['sgd', () => sgd(0.05)],
    ['momentum (with velocity)', () => momentum(0.05, { momentum: 0.9 })],
    ['nesterov', () => momentum(0.05, { momentum: 0.9, nesterov: true })],
    ['adam (with moments)', () => adam(0.01)],
  ];
  for (const [label, make] of optimizers) {
    for (const heads of ['current', 'stepped'] as const) {
      it(`${label}, heads ${heads}: lookahead losses equal those after one real step`, () => {
        const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed: 2 });
        const optimizer = make();
        const trainer = new Trainer({ model, tasks: problem.tasks, optimizer, batchSize: 16, seed: 1 });
        trainer.runSteps(problem.train, 4); // non-zero velocity / moments
        tf.tidy(() => {
          const { ctx } = contextOn(model, problem.tasks, problem.train, optimizer, range(16), 4);
          const G = ctx.taskGradients('parameters').jacobian;
          const P = G.shape[1];
          const row = G.dataSync().slice(P, 2 * P) as Float32Array; // task "value"
          const grads = ctx.gradientsFromDirection(row, { headWeights: heads === 'stepped' ? [1, 1] : [0, 0] });
          const before = parameterValues(model);
          const state = optimizer.snapshot();
          const predicted = lookaheadLosses(ctx, grads)!;
          // Nothing moved: parameters and optimizer state are as before.
          expect(parameterValues(model)).toEqual(before);
          const stateAfter = optimizer.snapshot();
          expect(stateAfter.slots.flatten()).toEqual(state.slots.flatten());
          expect(stateAfter.steps).toEqual(state.steps);
          state.slots.dispose();
          stateAfter.slots.dispose();
          ctx.applyGradients(grads);
          const real = ctx.evaluateLosses();
          predicted.forEach((v, j) => expect(v).toBeCloseTo(real[j]!, 6));
        });
        trainer.dispose();
        model.dispose();
      });
    }
  }

  it('a frozen shared parameter stays put in the lookahead, as in the real step', () => {
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed: 2 });
    const optimizer = momentum(0.05, { momentum: 0.9 });
    const frozenKey = model.sharedParameters[0]!.key;
    tf.tidy(() => {
      const { ctx } = contextOn(model, problem.tasks, problem.train, optimizer, range(16), 0, new Set([frozenKey]));
      expect(ctx.isFrozen(frozenKey)).toBe(true);
      const G = ctx.taskGradients('parameters').jacobian;
      const grads = ctx.gradientsFromDirection(G.dataSync().slice(0, G.shape[1]) as Float32Array);
      const predicted = lookaheadLosses(ctx, grads)!;
      const frozenBefore = Array.from(model.parameters.find((p) => p.key === frozenKey)!.variable.dataSync());
      ctx.applyGradients(grads);
      expect(Array.from(model.parameters.find((p) => p.key === frozenKey)!.variable.dataSync())).toEqual(frozenBefore);
      const real = ctx.evaluateLosses();
      predicted.forEach((v, j) => expect(v).toBeCloseTo(real[j]!, 6));
    });
    model.dispose();
  });

  it('a measured row is 1 − (loss after that task’s real step) / (loss before), divided by η', () => {
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed: 2 });
    const optimizer = momentum(0.05);
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer, batchSize: 16, seed: 1 });
    trainer.runSteps(problem.train, 3);
    tf.tidy(() => {
      const { ctx } = contextOn(model, problem.tasks, problem.train, optimizer, range(16), 3);
      const m = measureStepAffinity(ctx, EXACT);
      const before = [...ctx.losses()];
      const G = ctx.taskGradients('parameters').jacobian;
      const P = G.shape[1];
      ctx.applyGradients(ctx.gradientsFromDirection(G.dataSync().slice(0, P) as Float32Array, { headWeights: [0, 0] }));
      const after = ctx.evaluateLosses();
      before.forEach((l, j) => expect(m.matrix[0]![j]!).toBeCloseTo((1 - after[j]! / l) / 0.05, 3));
    });
    trainer.dispose();
    model.dispose();
  });
});

describe('related and conflicting task clusters', () => {
  const { tasks, data, model: makeModel } = conflictingClusters();
  const signs = (Z: number[][]) => {
    const cluster = (t: number) => (t < 2 ? 0 : 1);
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 4; j++) {
        if (i === j) continue;
        if (cluster(i) === cluster(j)) expect(Z[i]![j]!, `Z(${i}→${j})`).toBeGreaterThan(0);
        else expect(Z[i]![j]!, `Z(${i}→${j})`).toBeLessThanOrEqual(0);
      }
    }
  };

  for (const firstOrder of [false, true]) {
    it(`${firstOrder ? 'first-order' : 'exact'} affinity is positive within and ≤ 0 across; TAG recovers the clusters`, () => {
      const model = makeModel();
      const tensors = tf.memory().numTensors;
      const { affinity, measurements } = measureAffinity({ model, tasks, data, optimizer: sgd(0.01), batchSize: 64, batches: 3, firstOrder });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(measurements).toHaveLength(3);
      signs(affinity);
      expect(selectTaskGroups(affinity, { budget: 2 }).groups).toEqual([
        [0, 1],
        [2, 3],
      ]);
      model.dispose();
    });
  }

  it('withAffinity measures every k steps during training, streams the matrices and averages them', () => {
    const model = makeModel();
    const seen: AffinityMeasurement[] = [];
    const rule = withAffinity(weightedSum(), { every: 3, onMeasure: (m) => seen.push(m), keepHistory: true });
    const trainer = new Trainer({ model, tasks, optimizer: momentum(0.01), rule, batchSize: 32, seed: 2 });
    trainer.runSteps(data, 3);
    const tensors = tf.memory().numTensors;
    trainer.runSteps(data, 9);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(seen.map((m) => m.step)).toEqual([0, 3, 6, 9]);
    expect(rule.measurements).toBe(4);
    expect(rule.history).toHaveLength(4);
    expect(rule.tasks).toEqual(['a1', 'a2', 'b1', 'b2']);
    const mean = rule.affinity();
    mean.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(seen.reduce((s, m) => s + m.matrix[i]![j]!, 0) / 4, 9)));
    signs(mean);
    trainer.dispose();
    model.dispose();
  });

  it('measuring does not change training: the same parameters as the plain rule', () => {
    const run = (tracked: boolean) => {
      const model = makeModel();
      const trainer = new Trainer({ model, tasks, optimizer: adam(0.01), rule: tracked ? withAffinity(weightedSum(), { every: 1 }) : weightedSum(), batchSize: 32, seed: 2 });
      trainer.runSteps(data, 5);
      const values = parameterValues(model);
      trainer.dispose();
      model.dispose();
      return values;
    };
    expect(run(true)).toEqual(run(false));
  });
});

describe('measureAffinity leaves the model as it was', () => {
  it('parameters and BatchNorm running statistics are unchanged', () => {
    const problem = toyTwoTaskProblem({ seed: 2, size: 64 });
    const rng = new SeededRandom(1);
    const model = new ComposedModel([problem.inputSize], (make, buffer) => {
      const trunk = sequential([denseLayer(make, rng, 'trunk/dense', problem.inputSize, 6, 'linear'), batchNormLayer(make, buffer, 'trunk/bn', 6)]);
      const heads = Object.fromEntries(problem.tasks.map((t) => [t.name, sequential([denseLayer(make, rng, `${t.name}/out`, 6, t.outputSize ?? 1, 'linear', t.name)])]));
      return { trunk, heads };
    });
    const state = () => Object.fromEntries([...model.parameters, ...(model.buffers ?? [])].map((p) => [p.key, Array.from(p.variable.dataSync())]));
    const before = state();
    measureAffinity({ model, tasks: problem.tasks, data: problem.train, optimizer: adam(0.01), batchSize: 16 });
    expect(state()).toEqual(before);
    // A training-mode pass does move the running statistics, so the check above can fail.
    tf.tidy(() => void model.forward(tf.randomNormal([16, problem.inputSize]), { training: true }));
    expect(state()).not.toEqual(before);
    model.dispose();
  });
});

describe('withAffinity state and conformance', () => {
  it('passes core’s update-rule conformance checks', () => {
    expect(checkUpdateRuleConformance(() => withAffinity(weightedSum(), { every: 2 })).passed.length).toBeGreaterThan(3);
    expect(checkUpdateRuleConformance(() => withAffinity(weightedSum(), { every: 3, firstOrder: true })).passed.length).toBeGreaterThan(3);
  });

  it('its state survives a checkpoint: a resumed run averages as the uninterrupted one', async () => {
    const { tasks, data, model: makeModel } = conflictingClusters(5, 128);
    const dir = await mkdtemp(join(tmpdir(), 'mtl-affinity-'));
    const run = async (epochs: number, resumeFrom?: string) => {
      const model = makeModel();
      const rule = withAffinity(weightedSum(), { every: 3 });
      const trainer = new Trainer({ model, tasks, optimizer: momentum(0.01), rule, batchSize: 32, seed: 2, checkpoint: { dir: resumeFrom ?? join(dir, String(epochs)) } });
      await trainer.fit(data, { epochs, resume: resumeFrom !== undefined });
      const out = { affinity: rule.affinity(), measurements: rule.measurements };
      trainer.dispose();
      model.dispose();
      return out;
    };
    const whole = await run(3);
    await run(1);
    const resumed = await run(3, join(dir, '1'));
    expect(whole.measurements).toBe(4); // steps 0, 3, 6, 9 of 12
    expect(resumed).toEqual(whole);
    await rm(dir, { recursive: true, force: true });
    expect(() => withAffinity(weightedSum()).setState!({})).toThrow(/running average/);
  });

  it('rejects bad options with MtlError', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isMtlError(e) ? e.code : String(e);
      }
      return 'no error';
    };
    expect(code(() => withAffinity(weightedSum(), { every: 0 }))).toBe('INVALID_OPTION');
    expect(code(() => withAffinity(weightedSum(), { evry: 2 } as never))).toBe('INVALID_OPTION');
    expect(code(() => withAffinity(weightedSum(), { heads: 'both' as never }))).toBe('INVALID_OPTION');
    expect(code(() => withAffinity({} as never))).toBe('INVALID_OPTION');
    const { tasks, data, model: makeModel } = conflictingClusters(1, 64);
    const model = makeModel();
    expect(code(() => measureAffinity({ model, tasks, data, optimizer: { kind: 'sgd' } as never }))).toBe('INVALID_OPTION');
    expect(code(() => measureAffinity({ model, tasks, data, optimizer: sgd(0) }))).toBe('INVALID_OPTION');
    expect(code(() => measureAffinity({ model, tasks, data, optimizer: sgd(0.1), batches: 0 }))).toBe('INVALID_OPTION');
    model.dispose();
  });
});
