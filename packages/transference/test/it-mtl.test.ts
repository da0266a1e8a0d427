import { describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Trainer,
  adam,
  hardSharingMlp,
  isMtlError,
  momentum,
  sgd,
  tf,
  type GradientAggregator,
  type LossWeighting,
  type Optimizer,
  type StepContext,
  type StepResult,
  type UpdateRule,
} from '@mtl/core';
import { checkUpdateRuleConformance, toyTwoTaskProblem } from '@mtl/core/testing';
import { itMtl } from '../src/index.js';
import { conflictingClusters, contextOn, parameterValues, range } from './fixtures.js';

/** PCGrad for any T, written out literally (fixed task order): each row projected off the rows it conflicts with; summed. */
const literalPcgrad: GradientAggregator<null> = {
  name: 'pcgrad-literal',
  initialState: () => null,
  aggregate(G) {
    const row = (t: number) => Array.from(G.data.subarray(t * G.cols, (t + 1) * G.cols));
    const dot = (a: number[], b: number[]) => a.reduce((s, v, k) => s + v * b[k]!, 0);
    const direction = new Float64Array(G.cols);
    for (let i = 0; i < G.rows; i++) {
      const pc = row(i);
      for (let j = 0; j < G.rows; j++) {
        if (j === i) continue;
        const gj = row(j);
        const d = dot(pc, gj);
        if (d < 0) pc.forEach((v, k) => (pc[k] = v - (d / dot(gj, gj)) * gj[k]!));
      }
      pc.forEach((v, k) => (direction[k]! += v));
    }
    return { direction, weights: new Array<number>(G.rows).fill(1), state: null };
  },
};

/** A stateful weighting (weights drift with a step counter), to check composition and resume. */
const driftingWeights: LossWeighting<{ steps: number }> = {
  name: 'drift',
  initialState: () => ({ steps: 0 }),
  weigh: (input, state) => ({ weights: input.losses.map((_, t) => 1 + 0.05 * state.steps * (t + 1)), state: { steps: state.steps + 1 } }),
};

const problem = toyTwoTaskProblem({ seed: 6, size: 128 });

/** One step of `rule` inside a tidy scope, as the trainer runs it. */
function stepOnce(rule: UpdateRule, at: () => StepContext): StepResult {
  let result: StepResult = {};
  tf.tidy(() => {
    result = rule.step(at()) ?? {};
  });
  return result;
}

function trainedModel(optimizer: Optimizer, steps = 4) {
  const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed: 3 });
  const trainer = new Trainer({ model, tasks: problem.tasks, optimizer, batchSize: 16, seed: 1 });
  trainer.runSteps(problem.train, steps);
  trainer.dispose();
  return model;
}

/**
 * Brute force: for each candidate direction (built here from the Jacobian), really apply it (shared
 * direction + every head's own weighted step) with the optimizer, read the losses, then put the
 * parameters and the optimizer state back. Returns each candidate's total transference and the
 * parameters after it.
 */
function bruteForce(optimizer: Optimizer, batchIndices: number[], step: number, model: ReturnType<typeof trainedModel>, directions: (G: Float32Array, P: number) => Float64Array[], w: number[]) {
  return tf.tidy(() => {
    const { ctx } = contextOn(model, problem.tasks, problem.train, optimizer, batchIndices, step);
    const before = [...ctx.losses()];
    const G = ctx.taskGradients('parameters').jacobian;
    const P = G.shape[1];
    const dirs = directions(G.dataSync() as Float32Array, P);
    const grads = dirs.map((d) => ctx.gradientsFromDirection(d, { headWeights: w }));
    return grads.map((g) => {
      const params = parameterValues(model);
      const state = optimizer.snapshot();
      ctx.applyGradients(g);
      const after = ctx.evaluateLosses();
      const result = { total: before.reduce((s, l, j) => s + 1 - after[j]! / l, 0), normalized: after.reduce((s, l, j) => s + l / before[j]!, 0), params: parameterValues(model) };
      for (const p of model.parameters) p.variable.assign(tf.tensor(params[p.key]!, p.variable.shape));
      optimizer.restore(state);
      state.slots.dispose();
      return result;
    });
  });
}

const sumAndEach = (G: Float32Array, P: number) => {
  const g0 = Float64Array.from(G.subarray(0, P));
  const g1 = Float64Array.from(G.subarray(P, 2 * P));
  return [g0.map((v, k) => v + g1[k]!), g0, g1];
};

describe('IT-MTL picks the candidate with the lowest lookahead loss (brute force)', () => {
  // The batches differ enough that momentum and SGD runs pick different candidates (Adam's steps all favour one).
  for (const [label, make, distinct] of [
    ['momentum', () => momentum(0.1, { momentum: 0.9 }), 2],
    ['adam', () => adam(0.02), 1],
    ['sgd', () => sgd(0.3), 2],
  ] as const) {
    it(`${label}: on several batches the chosen candidate and the result equal the brute-force best`, () => {
      const chosen = new Set<number>();
      for (let b = 0; b < 6; b++) {
        const optimizer = make();
        const model = trainedModel(optimizer, 3 + b);
        const indices = range(16).map((i) => (i * 7 + b * 16) % 128);
        const brute = bruteForce(optimizer, indices, 10, model, sumAndEach, [1, 1]);
        const rule = itMtl();
        const result = stepOnce(rule, () => contextOn(model, problem.tasks, problem.train, optimizer, indices, 10).ctx);
        expect(rule.candidateLabels).toEqual(['sum', 'task:sign', 'task:value']);
        const best = brute.reduce((k, r, i) => (r.total > brute[k]!.total ? i : k), 0);
        // Highest total transference = lowest Σ_j L_j' / L_j.
        expect(brute.reduce((k, r, i) => (r.normalized < brute[k]!.normalized ? i : k), 0)).toBe(best);
        expect(result.info!['candidate']).toBe(best);
        rule.candidateLabels.forEach((l, k) => expect(result.info![`transference/${l}`]!).toBeCloseTo(brute[k]!.total, 4));
        const after = parameterValues(model);
        for (const [key, values] of Object.entries(brute[best]!.params)) values.forEach((v, i) => expect(after[key]![i]!).toBeCloseTo(v, 6));
        chosen.add(best);
        model.dispose();
      }
      expect(chosen.size).toBeGreaterThanOrEqual(distinct);
    });
  }

  it('with loss weights inside: candidates are built from w_t ∇L_t and heads step on w_t ∇θt L_t', () => {
    const optimizer = momentum(0.1);
    const model = trainedModel(optimizer, 5);
    const w = [0.3, 1.7];
    const indices = range(16);
    const brute = bruteForce(optimizer, indices, 10, model, (G, P) => {
      const g0 = Float64Array.from(G.subarray(0, P)).map((v) => v * w[0]!);
      const g1 = Float64Array.from(G.subarray(P, 2 * P)).map((v) => v * w[1]!);
      return [g0.map((v, k) => v + g1[k]!), g0, g1];
    }, w);
    const rule = itMtl({ weights: { sign: 0.3, value: 1.7 } });
    const result = stepOnce(rule, () => contextOn(model, problem.tasks, problem.train, optimizer, indices, 10).ctx);
    const best = brute.reduce((k, r, i) => (r.total > brute[k]!.total ? i : k), 0);
    expect(result.info!['candidate']).toBe(best);
    rule.candidateLabels.forEach((l, k) => expect(result.info![`transference/${l}`]!).toBeCloseTo(brute[k]!.total, 4));
    expect(result.weights).toEqual(best === 0 ? w : best === 1 ? [0.3, 0] : [0, 1.7]);
    model.dispose();
  });

  it('an aggregator candidate runs on the weighted Jacobian', () => {
    const optimizer = momentum(0.1);
    const model = trainedModel(optimizer, 5);
    const w = [1, 1]; // driftingWeights at its first step
    const brute = bruteForce(optimizer, range(16), 10, model, (G, P) => {
      const out = literalPcgrad.aggregate({ rows: 2, cols: P, data: Float64Array.from(G) }, { losses: [1, 1], step: 0, epoch: 0, random: Math.random }, null);
      const g0 = Float64Array.from(G.subarray(0, P));
      const g1 = Float64Array.from(G.subarray(P, 2 * P));
      return [g0.map((v, k) => v + g1[k]!), Float64Array.from(out.direction)];
    }, w);
    const rule = itMtl({ weighting: driftingWeights, candidates: ['sum', literalPcgrad] });
    const result = stepOnce(rule, () => contextOn(model, problem.tasks, problem.train, optimizer, range(16), 10).ctx);
    expect(rule.candidateLabels).toEqual(['sum', 'pcgrad-literal']);
    rule.candidateLabels.forEach((l, k) => expect(result.info![`transference/${l}`]!).toBeCloseTo(brute[k]!.total, 4));
    expect(rule.getState().weighting).toEqual({ steps: 1 });
    model.dispose();
  });
});

describe('IT-MTL‡ (first order)', () => {
  it('picks the candidate best aligned with ∇ Σ_j log L_j, computed by hand', () => {
    for (let b = 0; b < 4; b++) {
      const optimizer = sgd(0.1);
      const model = trainedModel(optimizer, 2 + b);
      const indices = range(16).map((i) => (i * 5 + b * 32) % 128);
      const expected = tf.tidy(() => {
        const { ctx } = contextOn(model, problem.tasks, problem.train, optimizer, indices, 10);
        const losses = ctx.losses();
        const G = ctx.taskGradients('parameters').jacobian;
        const P = G.shape[1];
        const data = G.dataSync();
        const logGrad = Array.from({ length: P }, (_, k) => data[k]! / losses[0]! + data[P + k]! / losses[1]!);
        return sumAndEach(data as Float32Array, P).map((d) => 0.1 * d.reduce((s, v, k) => s + v * logGrad[k]!, 0));
      });
      const rule = itMtl({ firstOrder: true });
      const result = stepOnce(rule, () => contextOn(model, problem.tasks, problem.train, optimizer, indices, 10).ctx);
      expect(result.info!['candidate']).toBe(expected.reduce((k, v, i) => (v > expected[k]! ? i : k), 0));
      rule.candidateLabels.forEach((l, k) => expect(result.info![`transference/${l}`]!).toBeCloseTo(expected[k]!, 4));
      model.dispose();
    }
  });
});

describe('IT-MTL as an update rule', () => {
  it('passes core’s update-rule conformance checks (exact, first order, weighted with an aggregator)', () => {
    for (const make of [() => itMtl(), () => itMtl({ firstOrder: true }), () => itMtl({ weighting: driftingWeights, candidates: ['sum', 'each-task', literalPcgrad] })]) {
      expect(checkUpdateRuleConformance(make).passed).toContain('no tensor leaks');
    }
  });

  it('leaves no tensors behind and reports its choice each step', () => {
    const { tasks, data, model: makeModel } = conflictingClusters(2, 128);
    const model = makeModel();
    const rule = itMtl({ candidates: ['sum', 'each-task', { tasks: ['a1', 'a2'], name: 'cluster-a' }] });
    const trainer = new Trainer({ model, tasks, optimizer: momentum(0.01), rule, batchSize: 32, seed: 2 });
    trainer.runSteps(data, 2);
    const tensors = tf.memory().numTensors;
    const stats = trainer.runSteps(data, 6);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(rule.candidateLabels).toEqual(['sum', 'task:a1', 'task:a2', 'task:b1', 'task:b2', 'cluster-a']);
    for (const s of stats) {
      const k = s.info!['candidate']!;
      const scores = rule.candidateLabels.map((l) => s.info![`transference/${l}`]!);
      expect(scores[k]).toBe(Math.max(...scores));
    }
    expect(Object.values(rule.wins).reduce((a, b) => a + b, 0)).toBe(8);
    trainer.dispose();
    model.dispose();
  });

  it('resumes from a checkpoint exactly (weighting and aggregator state included)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtl-itmtl-'));
    const run = async (epochs: number, resumeFrom?: string) => {
      const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed: 3 });
      const rule = itMtl({ weighting: driftingWeights, candidates: ['sum', literalPcgrad] });
      const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: momentum(0.05), rule, batchSize: 32, seed: 2, checkpoint: { dir: resumeFrom ?? join(dir, String(epochs)) } });
      await trainer.fit(problem.train, { epochs, resume: resumeFrom !== undefined });
      const out = { params: parameterValues(model), state: rule.getState() };
      trainer.dispose();
      model.dispose();
      return out;
    };
    const whole = await run(2);
    await run(1);
    const resumed = await run(2, join(dir, '1'));
    expect(resumed).toEqual(whole);
    expect(whole.state.weighting).toEqual({ steps: 8 });
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects bad options with MtlError naming them', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isMtlError(e) ? `${e.code}:${String(e.details['option'])}` : String(e);
      }
      return 'no error';
    };
    expect(code(() => itMtl({ candidate: ['sum'] } as never))).toBe('INVALID_OPTION:candidate');
    expect(code(() => itMtl({ candidates: [] }))).toBe('INVALID_OPTION:candidates');
    expect(code(() => itMtl({ candidates: ['mean' as never] }))).toBe('INVALID_OPTION:candidates[0]');
    expect(code(() => itMtl({ candidates: [{ tasks: [] }] }))).toBe('INVALID_OPTION:candidates[0].tasks');
    expect(code(() => itMtl({ candidates: ['sum', { ...literalPcgrad, space: 'representation' }] }))).toBe('INVALID_OPTION:candidates[1]');
    expect(code(() => itMtl({ weights: { a: 1 }, weighting: driftingWeights }))).toBe('INVALID_OPTION:weights');
    expect(code(() => itMtl({ weights: { a: -1 } }))).toBe('INVALID_OPTION:weights.a');
    expect(code(() => itMtl({ heads: 'none' as never }))).toBe('INVALID_OPTION:heads');
    expect(code(() => itMtl().setState(null))).toBe('CHECKPOINT:undefined');
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [4], seed: 3 });
    const optimizer = sgd(0.1);
    for (const rule of [itMtl({ candidates: [{ tasks: ['nope'] }] }), itMtl({ weights: { nope: 1 } }), itMtl({ candidates: ['sum', 'sum'] })]) {
      const trainer = new Trainer({ model, tasks: problem.tasks, optimizer, rule, batchSize: 16 });
      expect(code(() => trainer.runSteps(problem.train, 1))).toMatch(/^(UNKNOWN_TASK|INVALID_OPTION):/);
      trainer.dispose();
    }
    model.dispose();
  });
});
