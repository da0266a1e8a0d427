import { describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, ParamSnapshot, ParameterLayout, adam, hardSharingMlp, momentum, regressionTask, sgd, tf, type Parameter } from '../src/index.js';

const tasks = [regressionTask('a'), regressionTask('b')];

function values(params: readonly Parameter[]): number[] {
  return params.flatMap((p) => Array.from(p.variable.dataSync()));
}

describe('ParamSnapshot', () => {
  it('captures, restores, flattens and interpolates', () => {
    const model = hardSharingMlp({ inputSize: 2, tasks, trunk: [3], seed: 1 });
    const other = hardSharingMlp({ inputSize: 2, tasks, trunk: [3], seed: 2 });
    const a = ParamSnapshot.capture(model.parameters);
    const b = ParamSnapshot.capture(other.parameters);
    const flatA = a.flatten();
    const flatB = b.flatten();
    expect(flatA.length).toBe(2 * 3 + 3 + 2 * (3 + 1));
    expect(Array.from(flatA)).toEqual(values(model.parameters).map(Math.fround));

    const mid = ParamSnapshot.lerp(a, b, 0.25);
    const flatMid = mid.flatten();
    flatMid.forEach((v, i) => expect(v).toBeCloseTo(0.75 * flatA[i]! + 0.25 * flatB[i]!, 6));
    expect(Array.from(ParamSnapshot.lerp(a, b, 0).flatten())).toEqual(Array.from(flatA));
    expect(Array.from(ParamSnapshot.lerp(a, b, 1).flatten())).toEqual(Array.from(flatB));

    b.restore(model.parameters);
    expect(values(model.parameters)).toEqual(values(other.parameters));
    const roundTrip = ParamSnapshot.fromData(a.toData());
    expect(Array.from(roundTrip.flatten())).toEqual(Array.from(flatA));

    const weighted = ParamSnapshot.weightedSum([a, b, mid], [0.5, 0.25, 0.25]);
    weighted.flatten().forEach((v, i) => expect(v).toBeCloseTo(0.5 * flatA[i]! + 0.25 * flatB[i]! + 0.25 * flatMid[i]!, 6));
    for (const s of [a, b, mid, roundTrip, weighted]) s.dispose();
    expect(() => a.flatten()).toThrow(MtlError);
    model.dispose();
    other.dispose();
  });

  it('does not leak and rejects mismatched layouts', () => {
    const model = hardSharingMlp({ inputSize: 2, tasks, trunk: [3], seed: 1 });
    const wider = hardSharingMlp({ inputSize: 2, tasks, trunk: [4], seed: 1 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      const a = ParamSnapshot.capture(model.parameters);
      const b = ParamSnapshot.lerp(a, a, 0.5);
      b.restore(model.parameters);
      a.dispose();
      b.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    const a = ParamSnapshot.capture(model.parameters);
    const w = ParamSnapshot.capture(wider.parameters);
    expect(() => ParamSnapshot.lerp(a, w, 0.5)).toThrow(/different parameter layouts/);
    expect(() => w.restore(model.parameters)).toThrow(MtlError);
    a.dispose();
    w.dispose();
    model.dispose();
    wider.dispose();
  });

  it('layout flattens and unflattens by key', () => {
    const layout = new ParameterLayout([
      { key: 'w', shape: [2, 2] },
      { key: 'b', shape: [3] },
    ]);
    const flat = layout.flatten(new Map([['b', tf.tensor1d([7, 8, 9])]]));
    expect(Array.from(flat.dataSync())).toEqual([0, 0, 0, 0, 7, 8, 9]);
    const back = layout.unflatten(tf.tensor1d([1, 2, 3, 4, 5, 6, 7]));
    expect(back.get('w')!.arraySync()).toEqual([[1, 2], [3, 4]]);
    expect(() => layout.unflatten(tf.tensor1d([1, 2]))).toThrow(/7/);
    expect(() => layout.flatten(new Map([['w', tf.zeros([4])]]))).toThrow(/parameter "w" has shape \[2, 2\]/);
  });
});

describe('Optimizer', () => {
  const param = (value: number[]): Parameter => ({ key: 'p', variable: tf.variable(tf.tensor1d(value)) });
  const grads = (g: number[]) => new Map([['p', tf.tensor1d(g)]]);

  it('SGD and momentum follow their update equations', () => {
    const p = param([1, 2]);
    sgd(0.1).apply([p], grads([1, -2]));
    expect(Array.from(p.variable.dataSync())).toEqual([0.9, 2.2].map(Math.fround));
    const q = param([0]);
    const opt = momentum(0.1, { momentum: 0.5 });
    opt.apply([q], new Map([['p', tf.tensor1d([1])]]));
    opt.apply([q], new Map([['p', tf.tensor1d([1])]]));
    // v1 = 1, θ1 = -0.1; v2 = 0.5 + 1 = 1.5, θ2 = -0.25
    expect(q.variable.dataSync()[0]).toBeCloseTo(-0.25, 6);
  });

  it('Adam matches the bias-corrected closed form, per parameter', () => {
    const p = param([0]);
    const untouched: Parameter = { key: 'q', variable: tf.variable(tf.tensor1d([5])) };
    const opt = adam(0.1);
    opt.apply([p, untouched], grads([2]));
    // step 1: m̂ = g, v̂ = g², update = lr * g/|g| = 0.1
    expect(p.variable.dataSync()[0]).toBeCloseTo(-0.1, 5);
    expect(untouched.variable.dataSync()[0]).toBe(5);
    opt.apply([p], grads([1]));
    const m = 0.9 * 0.1 * 2 + 0.1 * 1;
    const v = 0.999 * 0.001 * 4 + 0.001 * 1;
    const expected = -0.1 - (0.1 * (m / (1 - 0.81))) / (Math.sqrt(v / (1 - 0.998001)) + 1e-8);
    expect(p.variable.dataSync()[0]).toBeCloseTo(expected, 5);
    // A parameter first stepped later starts its own bias correction at step 1.
    opt.apply([untouched], new Map([['q', tf.tensor1d([-3])]]));
    expect(untouched.variable.dataSync()[0]).toBeCloseTo(5.1, 5);
  });

  it('preview does not change anything; snapshot/restore round-trips the state', () => {
    const p = param([1]);
    const opt = adam(0.1);
    opt.apply([p], grads([1]));
    const snap = opt.snapshot();
    const preview = opt.preview([p], grads([1])).get('p')!.dataSync()[0]!;
    expect(p.variable.dataSync()[0]).toBeCloseTo(0.9, 5);
    opt.apply([p], grads([1]));
    expect(p.variable.dataSync()[0]).toBeCloseTo(preview, 6);
    const after = p.variable.dataSync()[0]!;
    p.variable.assign(tf.tensor1d([0.9]));
    opt.restore(snap);
    opt.apply([p], grads([1]));
    expect(p.variable.dataSync()[0]).toBeCloseTo(after, 6);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) opt.restore(snap);
    expect(tf.memory().numTensors).toBe(count);
    snap.slots.dispose();
    opt.apply([p], grads([1])); // the restored state outlives the snapshot it came from
    expect(Number.isFinite(p.variable.dataSync()[0])).toBe(true);
  });

  it('rejects invalid configuration with a typed error naming the option', () => {
    expect(() => sgd(-1)).toThrow(/optimizer.learningRate/);
    expect(() => momentum(0.1, { momentum: 2 })).toThrow(/optimizer.momentum/);
    expect(() => adam(Number.NaN)).toThrow(MtlError);
  });
});
