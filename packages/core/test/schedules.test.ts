import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import './setup.js';
import {
  Optimizer,
  ParamSnapshot,
  Trainer,
  clipByGlobalNorm,
  cosineDecay,
  exponentialDecay,
  hardSharingMlp,
  momentum,
  scheduledLearningRate,
  sgd,
  stepDecay,
  tf,
  type Parameter,
} from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const param = (key: string, value: number[]): Parameter => ({ key, variable: tf.variable(tf.tensor1d(value), true, `sched-test/${key}/${Math.random()}`) });

describe('learning-rate schedules', () => {
  it('step, exponential and cosine with warm-up give the documented rates', () => {
    const step = stepDecay({ stepSize: 2, gamma: 0.5 });
    expect([0, 1, 2, 3, 4, 5].map((t) => scheduledLearningRate(0.1, step, t))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    const exp = exponentialDecay({ gamma: 0.9 });
    [1, 0.9, 0.81, 0.729].forEach((lr, t) => expect(scheduledLearningRate(1, exp, t)).toBeCloseTo(lr, 12));
    const cos = cosineDecay({ totalSteps: 10, warmupSteps: 2, minLearningRate: 0.01 });
    const at = (t: number) => scheduledLearningRate(0.1, cos, t);
    expect(at(0)).toBeCloseTo(0.05, 12); // warm-up 1/2
    expect(at(1)).toBeCloseTo(0.1, 12);
    expect(at(2)).toBeCloseTo(0.1, 12); // cosine starts at the base rate
    expect(at(4)).toBeCloseTo(0.01 + 0.09 * 0.5 * (1 + Math.SQRT1_2), 12); // progress 1/4
    expect(at(6)).toBeCloseTo(0.055, 12); // progress 1/2
    expect(at(10)).toBeCloseTo(0.01, 12);
    expect(at(50)).toBe(0.01);
  });

  it('the optimizer steps with the scheduled rate; advanceSchedule moves it; snapshots carry the position', () => {
    const p = param('p', [0]);
    const opt = sgd(0.1, { schedule: stepDecay({ stepSize: 2, gamma: 0.5 }) });
    const grad = new Map([['p', tf.tensor1d([1])]]);
    for (let i = 0; i < 4; i++) {
      opt.apply([p], grad);
      opt.advanceSchedule();
    }
    expect(p.variable.dataSync()[0]).toBeCloseTo(-(0.1 + 0.1 + 0.05 + 0.05), 6);
    expect(opt.learningRate).toBeCloseTo(0.025, 12);
    const snap = opt.snapshot();
    const other = sgd(0.1, { schedule: stepDecay({ stepSize: 2, gamma: 0.5 }) });
    other.restore(snap);
    expect(other.scheduleStep).toBe(4);
    expect(other.learningRate).toBeCloseTo(0.025, 12);
    // reset() forgets moments and step counts, not the training progress the schedule follows.
    other.reset();
    expect(other.scheduleStep).toBe(4);
    expect(other.snapshot().steps).toEqual({});
    // The positional forms give the same schedules.
    expect(stepDecay(2, 0.5)).toEqual(stepDecay({ stepSize: 2, gamma: 0.5 }));
    expect(exponentialDecay(0.9)).toEqual(exponentialDecay({ gamma: 0.9 }));
    expect(cosineDecay(10, { warmupSteps: 2 })).toEqual(cosineDecay({ totalSteps: 10, warmupSteps: 2 }));
    expect(() => stepDecay({ stepSize: 2, gama: 0.5 } as never)).toThrow(/stepDecay\.gama/);
    snap.slots.dispose();
    p.variable.dispose();
    grad.get('p')!.dispose();
  });

  it('rejects bad schedules and unknown optimizer settings', () => {
    expect(() => stepDecay({ stepSize: 0 })).toThrow(/stepSize/);
    expect(() => cosineDecay({ totalSteps: 5, warmupSteps: 5 })).toThrow(/warmupSteps/);
    expect(() => new Optimizer({ kind: 'sgd', learningRate: 0.1, lr: 1 } as never)).toThrow(/optimizer\.lr/);
    expect(() => new Optimizer({ kind: 'sgd', learningRate: 0.1, schedule: { kind: 'step', stepSize: 2, gamma: 0.5, every: 1 } as never })).toThrow(/schedule\.every/);
    expect(() => sgd(0.1, { clipNorm: -1 })).toThrow(/clipNorm/);
  });
});

describe('clipping by global norm', () => {
  it('scales all gradients of one step together, as clip_grad_norm_', () => {
    const a = param('a', [0]);
    const b = param('b', [0]);
    const grads = new Map([
      ['a', tf.tensor1d([3])],
      ['b', tf.tensor1d([4])],
    ]);
    const { norm, grads: clipped } = clipByGlobalNorm(grads, 1);
    expect(norm).toBeCloseTo(5, 6);
    expect(clipped.get('a')!.dataSync()[0]).toBeCloseTo(3 / (5 + 1e-6), 6);
    tf.dispose([...clipped.values()]);
    sgd(1, { clipNorm: 1 }).apply([a, b], grads);
    expect([a.variable.dataSync()[0], b.variable.dataSync()[0]].map((v) => Number(v!.toFixed(5)))).toEqual([-0.6, -0.8]);
    sgd(1, { clipNorm: 10 }).apply([a, b], grads); // norm 5 < 10: unchanged gradients
    expect(a.variable.dataSync()[0]).toBeCloseTo(-3.6, 5);
    // Only the parameters stepped count: a alone has norm 3 → scaled to 1.
    sgd(1, { clipNorm: 1 }).apply([a], grads);
    expect(a.variable.dataSync()[0]).toBeCloseTo(-4.6, 5);
    // preview clips the same way.
    const preview = momentum(1, { clipNorm: 1 }).preview([a, b], grads);
    expect(preview.get('b')!.dataSync()[0]).toBeCloseTo(-4.8 - 0.8, 5); // b is at −4.8 after the two steps above
    tf.dispose([...preview.values(), ...grads.values(), a.variable, b.variable]);
  });
});

describe('schedules in the trainer', () => {
  const problem = toyTwoTaskProblem({ seed: 5, size: 96 });
  const makeModel = (seed = 1) => hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed });
  const flat = (m: ReturnType<typeof makeModel>) => {
    const s = ParamSnapshot.capture(m.parameters);
    const v = Array.from(s.flatten());
    s.dispose();
    return v;
  };
  const optimizer = () => momentum(0.05, { schedule: cosineDecay({ totalSteps: 24, warmupSteps: 3 }), clipNorm: 0.5 });

  it('advances the schedule once per step (fit and runSteps) and a resumed run continues it exactly', async () => {
    const t = new Trainer({ model: makeModel(), tasks: problem.tasks, optimizer: optimizer(), batchSize: 32, seed: 2 });
    t.runSteps(problem.train, 5);
    expect(t.optimizer.scheduleStep).toBe(5);
    expect(t.optimizer.learningRate).toBeCloseTo(scheduledLearningRate(0.05, cosineDecay({ totalSteps: 24, warmupSteps: 3 }), 5), 12);
    t.model.dispose();

    const straight = makeModel();
    await new Trainer({ model: straight, tasks: problem.tasks, optimizer: optimizer(), batchSize: 32, seed: 2 }).fit(problem.train, { epochs: 6 });
    const dir = mkdtempSync(join(tmpdir(), 'mtl-sched-test-'));
    dirs.push(dir);
    const first = makeModel();
    await new Trainer({ model: first, tasks: problem.tasks, optimizer: optimizer(), batchSize: 32, seed: 2, checkpoint: { dir } }).fit(problem.train, { epochs: 3 });
    first.dispose();
    const resumed = makeModel(7);
    const t2 = new Trainer({ model: resumed, tasks: problem.tasks, optimizer: optimizer(), batchSize: 32, seed: 2, checkpoint: { dir } });
    await t2.fit(problem.train, { epochs: 6, resume: true });
    expect(t2.optimizer.scheduleStep).toBe(18);
    const a = flat(straight);
    flat(resumed).forEach((v, i) => expect(v).toBeCloseTo(a[i]!, 6));
    straight.dispose();
    resumed.dispose();
  });
});
