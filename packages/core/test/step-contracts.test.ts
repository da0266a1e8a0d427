import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import './setup.js';
import {
  ComposedModel,
  MtlError,
  Optimizer,
  ParamSnapshot,
  SeededRandom,
  Trainer,
  TrainingStepContext,
  adam,
  inMemoryDataset,
  momentum,
  regressionTask,
  sgd,
  tf,
  weightedSum,
  type OptimizerConfig,
  type UpdateRule,
} from '../src/index.js';

/**
 * A model small enough to differentiate by hand: z = w·x + c (shared), ŷ_A = a·z, ŷ_B = b·z (·α when
 * α is present: an architecture parameter). One example x = 2 with targets y_A = 1, y_B = −1, so
 * L_A = (a z − 1)², L_B = (b z + 1)².
 */
const tasks = [regressionTask('A'), regressionTask('B')];
interface Values {
  w: number;
  c: number;
  a: number;
  b: number;
}
const START: Values = { w: 1, c: 0, a: 0.25, b: 0.25 };

function scalarModel(init: Values = START, alpha?: number) {
  return new ComposedModel([1], (make) => {
    const w = make('trunk/w', tf.scalar(init.w));
    const c = make('trunk/c', tf.scalar(init.c));
    const a = make('A/a', tf.scalar(init.a), 'A');
    const b = make('B/b', tf.scalar(init.b), 'B');
    const s = alpha === undefined ? undefined : make('arch/alpha', tf.scalar(alpha), undefined, { role: 'architecture' });
    return {
      trunk: { parameters: [w, c], apply: (x) => tf.add(tf.mul(x, w.variable), c.variable) },
      heads: {
        A: { parameters: [a], apply: (z) => tf.mul(z, a.variable) },
        B: { parameters: s ? [b, s] : [b], apply: (z) => (s ? tf.mul(tf.mul(z, b.variable), s.variable) : tf.mul(z, b.variable)) },
      },
    };
  });
}

const makeBatch = () => tf.tidy(() => ({ size: 1, x: tf.tensor2d([[2]]), targets: { A: tf.tensor1d([1]), B: tf.tensor1d([-1]) } }));

/** Hand-derived loss gradients of the scalar model (float64), weighted by task. */
function handGradients(p: Values, weights: readonly [number, number]): Values {
  const z = 2 * p.w + p.c;
  const rA = p.a * z - 1;
  const rB = p.b * z + 1;
  const dzA = 2 * rA * p.a; // ∂L_A/∂z
  const dzB = 2 * rB * p.b;
  return { w: 2 * (weights[0] * dzA + weights[1] * dzB), c: weights[0] * dzA + weights[1] * dzB, a: weights[0] * 2 * rA * z, b: weights[1] * 2 * rB * z };
}
const handLosses = (p: Values) => {
  const z = 2 * p.w + p.c;
  return [(p.a * z - 1) ** 2, (p.b * z + 1) ** 2];
};

/** PyTorch's SGD / momentum SGD / Adam, per parameter, written out in float64. */
class ReferenceOptimizer {
  private readonly m = new Map<string, number>();
  private readonly v = new Map<string, number>();
  readonly steps = new Map<string, number>();
  constructor(private readonly config: OptimizerConfig) {}
  step(key: string, theta: number, g: number): number {
    const t = (this.steps.get(key) ?? 0) + 1;
    this.steps.set(key, t);
    const lr = this.config.learningRate;
    if (this.config.kind === 'sgd') return theta - lr * g;
    if (this.config.kind === 'momentum') {
      const mu = this.config.momentum ?? 0.9;
      const m = this.m.has(key) ? mu * this.m.get(key)! + g : g;
      this.m.set(key, m);
      return theta - lr * m;
    }
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const m = b1 * (this.m.get(key) ?? 0) + (1 - b1) * g;
    const v = b2 * (this.v.get(key) ?? 0) + (1 - b2) * g * g;
    this.m.set(key, m);
    this.v.set(key, v);
    return theta - (lr * (m / (1 - b1 ** t))) / (Math.sqrt(v / (1 - b2 ** t)) + eps);
  }
}

const KEYS = { w: 'trunk/w', c: 'trunk/c', a: 'A/a', b: 'B/b' } as const;
const valuesOf = (model: ComposedModel): Values => {
  const get = (key: string) => model.parameters.find((p) => p.key === key)!.variable.dataSync()[0]!;
  return { w: get(KEYS.w), c: get(KEYS.c), a: get(KEYS.a), b: get(KEYS.b) };
};

function inStep<T>(model: ComposedModel, optimizer: Optimizer, step: number, body: (ctx: TrainingStepContext) => T, frozen?: ReadonlySet<string>): T {
  const batch = makeBatch();
  const ctx = new TrainingStepContext({ step, epoch: 0, model, tasks, batch, optimizer, random: new SeededRandom(1), ...(frozen ? { frozen } : {}) });
  let out!: T;
  try {
    tf.tidy(() => {
      out = body(ctx);
    });
    return out;
  } finally {
    ctx.release();
    batch.x.dispose();
    Object.values(batch.targets).forEach((t) => t.dispose());
  }
}

const optimizers: [string, OptimizerConfig][] = [
  ['SGD', { kind: 'sgd', learningRate: 0.1 }],
  ['momentum', { kind: 'momentum', learningRate: 0.05, momentum: 0.9 }],
  ['Adam', { kind: 'adam', learningRate: 0.05 }],
];

describe('step context: caches describe the parameters as they are now', () => {
  it('losses() and taskGradients() after applyGradients are those of the updated model', () => {
    const model = scalarModel();
    const jac = (ctx: TrainingStepContext) => Array.from(ctx.taskGradients().jacobian.dataSync());
    const seen = inStep(model, sgd(0.1), 0, (ctx) => {
      const before = { losses: [...ctx.losses()], jacobian: jac(ctx) };
      ctx.applyGradients(ctx.weightedLossGradients([1, 1]));
      return { before, after: { losses: [...ctx.losses()], jacobian: jac(ctx) } };
    });
    // By hand: L = [0.25, 2.25]; rows [∂w, ∂c] = [-0.5, -0.25], [1.5, 0.75].
    expect(seen.before.losses).toEqual([0.25, 2.25]);
    expect(seen.before.jacobian).toEqual([-0.5, -0.25, 1.5, 0.75]);
    // SGD 0.1 on g = (w 1, c 0.5, a −2, b 6): w 0.9, c −0.05, a 0.45, b −0.35, z 1.75.
    const after = [(0.45 * 1.75 - 1) ** 2, (-0.35 * 1.75 + 1) ** 2];
    seen.after.losses.forEach((l, i) => expect(l).toBeCloseTo(after[i]!, 6));
    expect(after[0]).toBeCloseTo(0.04515625, 12);
    const dzA = 2 * (0.45 * 1.75 - 1) * 0.45;
    const dzB = 2 * (-0.35 * 1.75 + 1) * -0.35;
    [2 * dzA, dzA, 2 * dzB, dzB].forEach((g, i) => expect(seen.after.jacobian[i]).toBeCloseTo(g, 5));
    model.dispose();
  });

  it('lookahead: inside, the lookahead values; after, the cached values of before', () => {
    const model = scalarModel();
    inStep(model, sgd(0.1), 0, (ctx) => {
      expect(ctx.losses()).toEqual([0.25, 2.25]);
      const inside = ctx.lookahead(new Map([[KEYS.a, tf.scalar(0.5)]]), () => [...ctx.losses()]);
      expect(inside).toEqual([0, 2.25]); // a z − 1 = 0
      expect(ctx.losses()).toEqual([0.25, 2.25]);
    });
    model.dispose();
  });

  it('a context from withBatch sees updates made through the first one', () => {
    const model = scalarModel();
    inStep(model, sgd(0.1), 0, (ctx) => {
      const other = tf.tidy(() => ({ size: 1, x: tf.keep(tf.tensor2d([[1]])), targets: { A: tf.keep(tf.tensor1d([0])), B: tf.keep(tf.tensor1d([0])) } }));
      const view = ctx.withBatch(other);
      expect(view.losses()).toEqual([0.0625, 0.0625]); // z = 1: (0.25)², (0.25)²
      ctx.applyGradients(ctx.weightedLossGradients([1, 1]), { parameters: model.taskParameters('A') }); // a → 0.45
      expect(view.losses()[0]).toBeCloseTo(0.45 ** 2, 6);
    });
    model.dispose();
  });
});

describe('step context: parameters an update does not cover keep their values and optimizer state', () => {
  it.each(optimizers)('%s: a task of weight 0 leaves its head and the head\'s state alone (5 normal steps, then 3 at weight 0)', (_name, config) => {
    const model = scalarModel();
    const optimizer = new Optimizer(config);
    const reference = new ReferenceOptimizer(config);
    let expected = { ...START };
    for (let step = 0; step < 8; step++) {
      const weights: [number, number] = step < 5 ? [1, 1] : [1, 0];
      inStep(model, optimizer, step, (ctx) => ctx.applyGradients(ctx.weightedLossGradients(weights)));
      const g = handGradients(expected, weights);
      const next = { ...expected };
      for (const k of ['w', 'c', 'a', 'b'] as const) {
        if (k === 'b' && weights[1] === 0) continue; // no gradient entry: not stepped at all
        next[k] = reference.step(k, expected[k], g[k]);
      }
      expected = next;
    }
    const actual = valuesOf(model);
    for (const k of ['w', 'c', 'a', 'b'] as const) expect(actual[k]).toBeCloseTo(expected[k], 5);
    const snapshot = optimizer.snapshot();
    expect(snapshot.steps).toEqual({ [KEYS.w]: 8, [KEYS.c]: 8, [KEYS.a]: 8, [KEYS.b]: 5 });
    snapshot.slots.dispose();
    model.dispose();
  });

  it.each(optimizers)('%s: headWeights 0 freezes that head (value and state)', (_name, config) => {
    const model = scalarModel();
    const optimizer = new Optimizer(config);
    for (let step = 0; step < 2; step++) inStep(model, optimizer, step, (ctx) => ctx.applyGradients(ctx.weightedLossGradients([1, 1])));
    const b = valuesOf(model).b;
    const stateBefore = optimizer.snapshot();
    for (let step = 2; step < 5; step++) {
      inStep(model, optimizer, step, (ctx) => {
        const sum = tf.sum<tf.Tensor1D>(ctx.taskGradients().jacobian, 0);
        const grads = ctx.gradientsFromDirection(sum, { headWeights: [1, 0] });
        expect([...grads.keys()].sort()).toEqual([KEYS.a, KEYS.c, KEYS.w]);
        ctx.applyGradients(grads);
      });
    }
    expect(valuesOf(model).b).toBe(b);
    const stateAfter = optimizer.snapshot();
    expect(stateAfter.steps[KEYS.b]).toBe(2);
    for (const key of stateBefore.slots.keys.filter((k) => k.startsWith(`${KEYS.b}::`))) {
      expect(Array.from(stateAfter.slots.get(key).dataSync())).toEqual(Array.from(stateBefore.slots.get(key).dataSync()));
    }
    stateBefore.slots.dispose();
    stateAfter.slots.dispose();
    model.dispose();
  });

  it.each(optimizers)('%s: parameters not named in applyGradients keep value and state; frozen ones too', (_name, config) => {
    const model = scalarModel();
    const optimizer = new Optimizer(config);
    const reference = new ReferenceOptimizer(config);
    const frozen = new Set([KEYS.c]);
    let expected = { ...START };
    for (let step = 0; step < 3; step++) {
      const shared = model.sharedParameters;
      inStep(model, optimizer, step, (ctx) => ctx.applyGradients(ctx.weightedLossGradients([1, 1]), { parameters: shared }), frozen);
      expected = { ...expected, w: reference.step('w', expected.w, handGradients(expected, [1, 1]).w) };
    }
    const actual = valuesOf(model);
    expect(actual.w).toBeCloseTo(expected.w, 5);
    expect([actual.c, actual.a, actual.b]).toEqual([START.c, START.a, START.b]);
    const snapshot = optimizer.snapshot();
    expect(snapshot.steps).toEqual({ [KEYS.w]: 3 });
    expect(snapshot.slots.keys.every((k) => k.startsWith(`${KEYS.w}::`))).toBe(true);
    snapshot.slots.dispose();
    model.dispose();
  });
});

describe('step context: stepTasks', () => {
  it('steps shared + the group\'s heads on the group loss and reports all losses before and after', () => {
    const model = scalarModel();
    const result = inStep(model, sgd(0.1), 0, (ctx) => ctx.stepTasks(['A']));
    // By hand: group A gradients w −0.5, c −0.25, a −2 → w 1.05, c 0.025, a 0.45; b stays; z 2.125.
    expect(result.before).toEqual([0.25, 2.25]);
    expect(result.after[0]).toBeCloseTo(0.0019140625, 6);
    expect(result.after[1]).toBeCloseTo(2.3447265625, 5);
    const v = valuesOf(model);
    [v.w, v.c, v.a].forEach((x, i) => expect(x).toBeCloseTo([1.05, 0.025, 0.45][i]!, 6));
    expect(v.b).toBe(0.25);
    model.dispose();
  });

  it('weights, lrScale and headLrScale scale the step as documented', () => {
    const model = scalarModel();
    const result = inStep(model, sgd(0.1), 0, (ctx) => ctx.stepTasks(['A'], { weights: [0.5], lrScale: 2, headLrScale: 3 }));
    // lr 0.2 on shared, 0.6 on a; gradients halved: w 1 + 0.2·0.25, c 0 + 0.2·0.125, a 0.25 + 0.6·1.
    const v = valuesOf(model);
    expect(v.w).toBeCloseTo(1.05, 6);
    expect(v.c).toBeCloseTo(0.025, 6);
    expect(v.a).toBeCloseTo(0.85, 6);
    expect(result.after[0]).toBeCloseTo((0.85 * 2.125 - 1) ** 2, 5);
    model.dispose();
  });

  it('weights may be given by task name; a name outside the group is UNKNOWN_TASK', () => {
    const byName = scalarModel();
    const byOrder = scalarModel();
    inStep(byName, sgd(0.1), 0, (ctx) => ctx.stepTasks(['B', 'A'], { weights: { A: 0.5 } }));
    inStep(byOrder, sgd(0.1), 0, (ctx) => ctx.stepTasks(['B', 'A'], { weights: [1, 0.5] }));
    expect(valuesOf(byName)).toEqual(valuesOf(byOrder));
    // By hand: w −= 0.1·(0.5·(−0.5) + 1.5) = 0.875; a −= 0.1·0.5·(−2) → 0.35; b −= 0.1·6 → −0.35.
    const v = valuesOf(byName);
    [v.w, v.a, v.b].forEach((x, i) => expect(x).toBeCloseTo([0.875, 0.35, -0.35][i]!, 6));
    inStep(byName, sgd(0.1), 1, (ctx) => expect(() => ctx.stepTasks(['A'], { weights: { B: 1 } })).toThrow(/task "B", which is not in the group/));
    byName.dispose();
    byOrder.dispose();
  });

  it('with a rule: the rule sees only the group and can step only shared + the group\'s heads', () => {
    const model = scalarModel();
    const optimizer = momentum(0.1);
    const result = inStep(model, optimizer, 0, (ctx) => ctx.stepTasks(['B'], { rule: weightedSum() }));
    // Group B: w 1 − 0.1·1.5, c −0.075, b 0.25 − 0.6; a stays.
    const v = valuesOf(model);
    expect(v.w).toBeCloseTo(0.85, 6);
    expect(v.c).toBeCloseTo(-0.075, 6);
    expect(v.b).toBeCloseTo(-0.35, 6);
    expect(v.a).toBe(0.25);
    const z = 2 * 0.85 - 0.075;
    expect(result.after[0]).toBeCloseTo((0.25 * z - 1) ** 2, 5);
    expect(result.after[1]).toBeCloseTo((-0.35 * z + 1) ** 2, 5);
    const steps = optimizer.snapshot();
    expect(Object.keys(steps.steps).sort()).toEqual([KEYS.b, KEYS.c, KEYS.w]);
    steps.slots.dispose();
    model.dispose();
  });

  it('two groups in a row: the second step starts from the first one\'s result (no stale losses)', () => {
    const model = scalarModel();
    const [first, second] = inStep(model, sgd(0.1), 0, (ctx) => [ctx.stepTasks(['A']), ctx.stepTasks(['B'])] as const);
    expect(second.before).toEqual(first.after);
    let p: Values = { w: 1.05, c: 0.025, a: 0.45, b: 0.25 };
    const g = handGradients(p, [0, 1]);
    p = { ...p, w: p.w - 0.1 * g.w, c: p.c - 0.1 * g.c, b: p.b - 0.1 * g.b };
    handLosses(p).forEach((l, i) => expect(second.after[i]).toBeCloseTo(l, 5));
    model.dispose();
  });

  it('rejects unknown tasks, unknown options and weights with a rule', () => {
    const model = scalarModel();
    inStep(model, sgd(0.1), 0, (ctx) => {
      expect(() => ctx.stepTasks(['C'])).toThrow(/unknown task "C"/);
      expect(() => ctx.stepTasks(['A'], { lr: 1 } as never)).toThrow(/stepTasks\.lr/);
      expect(() => ctx.stepTasks(['A'], { weights: [1], rule: weightedSum() })).toThrow(MtlError);
      expect(() => ctx.stepTasks(['A'], { weights: [1, 2] })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
    });
    model.dispose();
  });
});

describe('step context: task and parameter subsets of the Jacobian', () => {
  it('rows for a task subset, columns for a shared-parameter subset', () => {
    const model = scalarModel();
    inStep(model, sgd(0.1), 0, (ctx) => {
      const c = model.sharedParameters.filter((p) => p.key === KEYS.c);
      const rows = ctx.taskGradients('parameters', { tasks: ['B'] });
      expect(rows.taskNames).toEqual(['B']);
      expect(Array.from(rows.jacobian.dataSync())).toEqual([1.5, 0.75]);
      const cols = ctx.taskGradients('parameters', { parameters: c });
      expect(cols.jacobian.shape).toEqual([2, 1]);
      expect(Array.from(cols.jacobian.dataSync())).toEqual([-0.25, 0.75]);
      expect(cols.sharedLayout.keys).toEqual([KEYS.c]);
      expect(Array.from(ctx.taskGradients('parameters', { tasks: ['A'], parameters: c }).jacobian.dataSync())).toEqual([-0.25]);
      // A direction on the column subset steps only those columns (and the listed tasks' heads).
      const grads = ctx.gradientsFromDirection(Float64Array.from([1]), { parameters: c, tasks: ['A'] });
      expect([...grads.keys()].sort()).toEqual([KEYS.a, KEYS.c]);
      expect(() => ctx.taskGradients('parameters', { parameters: model.taskParameters('A') })).toThrow(/shared parameters/);
      expect(() => ctx.taskGradients('representation', { parameters: c })).toThrow(MtlError);
      expect(() => ctx.taskGradients('parameters', { task: ['A'] } as never)).toThrow(/taskGradients\.task/);
    });
    model.dispose();
  });
});

describe('architecture parameters', () => {
  it('are outside the shared parameters, the Jacobian and the default update, but in snapshots', () => {
    const model = scalarModel(START, 2);
    expect(model.architectureParameters.map((p) => p.key)).toEqual(['arch/alpha']);
    expect(model.sharedParameters.map((p) => p.key)).toEqual([KEYS.w, KEYS.c]);
    expect(model.taskParameters('B').map((p) => p.key)).toEqual([KEYS.b]);
    const optimizer = adam(0.1);
    const alphaGrad = inStep(model, optimizer, 0, (ctx) => {
      expect(ctx.taskGradients().jacobian.shape).toEqual([2, 2]);
      // L_B = (α b z + 1)², ∂/∂α = 2 (α b z + 1) b z = 2 · 2 · 0.5 = 2.
      const g = ctx.weightedLossGradients([1, 1], { parameters: model.architectureParameters });
      const value = g.get('arch/alpha')!.dataSync()[0]!;
      ctx.applyGradients(ctx.weightedLossGradients([1, 1]));
      return value;
    });
    expect(alphaGrad).toBeCloseTo(2, 6);
    expect(model.architectureParameters[0]!.variable.dataSync()[0]).toBe(2);
    const snapshot = optimizer.snapshot();
    expect(Object.keys(snapshot.steps)).not.toContain('arch/alpha');
    snapshot.slots.dispose();
    const params = ParamSnapshot.capture(model.parameters);
    expect(params.keys).toContain('arch/alpha');
    params.dispose();
    model.dispose();
  });

  it('a rule steps them with its own optimizer on validation batches; checkpoints carry them', async () => {
    const data = inMemoryDataset({ x: [1, 2, 3, 4], inputShape: [1], targets: { A: [1, 1, 1, 1], B: [-1, -1, -1, -1] } });
    const alphaOptimizer = sgd(0.1);
    const bilevel: UpdateRule = {
      name: 'bilevel',
      step(ctx) {
        const val = ctx.withBatch(ctx.validationBatch());
        const arch = ctx.model.architectureParameters ?? [];
        alphaOptimizer.apply(arch, val.weightedLossGradients([1, 1], { parameters: arch }));
        ctx.applyGradients(ctx.weightedLossGradients([1, 1]));
      },
    };
    const model = scalarModel(START, 2);
    const dir = mkdtempSync(join(tmpdir(), 'mtl-arch-test-'));
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.01), rule: bilevel, batchSize: 2, validation: data, seed: 1 });
    trainer.runSteps(data, 3);
    const alpha = model.architectureParameters[0]!.variable.dataSync()[0]!;
    expect(alpha).not.toBe(2); // stepped by the rule's optimizer
    const state = trainer.optimizer.snapshot();
    expect(Object.keys(state.steps)).not.toContain('arch/alpha');
    state.slots.dispose();
    await trainer.saveCheckpoint(data, { dir });
    const fresh = scalarModel(START, 2);
    await new Trainer({ model: fresh, tasks, optimizer: sgd(0.01), batchSize: 2, validation: data, seed: 1 }).restoreCheckpoint(data, { dir });
    expect(fresh.architectureParameters[0]!.variable.dataSync()[0]).toBe(alpha);
    rmSync(dir, { recursive: true, force: true });
    model.dispose();
    fresh.dispose();
  });
});
