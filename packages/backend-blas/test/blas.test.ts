import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom, classificationTask, describeBackend, hardSharingConv, hardSharingMlp, tf, useBestBackend, type MultiTaskModel } from '@mtl/core';
import { DEFAULT_MIN_FLOPS, DEFAULT_MIN_SIDE, blasAvailable, blasStatus, defaultThreads, disableBlas, enableBlas } from '../src/index.js';
import { loadAddon } from '../src/addon.js';

const available = blasAvailable();
if (!available.available) console.warn(`@mtl/backend-blas tests of the BLAS path skipped: ${available.reason}`);

const rng = new SeededRandom(7);
const random = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1), shape);

/** Runs `f` on the plain wasm kernels and on the BLAS kernels (every size: minFlops 0). */
function bothPaths<T extends tf.Tensor | tf.Tensor[]>(f: () => T): { plain: T; blas: T } {
  disableBlas();
  const plain = tf.tidy(f);
  enableBlas({ minFlops: 0, minSide: 0 });
  const blas = tf.tidy(f);
  return { plain, blas };
}

/** Float tolerance: different summation orders; relative to the size of the entries. */
function expectClose(actual: tf.Tensor, expected: tf.Tensor, tolerance = 1e-5): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.dataSync();
  const e = expected.dataSync();
  const scale = Math.max(1, ...Array.from(e, Math.abs));
  let worst = 0;
  for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(a[i]! - e[i]!));
  expect(worst / scale).toBeLessThan(tolerance);
}

describe('@mtl/backend-blas, always', () => {
  it('useBestBackend reports the accelerator: what it runs, or why it is not used', async () => {
    const lines: string[] = [];
    const choice = await useBestBackend({ backend: 'wasm', log: (l) => lines.push(l) });
    const report = choice.accelerators.find((a) => a.name === 'blas');
    expect(report?.active).toBe(available.available);
    expect(lines[0]).toBe(describeBackend(choice));
    if (available.available) expect(lines[0]).toMatch(/accelerator blas: OpenBLAS [\d.]+, \d+ threads .* for BatchMatMul, _FusedMatMul, Conv2D/);
    else expect(lines[0]).toContain(`accelerator blas: not used, ${available.reason}`);
  });

  it('serves the wasm backend only, and stands down when accelerators are disabled', async () => {
    const cpu = await useBestBackend({ backend: 'cpu' });
    expect(cpu.accelerators.find((a) => a.name === 'blas')).toMatchObject({ active: false, detail: expect.stringMatching(/wasm backend only \(this is cpu\)/) as unknown });
    const off = await useBestBackend({ backend: 'wasm', accelerators: false });
    expect(off.accelerators.find((a) => a.name === 'blas')).toEqual({ name: 'blas', active: false, detail: 'disabled by options.accelerators' });
    expect(blasStatus().enabled).toBe(false);
    await expect(useBestBackend({ backend: 'wasm', accelerators: 'yes' as unknown as boolean })).rejects.toThrow(/accelerators/);
  });

  it('takes the thread count from MTL_BLAS_THREADS, else one per core on the main thread', () => {
    const saved = process.env['MTL_BLAS_THREADS'];
    try {
      delete process.env['MTL_BLAS_THREADS'];
      expect(defaultThreads()).toEqual({ threads: availableParallelism(), why: 'one per core' });
      process.env['MTL_BLAS_THREADS'] = '1';
      expect(defaultThreads()).toEqual({ threads: 1, why: 'MTL_BLAS_THREADS' });
      process.env['MTL_BLAS_THREADS'] = 'two';
      expect(() => defaultThreads()).toThrow(/MTL_BLAS_THREADS="two" is not a positive integer/);
    } finally {
      if (saved === undefined) delete process.env['MTL_BLAS_THREADS'];
      else process.env['MTL_BLAS_THREADS'] = saved;
    }
  });
});

describe.skipIf(!available.available)('@mtl/backend-blas on OpenBLAS', () => {
  beforeAll(async () => {
    await useBestBackend({ backend: 'wasm' });
    expect(blasStatus()).toMatchObject({ enabled: true, threads: availableParallelism() });
  });
  afterAll(() => enableBlas({ minFlops: DEFAULT_MIN_FLOPS, minSide: DEFAULT_MIN_SIDE }));

  it('checks its options', () => {
    expect(() => enableBlas({ minFlops: -1 })).toThrow(/enableBlas: minFlops must be a non-negative number, got -1/);
    expect(() => enableBlas({ minSide: Number.NaN })).toThrow(/minSide/);
    expect(() => enableBlas({ minFlop: 5 } as never)).toThrow(/unknown option "minFlop"/);
  });

  it('keeps small products and thin plain products on the wasm kernel, and takes everything else', () => {
    const load = loadAddon();
    if (!('addon' in load)) throw new Error(load.reason);
    // Count the addon's products: the kernels call it through the module object.
    const calls: string[] = [];
    const original = load.addon.sgemm.bind(load.addon);
    load.addon.sgemm = (...args: Parameters<typeof original>) => {
      calls.push(`${args[2]}x${args[3]}x${args[4]}`);
      original(...args);
    };
    try {
      enableBlas({ minFlops: DEFAULT_MIN_FLOPS, minSide: DEFAULT_MIN_SIDE });
      const run = (a: number[], b: number[], tA = false, tB = false) => tf.tidy(() => void tf.matMul(tf.ones(a), tf.ones(b), tA, tB).dataSync());
      run([8, 8], [8, 8]); // 1 kFLOP: wasm
      run([256, 128], [128, 10]); // thin plain product: wasm
      run([128, 256], [128, 10], true); // thin but transposed: BLAS (the wasm path would copy)
      run([64, 64], [64, 64]); // 524 kFLOP: BLAS
      expect(calls).toEqual(['256x10x128', '64x64x64']);
    } finally {
      load.addon.sgemm = original;
    }
  });

  it('a worker thread enabling BLAS drops the process-wide thread count to 1 (no oversubscription)', async () => {
    const load = loadAddon();
    if (!('addon' in load)) throw new Error(load.reason);
    load.addon.setThreads(availableParallelism());
    const worker = new Worker(new URL('./fixtures/worker-bootstrap.mjs', import.meta.url), { execArgv: ['--conditions=@mtl/source'] });
    const reply = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    expect(reply).toEqual({ threads: 1, why: 'worker threads run in parallel already' });
    // One OpenBLAS per process: the main thread's products now run on 1 thread too.
    expect(load.addon.getThreads()).toBe(1);
    load.addon.setThreads(availableParallelism());
  });

  it('a product equals the literal triple loop', () => {
    const [m, n, k] = [5, 4, 3];
    const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
    const b = Float32Array.from({ length: k * n }, (_, i) => (i % 5) * 0.5 - 1);
    const expected = new Float32Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) expected[i * n + j]! += a[i * k + l]! * b[l * n + j]!;
    enableBlas({ minFlops: 0, minSide: 0 });
    const y = tf.tidy(() => tf.matMul(tf.tensor(a, [m, k]), tf.tensor(b, [k, n])));
    // 16-bit-exact inputs and few terms: the sums are exact in float32 on any path.
    expect(Array.from(y.dataSync())).toEqual(Array.from(expected));
    y.dispose();
  });

  it.each([
    { a: [37, 53], b: [53, 29], tA: false, tB: false },
    { a: [53, 37], b: [53, 29], tA: true, tB: false },
    { a: [37, 53], b: [29, 53], tA: false, tB: true },
    { a: [53, 37], b: [29, 53], tA: true, tB: true },
    { a: [3, 17, 40], b: [3, 40, 23], tA: false, tB: false },
    { a: [2, 3, 40, 17], b: [2, 3, 23, 40], tA: true, tB: true },
    { a: [4, 17, 40], b: [40, 23], tA: false, tB: false },
    { a: [17, 40], b: [4, 23, 40], tA: false, tB: true },
    { a: [1, 17, 40], b: [5, 40, 23], tA: false, tB: false },
    { a: [256, 784], b: [784, 256], tA: false, tB: false },
    { a: [7, 0], b: [0, 5], tA: false, tB: false },
  ])('matMul $a x $b (transposeA $tA, transposeB $tB) equals the wasm path', ({ a, b, tA, tB }) => {
    const [x, y] = [random(a), random(b)];
    const { plain, blas } = bothPaths(() => tf.matMul(x, y, tA, tB));
    expectClose(blas, plain);
    tf.dispose([x, y, plain, blas]);
  });

  it.each(['linear', 'relu', 'leakyrelu', 'sigmoid'] as const)('fused matMul with bias and %s equals the unfused wasm ops', (activation) => {
    const [x, w, bias] = [random([64, 48]), random([40, 48]), random([40])];
    disableBlas();
    const plain = tf.tidy(() => {
      const z = tf.add(tf.matMul(x, w, false, true), bias);
      return activation === 'relu' ? tf.relu(z) : activation === 'leakyrelu' ? tf.leakyRelu(z, 0.2) : activation === 'sigmoid' ? tf.sigmoid(z) : z;
    });
    enableBlas({ minFlops: 0, minSide: 0 });
    const blas = tf.tidy(() => tf.fused.matMul({ a: x, b: w, transposeB: true, bias, activation }));
    expectClose(blas, plain);
    tf.dispose([x, w, bias, plain, blas]);
  });

  it.each([
    { x: [3, 12, 12, 2], f: [3, 3, 2, 5], strides: 1, pad: 'same' as const },
    { x: [2, 13, 11, 3], f: [5, 5, 3, 4], strides: 2, pad: 'valid' as const },
    { x: [2, 10, 9, 4], f: [3, 2, 4, 6], strides: [2, 1] as [number, number], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] as tf.backend_util.ExplicitPadding },
    { x: [2, 8, 8, 6], f: [1, 1, 6, 3], strides: 1, pad: 'valid' as const },
    // Direct kernels: one input channel (LeNet's first layer), a partial last block of pixels, batch 1 (one thread).
    { x: [1, 11, 9, 1], f: [5, 5, 1, 10], strides: 1, pad: 'valid' as const },
    { x: [3, 10, 10, 7], f: [4, 3, 7, 17], strides: 3, pad: 'same' as const },
    // Over 32 channels: im2col + sgemm.
    { x: [2, 9, 9, 3], f: [3, 3, 3, 40], strides: 1, pad: 'same' as const },
    { x: [2, 6, 6, 33], f: [3, 3, 33, 4], strides: 1, pad: 'valid' as const },
  ])('conv2d $x * $f (strides $strides, pad $pad) and both gradients equal the wasm path', ({ x: xs, f: fs, strides, pad }) => {
    const [x, f] = [random(xs), random(fs)];
    const run = () => {
      const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, strides, pad);
      const dy = tf.tidy(() => tf.sin(tf.reshape(tf.range(0, y.size), y.shape)));
      const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad as 'same'), dy)))([x, f]);
      return [y, dx!, df!];
    };
    const { plain, blas } = bothPaths(run);
    for (let i = 0; i < 3; i++) expectClose(blas[i]!, plain[i]!);
    tf.dispose([x, f, ...plain, ...blas]);
  });

  it('dilated conv2d equals the wasm path', () => {
    const [x, f] = [random([2, 14, 14, 3]), random([3, 3, 3, 4])];
    const { plain, blas } = bothPaths(() => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same', 'NHWC', 2));
    expectClose(blas, plain);
    tf.dispose([x, f, plain, blas]);
  });

  it('re-takes its heap views after the wasm memory grows between calls', () => {
    enableBlas({ minFlops: 0, minSide: 0 });
    const [a, b] = [random([96, 64]), random([64, 80])];
    const before = tf.tidy(() => tf.matMul(a, b));
    // 64 MiB more tensors: the heap grows, every earlier ArrayBuffer view of it is detached.
    const filler = tf.zeros([16, 1024, 1024]);
    const after = tf.tidy(() => tf.matMul(a, b));
    expect(Array.from(after.dataSync())).toEqual(Array.from(before.dataSync()));
    tf.dispose([a, b, before, after, filler]);
  });

  it('the addon refuses a view that is too short (as a detached one is) instead of writing past it', () => {
    const load = loadAddon();
    if (!('addon' in load)) throw new Error(load.reason);
    // (the global's types are not in this project's lib; the value is there in Node)
    const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer; grow(pages: number): number } } }).WebAssembly;
    const memory = new Memory({ initial: 1 });
    const stale = new Float32Array(memory.buffer, 0, 16);
    memory.grow(1);
    expect(stale.length).toBe(0);
    expect(() => load.addon.sgemm(false, false, 4, 4, 4, stale, 0, new Float32Array(16), 0, new Float32Array(16), 0, 1)).toThrow(/a has 0 elements, the product needs 16/);
    expect(() => load.addon.sgemm(false, false, 4, 4, 4, new Float32Array(16), 0, new Float32Array(16), 0, new Float32Array(15), 0, 1)).toThrow(/c has 15 elements/);
  });

  const tasks = [classificationTask('left', { classes: 10 }), classificationTask('right', { classes: 10 })];
  it.each([
    ['MLP', () => hardSharingMlp({ inputSize: 64, tasks, trunk: [96, 48], seed: 3 }), [32, 64]],
    ['LeNet', () => hardSharingConv({ inputShape: [20, 20, 1], tasks, seed: 3 }), [16, 20, 20, 1]],
  ] as const)('a full %s training step (gradients and SGD) equals the wasm-only step, without leaking tensors', (_, build, xShape) => {
    const x = random([...xShape]);
    const labels = Object.fromEntries(tasks.map((t, i) => [t.name, tf.tensor1d(Int32Array.from({ length: xShape[0] }, (_, j) => (j * (i + 3)) % 10), 'int32')]));
    const step = (model: MultiTaskModel) =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const z = model.represent(x);
          return tf.addN<tf.Scalar>(tasks.map((t) => t.loss(model.head(t.name, z, x), labels[t.name]!)));
        }, model.parameters.map((p) => p.variable));
        for (const p of model.parameters) p.variable.assign(tf.sub(p.variable, tf.mul(0.1, grads[p.variable.name]!)));
      });
    const results = [false, true].map((useBlas) => {
      if (useBlas) enableBlas({ minFlops: 0, minSide: 0 });
      else disableBlas();
      const model = build();
      step(model);
      const before = tf.memory().numTensors;
      step(model);
      expect(tf.memory().numTensors).toBe(before);
      const values = model.parameters.map((p) => p.variable.clone());
      model.dispose();
      return values;
    });
    results[0]!.forEach((plain, i) => expectClose(results[1]![i]!, plain, 1e-4));
    tf.dispose([x, ...Object.values(labels), ...results.flat()]);
  });
});
