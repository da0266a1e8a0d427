import { describe, expect, it } from 'vitest';
import './setup.js';
import {
  ComposedModel,
  ParamSnapshot,
  batchNormLayer,
  computeTaskGradients,
  convLayer,
  disposeTaskGradients,
  dropoutLayer,
  globalAveragePoolLayer,
  inMemoryDataset,
  regressionTask,
  residualBlock,
  sequential,
  tf,
  toBatch,
  treeModel,
  type ApplyContext,
  type MultiTaskModel,
  type Parameter,
  type ParameterFactory,
  type BufferFactory,
} from '../src/index.js';
import { SeededRandom } from '../src/random.js';

/** Factories that record what they made (variables disposed by the caller). */
function factories() {
  const made: Parameter[] = [];
  const buffers: Parameter[] = [];
  let n = 0;
  const make: ParameterFactory = (key, initial) => {
    const p = { key, variable: tf.variable(initial, true, `layers-test-${n++}`) };
    initial.dispose();
    made.push(p);
    return p;
  };
  const buffer: BufferFactory = (key, initial) => {
    const b = { key, variable: tf.variable(initial, false, `layers-test-${n++}`) };
    initial.dispose();
    buffers.push(b);
    return b;
  };
  return { make, buffer, made, buffers, dispose: () => [...made, ...buffers].forEach((p) => p.variable.dispose()) };
}

const train = (x: tf.Tensor, seed = 1): ApplyContext => ({ training: true, seed, inputId: x.id });

describe('batch normalisation', () => {
  it('normalises with the batch statistics in training and moves the running ones once per input', () => {
    const f = factories();
    const bn = batchNormLayer(f.make, f.buffer, 'bn', 2);
    const rows = [
      [1, 10],
      [2, 20],
      [4, 40],
      [5, 30],
    ];
    const x = tf.tensor2d(rows);
    const y = tf.tidy(() => bn.apply(x, train(x)).arraySync() as number[][]);
    for (let c = 0; c < 2; c++) {
      const col = rows.map((r) => r[c]!);
      const mean = col.reduce((a, b) => a + b, 0) / 4;
      const biased = col.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
      col.forEach((v, i) => expect(y[i]![c]!).toBeCloseTo((v - mean) / Math.sqrt(biased + 1e-5), 4));
      const unbiased = (biased * 4) / 3;
      expect(f.buffers[0]!.variable.dataSync()[c]!).toBeCloseTo(0.1 * mean, 5);
      expect(f.buffers[1]!.variable.dataSync()[c]!).toBeCloseTo(0.9 + 0.1 * unbiased, 4);
    }
    // Another pass over the same input (a second task's backward pass): statistics do not move again.
    const before = Array.from(f.buffers[0]!.variable.dataSync());
    tf.tidy(() => void bn.apply(x, train(x)));
    expect(Array.from(f.buffers[0]!.variable.dataSync())).toEqual(before);
    // Evaluation uses the running statistics: (x - m) / sqrt(v + eps).
    const m = f.buffers[0]!.variable.dataSync();
    const v = f.buffers[1]!.variable.dataSync();
    const e = tf.tidy(() => bn.apply(x).arraySync() as number[][]);
    rows.forEach((r, i) => r.forEach((value, c) => expect(e[i]![c]!).toBeCloseTo((value - m[c]!) / Math.sqrt(v[c]! + 1e-5), 4)));
    x.dispose();
    f.dispose();
  });
});

describe('dropout', () => {
  it('is the identity in evaluation; in training drops ≈ rate of the units, scales the rest, and is fixed by the seed', () => {
    const layer = dropoutLayer('drop', 0.25);
    const x = tf.ones([200, 50]);
    tf.tidy(() => {
      expect(Array.from(layer.apply(x).dataSync()).every((v) => v === 1)).toBe(true);
      expect(Array.from(layer.apply(x, { ...train(x), training: false }).dataSync()).every((v) => v === 1)).toBe(true);
      const a = layer.apply(x, train(x, 7)).dataSync();
      const b = layer.apply(x, train(x, 7)).dataSync();
      const c = layer.apply(x, train(x, 8)).dataSync();
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(Array.from(a)).not.toEqual(Array.from(c));
      const zeros = Array.from(a).filter((v) => v === 0).length / a.length;
      expect(zeros).toBeGreaterThan(0.22);
      expect(zeros).toBeLessThan(0.28);
      expect(Array.from(a).every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    });
    x.dispose();
    expect(() => dropoutLayer('drop', 1)).toThrow(/drop.rate/);
  });
});

describe('convolutions and pooling', () => {
  it("'same' padding with stride gives ⌈n / stride⌉ and zero-pads the border", () => {
    const f = factories();
    const rng = new SeededRandom(1);
    const conv = convLayer(f.make, rng, 'c', 1, { filters: 1, kernelSize: 3, stride: 2, padding: 'same', activation: 'linear' });
    f.made[0]!.variable.assign(tf.ones([3, 3, 1, 1]));
    const x = tf.ones([1, 5, 5, 1]);
    const y = tf.tidy(() => conv.apply(x).arraySync() as number[][][][]);
    expect([y[0]!.length, y[0]![0]!.length]).toEqual([3, 3]);
    // tfjs 'same' with stride 2 on 5: output rows sample at 0, 2, 4 with one zero row of padding on each side.
    expect(y[0]![0]![0]![0]).toBe(4);
    expect(y[0]![1]![1]![0]).toBe(9);
    expect(y[0]![2]![2]![0]).toBe(4);
    x.dispose();
    f.dispose();
  });

  it('global average pooling is the mean over height and width', () => {
    const x = tf.tensor4d([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
    expect(Array.from(tf.tidy(() => globalAveragePoolLayer().apply(x).dataSync()))).toEqual([(1 + 3 + 10 + 30) / 4, (2 + 4 + 20 + 40) / 4]);
    x.dispose();
  });

  it('a residual block with zero convolutions is relu(x) (identity shortcut) and strides to ⌈n / 2⌉ with a projection', () => {
    const f = factories();
    const rng = new SeededRandom(2);
    const block = residualBlock(f.make, f.buffer, rng, 'res', 2, { filters: 2 });
    for (const p of f.made.filter((q) => q.key.endsWith('kernel'))) p.variable.assign(tf.zerosLike(p.variable));
    const x = tf.tensor4d([-1, 2, 3, -4, 5, -6, 7, 8], [1, 2, 2, 2]);
    expect(Array.from(tf.tidy(() => block.apply(x).dataSync()))).toEqual([0, 2, 3, 0, 5, 0, 7, 8]);
    const strided = residualBlock(f.make, f.buffer, rng, 'res2', 2, { filters: 3, stride: 2 });
    const big = tf.zeros([2, 5, 5, 2]);
    expect(tf.tidy(() => strided.apply(big, train(big)).shape)).toEqual([2, 3, 3, 3]);
    expect(strided.buffers!.map((b) => b.key)).toContain('res2/shortcutBn/movingMean');
    tf.dispose([x, big]);
    f.dispose();
  });
});

function bnTree(seed = 1): MultiTaskModel {
  return treeModel({
    inputShape: [3],
    tasks: [regressionTask('a'), regressionTask('b')],
    seed,
    modules: [{ name: 'trunk', layers: [{ type: 'dense', units: 4, activation: 'linear' }, { type: 'batchNorm' }, { type: 'activation', activation: 'tanh' }, { type: 'dropout', rate: 0.3 }] }],
  });
}

function batch(seed: number, n = 6) {
  const rng = new SeededRandom(seed);
  const ds = inMemoryDataset({
    x: Array.from({ length: n * 3 }, () => rng.normal()),
    inputShape: [3],
    targets: { a: Array.from({ length: n }, () => rng.normal()), b: Array.from({ length: n }, () => rng.normal()) },
  });
  return toBatch(ds.gather(Array.from({ length: n }, (_, i) => i)), [3], [regressionTask('a'), regressionTask('b')]);
}

describe('models with buffers', () => {
  it('snapshots of a model carry its BatchNorm statistics through capture, lerp and restore', () => {
    const model = bnTree();
    expect(model.buffers!.map((b) => b.key)).toEqual(['trunk/batchNorm1/movingMean', 'trunk/batchNorm1/movingVariance']);
    const start = ParamSnapshot.capture(model);
    expect(start.keys).toEqual([...model.parameters, ...model.buffers!].map((p) => p.key));
    const b = batch(1);
    tf.tidy(() => void model.forward(b.x, { training: true, seed: 1 }));
    const moved = ParamSnapshot.capture(model);
    const half = ParamSnapshot.lerp(start, moved, 0.5);
    const [m0, m1, mh] = [start, moved, half].map((s) => Array.from(s.get('trunk/batchNorm1/movingMean').dataSync()));
    mh!.forEach((v, i) => expect(v).toBeCloseTo((m0![i]! + m1![i]!) / 2, 6));
    half.restore(model);
    expect(Array.from(model.buffers![0]!.variable.dataSync())).toEqual(mh);
    const copy = model.clone();
    expect(Array.from(copy.buffers![0]!.variable.dataSync())).toEqual(mh);
    [start, moved, half].forEach((s) => s.dispose());
    copy.dispose();
    model.dispose();
  });

  it('training and evaluation passes differ only when the model has BatchNorm or dropout', () => {
    const b = batch(2);
    const plain = treeModel({ inputShape: [3], tasks: [regressionTask('a'), regressionTask('b')], modules: [{ name: 't', layers: [{ type: 'dense', units: 4 }] }] });
    const withBn = bnTree();
    tf.tidy(() => {
      const same = [plain.forward(b.x), plain.forward(b.x, { training: true })].map((o) => Array.from(o['a']!.dataSync()));
      expect(same[0]).toEqual(same[1]);
      const differ = [withBn.forward(b.x), withBn.forward(b.x, { training: true, seed: 3 })].map((o) => Array.from(o['a']!.dataSync()));
      expect(differ[0]).not.toEqual(differ[1]);
      // Equal seeds, equal training outputs (one mask per seed).
      expect(Array.from(withBn.forward(b.x, { training: true, seed: 3 })['a']!.dataSync())).toEqual(differ[1]);
    });
    plain.dispose();
    withBn.dispose();
  });

  it('per-task gradients through BatchNorm and dropout match finite differences of the training loss at the same seed', () => {
    const model = bnTree(4);
    const b = batch(3);
    const task = regressionTask('a');
    const g = computeTaskGradients(model, [task, regressionTask('b')], b, 'parameters', { forward: { training: true, seed: 11 } });
    const row = tf.tidy(() => tf.slice(g.jacobian, [0, 0], [1, -1]).dataSync());
    for (const key of ['trunk/dense0/kernel', 'trunk/batchNorm1/gamma', 'trunk/batchNorm1/beta']) {
      const p = model.parameters.find((q) => q.key === key)!;
      const entry = g.sharedLayout.entry(key);
      const original = p.variable.dataSync().slice();
      for (const index of [0, entry.size - 1]) {
        const at = (delta: number) => {
          const values = original.slice();
          values[index] = values[index]! + delta;
          p.variable.assign(tf.tensor(values, p.variable.shape));
          return tf.tidy(() => task.loss(model.forward(b.x, { training: true, seed: 11 })['a']!, b.targets['a']!).dataSync()[0]!);
        };
        expect(row[entry.offset + index]!).toBeCloseTo((at(1e-2) - at(-1e-2)) / 2e-2, 2);
        p.variable.assign(tf.tensor(original, p.variable.shape));
      }
    }
    disposeTaskGradients(g);
    model.dispose();
  });

  it('a ComposedModel factory can make buffers; modules get the pass context', () => {
    const seen: boolean[] = [];
    const model = new ComposedModel([2], (make, buffer) => {
      const f = make('w', tf.ones([2, 1]));
      buffer('count', tf.zeros([1]));
      const trunk = sequential([{ parameters: [f], apply: (x, context) => (seen.push(context?.training ?? false), tf.matMul(x, f.variable)) }]);
      return { trunk, heads: { a: { parameters: [], apply: (z) => z } } };
    });
    const x = tf.ones([1, 2]);
    tf.tidy(() => {
      model.forward(x);
      model.forward(x, { training: true });
    });
    expect(seen).toEqual([false, true]);
    expect(model.buffers.map((b) => b.key)).toEqual(['count']);
    x.dispose();
    model.dispose();
  });
});
