import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import './setup.js';
import {
  SeededRandom,
  classificationTask,
  binaryTask,
  computeTaskGradients,
  disposeTaskGradients,
  fastKernelsRegistered,
  hardSharingConv,
  hardSharingMlp,
  mmoe,
  regressionTask,
  registerFastKernels,
  sharedGradientsFromDirection,
  tf,
  unregisterFastKernels,
  useBestBackend,
  type Batch,
  type MultiTaskModel,
} from '../src/index.js';

/**
 * @mtl's wasm kernels against tfjs's cpu backend (the reference implementation) on random shapes,
 * strides and paddings, plus finite differences of the gradients they produce.
 */

type Backend = 'wasm' | 'cpu';
type Attrs = Record<string, unknown>;

interface Case {
  readonly label: string;
  readonly kernel: string;
  readonly inputs: Record<string, { shape: number[]; values: Float32Array | Int32Array }>;
  readonly attrs: Attrs;
}

const rng = new SeededRandom(20240611);
function randomValues(shape: number[]): { shape: number[]; values: Float32Array } {
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return { shape, values };
}
const pick = <T>(options: readonly T[]): T => options[rng.int(options.length)]!;
const between = (lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

async function use(backend: Backend): Promise<void> {
  await useBestBackend({ backend });
}

/** Runs one kernel on a backend; checks it leaves no tensor and no backend buffer behind. */
async function runKernel(backend: Backend, c: Case): Promise<{ shape: number[]; values: Float32Array | Int32Array }> {
  await use(backend);
  const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, tf.tensor(v.values, v.shape, v.values instanceof Int32Array ? 'int32' : 'float32')]));
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  const out = tf.engine().runKernel<tf.Tensor>(c.kernel, inputs, c.attrs as never);
  const result = { shape: out.shape, values: out.dataSync() as Float32Array | Int32Array };
  out.dispose();
  expect(tf.memory().numTensors, `${c.label}: tensors leaked on ${backend}`).toBe(tensorsBefore);
  expect(tf.engine().backend.numDataIds(), `${c.label}: buffers leaked on ${backend}`).toBe(buffersBefore);
  tf.dispose(Object.values(inputs));
  return result;
}

/** max |a - b| / (max |b| + 1e-3): relative to the reference's scale. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 1e-3;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  return worst / scale;
}

async function expectMatchesCpu(c: Case): Promise<void> {
  const expected = await runKernel('cpu', c);
  const actual = await runKernel('wasm', c);
  expect(actual.shape, c.label).toEqual(expected.shape);
  expect(relativeError(actual.values, expected.values), c.label).toBeLessThan(1e-4);
}

function matMulCases(count: number): Case[] {
  return Array.from({ length: count }, (_, i) => {
    const [m, k, n] = [between(1, 40), between(1, 40), between(1, 40)];
    const transposeA = i % 2 === 1;
    const transposeB = Math.floor(i / 2) % 2 === 1;
    const [batchA, batchB] = pick([
      [[], []],
      [[3], [3]],
      [[2], [1]],
      [[1], [4]],
      [[2, 3], [2, 3]],
    ] as const);
    return {
      label: `BatchMatMul ${m}x${k}x${n} tA=${transposeA} tB=${transposeB} batch=${JSON.stringify([batchA, batchB])}`,
      kernel: 'BatchMatMul',
      inputs: {
        a: randomValues([...batchA, ...(transposeA ? [k, m] : [m, k])]),
        b: randomValues([...batchB, ...(transposeB ? [n, k] : [k, n])]),
      },
      attrs: { transposeA, transposeB },
    };
  });
}

function randomPad(filter: number): unknown {
  return pick<unknown>(['valid', 'same', between(0, filter - 1), [[0, 0], [between(0, 2), between(0, 2)], [between(0, 2), between(0, 2)], [0, 0]]]);
}

function convCases(count: number): Case[] {
  const cases: Case[] = [];
  while (cases.length < count) {
    const batch = between(1, 3);
    const [h, w] = [between(4, 11), between(4, 11)];
    const [ci, co] = [between(1, 4), between(1, 5)];
    const [fh, fw] = [between(1, 5), between(1, 5)];
    const strides = pick<number | [number, number]>([1, 2, [1, 2], [2, 1], 3]);
    const pad = randomPad(Math.min(fh, fw));
    const dataFormat = cases.length % 4 === 3 ? 'NCHW' : 'NHWC';
    const xShape = dataFormat === 'NHWC' ? [batch, h, w, ci] : [batch, ci, h, w];
    let info: tf.backend_util.Conv2DInfo;
    try {
      info = tf.backend_util.computeConv2DInfo([batch, h, w, ci], [fh, fw, ci, co], strides, 1, pad as 'valid', undefined, false, 'channelsLast');
    } catch {
      continue; // e.g. explicit padding incompatible with this shape
    }
    if (info.outHeight < 1 || info.outWidth < 1) continue;
    const dyShape = dataFormat === 'NHWC' ? [batch, info.outHeight, info.outWidth, co] : [batch, co, info.outHeight, info.outWidth];
    const label = `x=${xShape.join('x')} f=${fh}x${fw}x${ci}x${co} s=${JSON.stringify(strides)} pad=${JSON.stringify(pad)} ${dataFormat}`;
    const common = { strides, pad, dataFormat };
    cases.push({
      label: `Conv2DBackpropFilter ${label}`,
      kernel: 'Conv2DBackpropFilter',
      inputs: { x: randomValues(xShape), dy: randomValues(dyShape) },
      attrs: { ...common, filterShape: [fh, fw, ci, co] },
    });
    cases.push({
      label: `Conv2DBackpropInput ${label}`,
      kernel: 'Conv2DBackpropInput',
      inputs: { dy: randomValues(dyShape), filter: randomValues([fh, fw, ci, co]) },
      attrs: { ...common, inputShape: xShape },
    });
  }
  return cases;
}

function poolCases(count: number): Case[] {
  const cases: Case[] = [];
  while (cases.length < count) {
    const xShape = [between(1, 3), between(3, 10), between(3, 10), between(1, 5)];
    const filterSize = pick<number | [number, number]>([2, 3, [2, 3], [1, 2]]);
    const strides = pick<number | [number, number]>([1, 2, [2, 1], 3]);
    const pad = pick<unknown>(['valid', 'same', 0, 1]);
    let info: tf.backend_util.Conv2DInfo;
    try {
      info = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], filterSize, strides, 1, pad as 'valid');
    } catch {
      continue;
    }
    if (info.outHeight < 1 || info.outWidth < 1) continue;
    // Numeric padding may make windows lie wholly outside the image; tfjs itself rejects the
    // resulting inconsistent shapes differently per backend, so keep to windows that overlap it.
    if (typeof pad === 'number' && pad >= Math.min(...[filterSize].flat())) continue;
    const dyShape = [xShape[0]!, info.outHeight, info.outWidth, xShape[3]!];
    const label = `x=${xShape.join('x')} f=${JSON.stringify(filterSize)} s=${JSON.stringify(strides)} pad=${JSON.stringify(pad)}`;
    const attrs = { filterSize, strides, pad };
    cases.push({ label: `MaxPoolGrad ${label}`, kernel: 'MaxPoolGrad', inputs: { dy: randomValues(dyShape), input: randomValues(xShape) }, attrs });
    cases.push({ label: `AvgPoolGrad ${label}`, kernel: 'AvgPoolGrad', inputs: { dy: randomValues(dyShape), input: randomValues(xShape) }, attrs });
  }
  return cases;
}

function sliceCases(count: number): Case[] {
  return Array.from({ length: count }, (_, i) => {
    const shape = Array.from({ length: between(1, 5) }, () => between(1, 6));
    const begin = shape.map((d) => rng.int(d));
    // -1 means "to the end", as tfjs allows.
    const size = shape.map((d, j) => (rng.int(4) === 0 ? -1 : between(1, d - begin[j]!)));
    const x = randomValues(shape);
    const values = i % 3 === 2 ? Int32Array.from(x.values, (v) => Math.round(v * 100)) : x.values;
    return { label: `Slice ${JSON.stringify({ shape, begin, size })} ${values.constructor.name}`, kernel: 'Slice', inputs: { x: { shape, values } }, attrs: { begin, size } };
  });
}

describe('wasm kernels', () => {
  beforeAll(() => use('wasm'));
  afterAll(() => use('wasm'));

  it('are registered when wasm is activated, once', async () => {
    await use('wasm');
    expect(fastKernelsRegistered()).toBe(true);
    expect(registerFastKernels('wasm')).toEqual([]);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('BatchMatMul matches the cpu backend for every transpose and batch layout', async () => {
    for (const c of matMulCases(24)) await expectMatchesCpu(c);
  });

  it('Conv2DBackpropFilter and Conv2DBackpropInput match the cpu backend on random shapes, strides and paddings', async () => {
    for (const c of convCases(40)) await expectMatchesCpu(c);
  });

  it('MaxPoolGrad and AvgPoolGrad match the cpu backend on random shapes, strides and paddings', async () => {
    for (const c of poolCases(30)) await expectMatchesCpu(c);
  });

  it('Slice matches the cpu backend on random ranks, offsets and sizes, float and int', async () => {
    for (const c of sliceCases(30)) await expectMatchesCpu(c);
  });

  it('Identity shares the heap data (no copy) and counts references: either tensor can go first, nothing stays behind', async () => {
    await use('wasm');
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const b = tf.clone(a);
    // One heap entry for both: the clone is a second reference, not a copy.
    expect(backend.numDataIds()).toBe(before + 1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3, 4]);
    b.dispose();
    expect(backend.numDataIds()).toBe(before);
    // What the tape saves for the backward pass (clones) is right after the forward's tensors are gone.
    const initial = tf.tensor1d([0.5, -1, 2]);
    const w = tf.variable(initial);
    const { value, grads } = tf.variableGrads(() => tf.sum<tf.Scalar>(tf.mul(tf.exp(w), tf.square(w))), [w]);
    const expected = [0.5, -1, 2].map((v) => Math.exp(v) * (v * v + 2 * v));
    Array.from(grads[w.name]!.dataSync()).forEach((g, i) => expect(g).toBeCloseTo(expected[i]!, 4));
    tf.dispose([initial, w, value, grads[w.name]!]);
    expect(backend.numDataIds()).toBe(before);
    // String tensors keep the original kernel.
    const s = tf.tensor1d(['x', 'y'], 'string');
    const t = tf.clone(s);
    s.dispose();
    expect(await t.array()).toEqual(['x', 'y']);
    t.dispose();
  });

  it('Cast to the dtype a tensor has shares its data; real conversions convert, to bool as the cpu backend (x != 0)', async () => {
    await use('wasm');
    const backend = tf.engine().backend as unknown as { numDataIds(): number };
    const before = backend.numDataIds();
    const a = tf.tensor1d([1.5, -2, 0]);
    const same = tf.cast(a, 'float32');
    expect(backend.numDataIds()).toBe(before + 1);
    const asInt = tf.cast(a, 'int32');
    const asBool = tf.cast(a, 'bool');
    expect(backend.numDataIds()).toBe(before + 3);
    a.dispose();
    expect(Array.from(same.dataSync())).toEqual([1.5, -2, 0]);
    expect(Array.from(asInt.dataSync())).toEqual([1, -2, 0]);
    expect(Array.from(asBool.dataSync())).toEqual([1, 1, 0]);
    tf.dispose([same, asInt, asBool]);
    expect(backend.numDataIds()).toBe(before);
    // tfjs-wasm's own kernel kept the low byte: 256 became false, -2 became 254.
    const ints = tf.tensor1d([256, -2, 0, 1], 'int32');
    const mask = tf.cast(ints, 'bool');
    expect(Array.from(mask.dataSync())).toEqual([1, 1, 0, 1]);
    tf.dispose([ints, mask]);
  });

  it('conv and pool gradients agree with finite differences', async () => {
    await use('wasm');
    const t = (shape: number[], values = randomValues(shape).values) => tf.tensor4d(values, shape as [number, number, number, number]);
    // Distinct values 0.1 apart: a 1e-2 nudge never changes which element of a window is largest.
    const spaced = (shape: number[]) => t(shape, Float32Array.from(rng.permutation(shape.reduce((a, b) => a * b, 1)), (v) => v * 0.1));
    // Each loss is a random linear functional of one op's output, so its gradient runs exactly
    // the backward kernel under test, and (piecewise) linearity keeps differences exact.
    const checks: { name: string; inputs: tf.Tensor4D[]; loss: (...xs: tf.Tensor4D[]) => tf.Scalar }[] = [];
    const w1 = t([2, 5, 8, 4]);
    checks.push({ name: 'conv2d same [2,1]', inputs: [t([2, 9, 8, 3]), t([3, 2, 3, 4])], loss: (x, f) => tf.sum(tf.mul(tf.conv2d(x, f, [2, 1], 'same'), w1)) });
    const w2 = t([1, 3, 2, 2]);
    checks.push({ name: 'conv2d valid 2', inputs: [t([1, 7, 6, 2]), t([3, 3, 2, 2])], loss: (x, f) => tf.sum(tf.mul(tf.conv2d(x, f, 2, 'valid'), w2)) });
    const w3 = t([2, 3, 4, 3]);
    checks.push({ name: 'maxPool [2,3] same', inputs: [spaced([2, 6, 7, 3])], loss: (x) => tf.sum(tf.mul(tf.maxPool(x, [2, 3], [2, 2], 'same'), w3)) });
    const w4 = t([2, 5, 3, 3]);
    checks.push({ name: 'avgPool [1,2] valid', inputs: [t([2, 5, 7, 3])], loss: (x) => tf.sum(tf.mul(tf.avgPool(x, [1, 2], [1, 2], 'valid'), w4)) });

    for (const { name, inputs, loss } of checks) {
      const grads = tf.grads((...xs: tf.Tensor[]) => loss(...(xs as tf.Tensor4D[])))(inputs);
      inputs.forEach((input, which) => {
        const values = input.dataSync() as Float32Array;
        const analytic = grads[which]!.dataSync();
        for (let probe = 0; probe < 10; probe++) {
          const i = rng.int(values.length);
          const eps = 1e-2;
          const at = (delta: number) =>
            tf.tidy(() => {
              const shifted = values.slice();
              shifted[i]! += delta;
              const args = inputs.map((x, j) => (j === which ? t(x.shape, shifted) : x));
              return loss(...args).dataSync()[0]!;
            });
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          expect(Math.abs(numeric - analytic[i]!), `${name}: d loss / d input${which}[${i}]`).toBeLessThan(2e-3 * Math.max(1, Math.abs(analytic[i]!)));
        }
      });
      tf.dispose([...grads, ...inputs]);
    }
    tf.dispose([w1, w2, w3, w4]);
  });

  it('unregisterFastKernels restores the backend’s own kernels and registerFastKernels puts ours back', async () => {
    await use('wasm');
    const ours = tf.getKernel('BatchMatMul', 'wasm');
    unregisterFastKernels();
    expect(fastKernelsRegistered()).toBe(false);
    expect(tf.getKernel('BatchMatMul', 'wasm')).not.toBe(ours);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    expect(registerFastKernels('wasm')).toContain('Conv2DBackpropFilter');
    expect(fastKernelsRegistered()).toBe(true);
  });
});

describe('a full training step of every builder on wasm', () => {
  const tasks = [classificationTask('digit', { classes: 3 }), binaryTask('flag'), regressionTask('value', { size: 2 })];
  const builders: Record<string, { build: () => MultiTaskModel; input: number[] }> = {
    hardSharingMlp: { build: () => hardSharingMlp({ inputSize: 7, tasks, trunk: [6], head: [5], seed: 3 }), input: [7] },
    hardSharingConv: {
      build: () => hardSharingConv({ inputShape: [14, 14, 2], tasks, conv: [{ filters: 3, kernelSize: 5, pool: 2 }, { filters: 4, kernelSize: 3, pool: 2 }], dense: [6], seed: 3 }),
      input: [14, 14, 2],
    },
    mmoe: { build: () => mmoe({ inputSize: 7, tasks, experts: 3, expertUnits: [5], tower: [4], seed: 3 }), input: [7] },
  };
  const batchSize = 6;
  const data = (input: number[]) => ({
    x: randomValues([batchSize, ...input]).values,
    digit: Int32Array.from({ length: batchSize }, () => rng.int(3)),
    flag: Float32Array.from({ length: batchSize }, () => rng.int(2)),
    value: randomValues([batchSize, 2]).values,
  });

  /** Per-task Jacobians in both spaces and the shared gradient of their sum, as plain numbers. */
  async function gradientsOn(backend: Backend, name: string, raw: ReturnType<typeof data>): Promise<Float32Array[]> {
    await use(backend);
    const spec = builders[name]!;
    const model = spec.build();
    const batch: Batch = {
      x: tf.tensor(raw.x, [batchSize, ...spec.input]),
      targets: { digit: tf.tensor1d(raw.digit, 'int32'), flag: tf.tensor1d(raw.flag), value: tf.tensor2d(raw.value, [batchSize, 2]) },
    } as unknown as Batch;
    const before = tf.memory().numTensors;
    const out: Float32Array[] = [];
    for (const space of ['parameters', 'representation'] as const) {
      const g = computeTaskGradients(model, tasks, batch, space);
      out.push(g.jacobian.dataSync() as Float32Array, g.losses.dataSync() as Float32Array);
      for (const task of g.taskSpecific.values()) for (const t of task.values()) out.push(t.dataSync() as Float32Array);
      // tidy: sharedGradientsFromDirection leaves intermediates behind (reported separately).
      tf.tidy(() => {
        const shared = sharedGradientsFromDirection(model, batch, g, tf.sum<tf.Tensor1D>(g.jacobian, 0));
        for (const t of shared.values()) out.push(t.dataSync() as Float32Array);
      });
      disposeTaskGradients(g);
    }
    expect(tf.memory().numTensors, `${name} leaked tensors on ${backend}`).toBe(before);
    tf.dispose([batch.x, ...Object.values(batch.targets)]);
    model.dispose();
    return out;
  }

  for (const name of Object.keys(builders)) {
    it(`${name}: per-task gradients on wasm match the cpu backend`, async () => {
      const raw = data(builders[name]!.input);
      const expected = await gradientsOn('cpu', name, raw);
      const actual = await gradientsOn('wasm', name, raw);
      expect(actual.length).toBe(expected.length);
      actual.forEach((values, i) => expect(relativeError(values, expected[i]!), `${name} output ${i}`).toBeLessThan(1e-4));
    });
  }
});
