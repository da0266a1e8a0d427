/**
 * The memory-bound kernels of @mtl/backend-blas (MaxPool, MaxPoolGrad, Sum, Add) against tfjs's
 * pure-JS cpu backend on the same inputs. Inputs are small integers (and halves), so every sum the
 * kernels form is exact in float32 and the results must be equal, not just close, except for the
 * long float sums of `Sum`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom, tf, useBestBackend } from '@mtl/core';
import { BLAS_KERNELS, blasAvailable, blasStatus, disableBlas, enableBlas } from '../src/index.js';
import { loadAddon, type BlasAddon } from '../src/addon.js';

const available = blasAvailable();
if (!available.available) console.warn(`@mtl/backend-blas kernel tests skipped: ${available.reason}`);

type Input = { values: Float32Array | Int32Array; shape: number[]; dtype?: 'float32' | 'int32' };
const rng = new SeededRandom(11);
/** Integers in [lo, hi] (many ties), as float32 unless asked. */
function ints(shape: number[], lo: number, hi: number, dtype: 'float32' | 'int32' = 'float32'): Input {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = lo + Math.floor(rng.next() * (hi - lo + 1));
  return { values, shape, dtype };
}
function uniform(shape: number[]): Input {
  return { values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1), shape };
}
const make = (i: Input) => tf.tensor(i.values, i.shape, i.dtype ?? 'float32');

/** Runs `f` on fresh tensors of `inputs` on `backend`, returns the output's shape and values. */
async function runOn(backend: 'cpu' | 'wasm', inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor): Promise<{ shape: number[]; values: number[] }> {
  await tf.setBackend(backend);
  const xs = inputs.map(make);
  const y = f(...xs);
  const result = { shape: y.shape, values: Array.from(y.dataSync()) };
  tf.dispose([...xs, y]);
  return result;
}

/** Counts the addon's calls of `name` while `f` runs. */
async function counting<T>(name: keyof BlasAddon, f: () => Promise<T>): Promise<{ result: T; calls: number }> {
  const load = loadAddon();
  if (!('addon' in load)) throw new Error(load.reason);
  const addon = load.addon as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = addon[name]!;
  let calls = 0;
  addon[name] = (...args: unknown[]) => {
    calls++;
    return original.apply(load.addon, args);
  };
  try {
    return { result: await f(), calls };
  } finally {
    addon[name] = original;
  }
}

/** `f` on wasm (with the BLAS kernels) and on cpu; checks the wasm run frees every tensor and heap buffer it made. */
async function compare(inputs: Input[], f: (...xs: tf.Tensor[]) => tf.Tensor, kernel?: keyof BlasAddon) {
  const expected = await runOn('cpu', inputs, f);
  await tf.setBackend('wasm');
  const [tensors, buffers] = [tf.memory().numTensors, tf.engine().backend.numDataIds()];
  const { result: actual, calls } = kernel ? await counting(kernel, () => runOn('wasm', inputs, f)) : { result: await runOn('wasm', inputs, f), calls: 0 };
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.engine().backend.numDataIds()).toBe(buffers);
  expect(actual.shape).toEqual(expected.shape);
  return { actual: actual.values, expected: expected.values, calls };
}

describe.skipIf(!available.available)('@mtl/backend-blas memory-bound kernels, against the cpu backend', () => {
  beforeAll(async () => {
    await useBestBackend({ backend: 'cpu' }); // registers tfjs's cpu backend (the reference)
    await useBestBackend({ backend: 'wasm' });
    expect(blasStatus().kernels).toEqual(expect.arrayContaining(['MaxPoolGrad', 'Sum', 'Add']));
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
  });

  type Pool = { x: number[]; filter: number | [number, number]; strides: number | [number, number]; pad: 'valid' | 'same' | number };
  it.each<Pool>([
    { x: [3, 8, 8, 4], filter: 2, strides: 2, pad: 'valid' }, // windows tile the input: the direct-write path
    { x: [2, 6, 4, 40], filter: [3, 2], strides: [3, 2], pad: 'valid' }, // tiles with over 32 channels: the general loop's direct writes
    { x: [2, 9, 7, 3], filter: 2, strides: 2, pad: 'valid' }, // a row and a column left over
    { x: [2, 7, 7, 5], filter: 2, strides: 2, pad: 'same' }, // padding
    { x: [2, 9, 9, 3], filter: 3, strides: 2, pad: 'same' }, // overlapping windows add up
    { x: [2, 8, 9, 2], filter: [3, 2], strides: [1, 2], pad: 'valid' }, // stride ≠ filter, overlap along H only
    { x: [1, 10, 10, 3], filter: 2, strides: 3, pad: 'valid' }, // gaps between windows
    { x: [2, 6, 6, 1], filter: 3, strides: 1, pad: 1 }, // explicit padding, one channel
  ])('MaxPoolGrad, x $x, filter $filter, strides $strides, pad $pad, with ties, equals the cpu backend', async ({ x, filter, strides, pad }) => {
    const info = tf.backend_util.computePool2DInfo(x as [number, number, number, number], filter, strides, 1, pad);
    // Values 0..3: most windows hold ties, and the gradient must go to the first maximum only.
    const inputs = [ints(x, 0, 3), ints(info.outShape, -3, 3)];
    const grad = (input: tf.Tensor, dy: tf.Tensor) => {
      const output = tf.maxPool(input as tf.Tensor4D, filter, strides, pad);
      const dx = tf.engine().runKernel<tf.Tensor>('MaxPoolGrad', { dy, input, output }, { filterSize: filter, strides, pad });
      output.dispose();
      return dx;
    };
    const { actual, expected, calls } = await compare(inputs, grad, 'maxPoolGrad');
    expect(calls).toBe(1);
    expect(actual).toEqual(expected);
  });

  it('MaxPoolGrad gives no gradient to a window of only -Infinity and NaN, and ignores NaN beside numbers', async () => {
    const x = ints([1, 4, 4, 2], 0, 3);
    // window (0, 0): all -Infinity in channel 0, all NaN in channel 1; window (0, 1): NaN first, then numbers
    for (const [h, w] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
      x.values[(h * 4 + w) * 2] = -Infinity;
      x.values[(h * 4 + w) * 2 + 1] = Number.NaN;
    }
    x.values[(0 * 4 + 2) * 2] = Number.NaN;
    const dy = ints([1, 2, 2, 2], 1, 3);
    const grad = (input: tf.Tensor, g: tf.Tensor) => tf.engine().runKernel<tf.Tensor>('MaxPoolGrad', { dy: g, input, output: g }, { filterSize: 2, strides: 2, pad: 'valid' });
    const { actual, expected, calls } = await compare([x, dy], grad, 'maxPoolGrad');
    expect(calls).toBe(1);
    expect(actual).toEqual(expected);
    expect(actual.slice(0, 2)).toEqual([0, 0]); // the -Infinity / NaN window's first pixel got nothing
  });

  it.each<Pool & { blas: boolean }>([
    { x: [3, 8, 8, 10], filter: 2, strides: 2, pad: 'valid', blas: true }, // LeNet's pools
    { x: [2, 9, 6, 32], filter: [3, 2], strides: [3, 2], pad: 'valid', blas: true },
    { x: [2, 4, 4, 33], filter: 2, strides: 2, pad: 'valid', blas: false }, // over 32 channels
    { x: [2, 9, 9, 3], filter: 3, strides: 2, pad: 'same', blas: false }, // overlapping, padded
    { x: [2, 9, 7, 3], filter: 2, strides: 2, pad: 'valid', blas: false }, // a row and a column left over
  ])('MaxPool, x $x, filter $filter, strides $strides, pad $pad, equals the cpu backend (C path: $blas)', async ({ x, filter, strides, pad, blas }) => {
    const { actual, expected, calls } = await compare([ints(x, -3, 3)], (t) => tf.maxPool(t as tf.Tensor4D, filter, strides, pad), 'maxPool');
    expect(calls).toBe(blas ? 1 : 0);
    expect(actual).toEqual(expected);
  });

  it('MaxPool ignores NaN beside numbers and gives -Infinity for a window of only -Infinity and NaN, as the cpu backend', async () => {
    const x = ints([1, 4, 4, 2], 0, 3);
    for (const [h, w] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
      x.values[(h * 4 + w) * 2] = -Infinity;
      x.values[(h * 4 + w) * 2 + 1] = Number.NaN;
    }
    x.values[(0 * 4 + 2) * 2] = Number.NaN;
    x.values[(2 * 4 + 2) * 2 + 1] = -0;
    const { actual, expected, calls } = await compare([x], (t) => tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), 'maxPool');
    expect(calls).toBe(1);
    expect(actual).toEqual(expected);
    expect(actual.slice(0, 2)).toEqual([-Infinity, -Infinity]);
  });

  it('the gradient of a max pool (tf.grad, the kernel behind it) equals the cpu backend', async () => {
    const loss = (x: tf.Tensor, w: tf.Tensor) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 3, 2, 'same'), w)))(x);
    const { actual, expected, calls } = await compare([ints([2, 11, 11, 6], -2, 2), ints([2, 6, 6, 6], -3, 3)], loss, 'maxPoolGrad');
    expect(calls).toBe(1);
    expect(actual).toEqual(expected);
  });

  it.each([
    { x: [2, 16, 16, 40], filter: [5, 5, 40, 8], strides: 1, pad: 'same' as const }, // 512 output pixels: 2 blocks of 262 column rows
    { x: [4, 17, 15, 40], filter: [5, 5, 40, 3], strides: 2, pad: 'same' as const }, // strided, padded, a partial last block
    { x: [3, 12, 12, 4], filter: [3, 3, 4, 40], strides: 1, pad: 'valid' as const }, // one block
    // (over 32 channels each: fewer go to the addon's direct kernels, not through column rows)
  ])('Conv2DBackpropInput (x $x, filter $filter, strides $strides, pad $pad), formed block by block, equals the cpu backend', async ({ x, filter, strides, pad }) => {
    const out = tf.backend_util.computeConv2DInfo(x as [number, number, number, number], filter as [number, number, number, number], strides, 1, pad);
    // integers: every sum is exact in float32, whatever order BLAS adds in
    const inputs = [ints(out.outShape, -3, 3), ints(filter, -2, 2)];
    const dx = (dy: tf.Tensor, w: tf.Tensor) => tf.conv2dTranspose(dy as tf.Tensor4D, w as tf.Tensor4D, x as [number, number, number, number], strides, pad);
    const { actual, expected, calls } = await compare(inputs, dx, 'convBackpropInput');
    expect(calls).toBe(1);
    expect(actual).toEqual(expected);
  });

  it.each([
    { shape: [4, 6, 5, 3], axis: [0, 1, 2], keepDims: false }, // a conv bias gradient
    { shape: [64, 32, 32, 10], axis: [0, 1, 2], keepDims: false }, // LeNet's: 65536 rows, blocked partial sums
    { shape: [3, 4, 5, 6], axis: [1, 2], keepDims: true }, // a middle block
    { shape: [7, 130], axis: 0, keepDims: false }, // rows wider than the 64 lanes
    { shape: [5, 3, 2], axis: [-2, -3], keepDims: false }, // negative, unsorted axes
    { shape: [0, 3], axis: 0, keepDims: false }, // an empty sum is 0
  ])('Sum of $shape over $axis (keepDims $keepDims) equals the cpu backend', async ({ shape, axis, keepDims }) => {
    const { actual, expected, calls } = await compare([uniform(shape)], (x) => tf.sum(x, axis, keepDims), 'sumMiddle');
    expect(calls).toBe(1);
    // cpu sums in float64; ours: float64 totals of float32 partial sums of up to 64 terms
    expect(actual.length).toBe(expected.length);
    actual.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected[i]!)) + 1e-4));
  });

  it.each([
    { shape: [4, 5], axis: 1, dtype: 'float32' as const }, // innermost: no transpose on wasm, stays there
    { shape: [4, 5, 6], axis: [0, 2], dtype: 'float32' as const }, // scattered axes
    { shape: [6, 5], axis: 0, dtype: 'int32' as const },
  ])('Sum of $shape over $axis ($dtype) stays on the wasm kernel and equals the cpu backend', async ({ shape, axis, dtype }) => {
    const { actual, expected, calls } = await compare([ints(shape, -5, 5, dtype)], (x) => tf.sum(x, axis), 'sumMiddle');
    expect(calls).toBe(0);
    expect(actual).toEqual(expected);
  });

  it.each([
    { a: [4, 5, 6, 3], b: [3], blas: true }, // a conv bias
    { a: [3], b: [4, 5, 6, 3], blas: true }, // bias first
    { a: [4, 5, 6, 3], b: [1, 6, 3], blas: true },
    { a: [5, 3], b: [1, 1, 3], blas: true }, // the output gains a leading axis
    { a: [2, 3], b: [], blas: true }, // a scalar
    { a: [4, 1, 3], b: [5, 3], blas: false }, // both operands broadcast
    { a: [4, 5, 3], b: [4, 1, 3], blas: false }, // a broadcast in the middle
    { a: [4, 3], b: [4, 3], blas: false }, // same shape: XNNPACK's fast path
  ])('Add $a + $b equals the cpu backend (BLAS path: $blas)', async ({ a, b, blas }) => {
    const { actual, expected, calls } = await compare([ints(a, -9, 9), { ...uniform(b) }], (x, y) => tf.add(x, y), 'addTiled');
    expect(calls).toBe(blas ? 1 : 0);
    expect(actual).toEqual(expected);
  });

  it('Add of int32 tensors stays on the wasm kernel', async () => {
    const { actual, expected, calls } = await compare([ints([4, 3], -9, 9, 'int32'), ints([3], -9, 9, 'int32')], (x, y) => tf.add(x, y), 'addTiled');
    expect(calls).toBe(0);
    expect(actual).toEqual(expected);
  });

  it('disableBlas puts back the kernels it replaced (core\'s MaxPoolGrad among them), enableBlas wraps them again', async () => {
    await tf.setBackend('wasm');
    disableBlas();
    const before = BLAS_KERNELS.map((name) => tf.getKernel(name, 'wasm')?.kernelFunc);
    expect(before.every(Boolean)).toBe(true);
    const status = enableBlas();
    expect(status.kernels).toEqual([...BLAS_KERNELS]);
    BLAS_KERNELS.forEach((name, i) => expect(tf.getKernel(name, 'wasm')?.kernelFunc).not.toBe(before[i]));
    disableBlas();
    BLAS_KERNELS.forEach((name, i) => expect(tf.getKernel(name, 'wasm')?.kernelFunc).toBe(before[i]));
    enableBlas();
  });
});
