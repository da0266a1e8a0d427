/**
 * The im2col matrices kept between Conv2D and Conv2DBackpropFilter (src/kernels/im2col-cache.ts):
 * reused only for the same live input under the same geometry, dropped when the input dies, bounded.
 * Inputs are small integers, so every convolution sum is exact in float32 and the results must
 * equal tfjs's cpu backend exactly whichever matrix BLAS multiplies. Every filter has over 32
 * output channels: fewer go to the addon's direct kernels (no im2col at all).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom, tf, useBestBackend } from '@mtl/core';
import { blasAvailable, disableBlas, enableBlas } from '../src/index.js';
import { loadAddon } from '../src/addon.js';
import { MAX_ENTRIES, im2colCacheSize } from '../src/kernels/im2col-cache.js';

const available = blasAvailable();
if (!available.available) console.warn(`@mtl/backend-blas im2col cache tests skipped: ${available.reason}`);

const rng = new SeededRandom(5);
const ints = (shape: number[]) => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.floor(rng.next() * 5) - 2);

type Conv = { strides: number; pad: 'valid' | 'same'; filter: number[] };
/** y = conv2d(x, w) and, under a tape, dL/dw and dL/dx for L = sum(y * dy): [y, dw, dx] as plain arrays. */
function convAndGrads(x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor, c: Conv): number[][] {
  return tf.tidy(() => {
    const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad), dy));
    const [dx, dw] = tf.grads(f)([x, w]);
    return [tf.conv2d(x, w, c.strides, c.pad), dw!, dx!].map((t) => Array.from(t.dataSync()));
  });
}

/** x, w and dy from fixed values on `backend`: [y, dw, dx] as plain arrays. */
async function onBackend(backend: 'cpu' | 'wasm', xs: Float32Array, xShape: number[], ws: Float32Array, c: Conv): Promise<number[][]> {
  await tf.setBackend(backend);
  const x = tf.tensor4d(xs, xShape as [number, number, number, number]);
  const w = tf.tensor4d(ws, c.filter as [number, number, number, number]);
  const y = tf.conv2d(x, w, c.strides, c.pad);
  const dy = tf.tensor(Float32Array.from({ length: y.size }, (_, i) => (i % 5) - 2), y.shape);
  const result = convAndGrads(x, w, dy, c);
  tf.dispose([x, w, y, dy]);
  return result;
}

/** Counts the addon's im2col calls while `f` runs. */
async function countIm2col<T>(f: () => T | Promise<T>): Promise<{ result: T; calls: number }> {
  const load = loadAddon();
  if (!('addon' in load)) throw new Error(load.reason);
  const original = load.addon.im2col.bind(load.addon);
  let calls = 0;
  load.addon.im2col = (...args: Parameters<typeof original>) => {
    calls++;
    original(...args);
  };
  try {
    const result = await f();
    return { result, calls };
  } finally {
    load.addon.im2col = original;
  }
}

describe.skipIf(!available.available)('@mtl/backend-blas im2col reuse between Conv2D and its filter gradient', () => {
  beforeAll(async () => {
    await useBestBackend({ backend: 'cpu' }); // registers the cpu backend, the reference
    await useBestBackend({ backend: 'wasm' });
    enableBlas({ minFlops: 0 });
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
    enableBlas({ minFlops: 2 * 48 ** 3 });
  });

  it.each<Conv>([
    { strides: 1, pad: 'same', filter: [3, 3, 2, 36] },
    { strides: 1, pad: 'valid', filter: [5, 5, 1, 33] },
    { strides: 2, pad: 'same', filter: [3, 3, 1, 34] },
  ])('the filter gradient reuses the forward\'s matrix (strides $strides, pad $pad, filter $filter); all equal the cpu backend', async (c) => {
    const xShape = [3, 11, 10, c.filter[2]!];
    const [xs, ws] = [ints(xShape), ints(c.filter)];
    const expected = await onBackend('cpu', xs, xShape, ws, c);
    await tf.setBackend('wasm');
    disableBlas(); // empties the cache
    enableBlas({ minFlops: 0 });
    const { result: actual, calls } = await countIm2col(() => onBackend('wasm', xs, xShape, ws, c));
    expect(actual).toEqual(expected);
    // the first plain forward (no tape) makes its own; tf.grads' forward keeps one, which its
    // filter gradient and the plain forward after it reuse
    expect(calls).toBe(2);
  });

  it('keys by geometry and shape: the same bytes under another geometry or shape get their own matrix', async () => {
    await tf.setBackend('wasm');
    disableBlas();
    enableBlas({ minFlops: 0 });
    const xs = ints([2, 8, 8, 1]);
    const x = tf.tensor4d(xs, [2, 8, 8, 1]);
    const flat = tf.reshape<tf.Rank.R4>(x, [1, 16, 8, 1]); // the same dataId, another shape
    const w3 = tf.tensor4d(ints([3, 3, 1, 33]), [3, 3, 1, 33]);
    const w2 = tf.tensor4d(ints([2, 2, 1, 33]), [2, 2, 1, 33]);
    const results = (t: () => tf.Tensor[]) => tf.tidy(() => t().map((r) => Array.from(r.dataSync())));
    const grads = (a: tf.Tensor4D, w: tf.Tensor4D, s: number) => tf.grads((p: tf.Tensor) => tf.sum(tf.conv2d(a, p as tf.Tensor4D, s, 'valid')))([w])[0]!;
    const { result: actual, calls } = await countIm2col(() => results(() => [grads(x, w3, 1), grads(x, w2, 2), grads(flat, w3, 1), grads(x, w3, 1)]));
    expect(calls).toBe(3); // three geometries; the fourth gradient reuses the first's matrix
    // reference: the cpu backend
    const wValues = [w3, w2].map((w) => w.dataSync().slice());
    tf.dispose([x, flat, w3, w2]);
    await tf.setBackend('cpu');
    const cx = tf.tensor4d(xs, [2, 8, 8, 1]);
    const [c3, c2] = [tf.tensor4d(wValues[0]!, [3, 3, 1, 33]), tf.tensor4d(wValues[1]!, [2, 2, 1, 33])];
    const expected = results(() => [grads(cx, c3, 1), grads(cx, c2, 2), grads(tf.reshape<tf.Rank.R4>(cx, [1, 16, 8, 1]), c3, 1), grads(cx, c3, 1)]);
    tf.dispose([cx, c3, c2]);
    await tf.setBackend('wasm');
    expect(actual).toEqual(expected);
  });

  it('drops a matrix once its input is gone, keeps none outside a tape, and stays bounded', async () => {
    await tf.setBackend('wasm');
    disableBlas();
    enableBlas({ minFlops: 0 });
    const buffers = tf.engine().backend.numDataIds();
    const w = tf.tensor4d(ints([3, 3, 1, 33]), [3, 3, 1, 33]);
    const inputs = Array.from({ length: MAX_ENTRIES + 2 }, () => tf.tensor4d(ints([1, 6, 6, 1]), [1, 6, 6, 1]));
    // no tape: nothing kept
    tf.tidy(() => inputs.forEach((x) => tf.conv2d(x, w, 1, 'valid').dataSync()));
    expect(im2colCacheSize()).toBe(0);
    // under a tape: one per input, never more than MAX_ENTRIES
    for (const x of inputs) tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, w, 1, 'valid')))(x).dataSync());
    tf.tidy(() => inputs.forEach((x) => tf.grads((p: tf.Tensor) => tf.sum(tf.conv2d(x, p as tf.Tensor4D, 1, 'valid')))([w])[0]!.dataSync()));
    expect(im2colCacheSize()).toBe(MAX_ENTRIES);
    tf.dispose(inputs);
    // the next convolution finds every kept input gone and frees their matrices
    const other = tf.tensor4d(ints([1, 5, 5, 1]), [1, 5, 5, 1]);
    tf.tidy(() => tf.conv2d(other, w, 1, 'valid').dataSync());
    expect(im2colCacheSize()).toBe(0);
    tf.dispose([other, w]);
    expect(tf.engine().backend.numDataIds()).toBe(buffers);
  });

  it('a variable assigned new values gets a new matrix (assign swaps the dataId)', async () => {
    await tf.setBackend('wasm');
    const v = tf.variable(tf.tensor4d(ints([1, 6, 6, 1]), [1, 6, 6, 1]));
    const w = tf.tensor4d(ints([3, 3, 1, 33]), [3, 3, 1, 33]);
    const dw = () => tf.tidy(() => Array.from(tf.grads((p: tf.Tensor) => tf.sum(tf.conv2d(v as tf.Tensor4D, p as tf.Tensor4D, 1, 'valid')))([w])[0]!.dataSync()));
    const first = dw();
    const next = ints([1, 6, 6, 1]);
    v.assign(tf.tensor4d(next, [1, 6, 6, 1]));
    const second = dw();
    // by hand: dL/dw[i, j, 0, co] = sum over output pixels of x[oh + i, ow + j], for every co
    const expected = Array.from({ length: 9 * 33 }, (_, e) => {
      const k = Math.floor(e / 33);
      let s = 0;
      for (let oh = 0; oh < 4; oh++) for (let ow = 0; ow < 4; ow++) s += next[(oh + Math.floor(k / 3)) * 6 + ow + (k % 3)]!;
      return s;
    });
    expect(second).toEqual(expected);
    expect(second).not.toEqual(first);
    tf.dispose([v, w]);
  });
});
