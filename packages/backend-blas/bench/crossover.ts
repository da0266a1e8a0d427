/**
 * `pnpm --filter @mtl/backend-blas crossover`: where OpenBLAS starts to beat the wasm kernels.
 * Times square products and a dense layer's three products (forward, dX, dW) at several sizes,
 * with the BLAS kernels on and off in alternating rounds (so a noisy neighbour hits both alike),
 * and prints the median time ratio. DEFAULT_MIN_FLOPS is chosen from this table.
 */
import { tf, useBestBackend } from '@mtl/core';
import { blasStatus, disableBlas, enableBlas } from '../src/index.js';

await useBestBackend({ backend: 'wasm' });
const status = enableBlas({ minFlops: 0 });
if (!status.enabled) {
  console.log(`BLAS addon absent: ${status.reason}`);
  process.exit(0);
}
console.log(`${status.library}; ${status.threads} threads`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
function time(f: () => void, reps: number): number {
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t0) / reps;
}

const shapes: [number, number, number, boolean, boolean][] = [];
for (const s of [16, 32, 48, 64, 96, 128, 256]) shapes.push([s, s, s, false, false]);
// The bench MLP's layers at batch 256 (784-256-128-10): forward, dX (transpose B), dW (transpose A).
shapes.push([256, 256, 784, false, false], [256, 784, 256, false, true], [784, 256, 256, true, false], [256, 10, 128, false, false], [128, 10, 256, true, false]);
console.log('   m    n    k tA tB   kFLOP   wasm µs   blas µs   wasm/blas');
for (const [m, n, k, tA, tB] of shapes) {
  const a = tf.randomNormal(tA ? [k, m] : [m, k]);
  const b = tf.randomNormal(tB ? [n, k] : [k, n]);
  const run = () => tf.tidy(() => void tf.matMul(a, b, tA, tB).dataSync());
  const reps = Math.max(3, Math.min(200, Math.round(2e8 / (2 * m * n * k))));
  const ratios: number[] = [];
  const wasm: number[] = [];
  const blas: number[] = [];
  for (let round = 0; round < 5; round++) {
    disableBlas();
    run();
    wasm.push(time(run, reps));
    enableBlas({ minFlops: 0 });
    run();
    blas.push(time(run, reps));
    ratios.push(wasm.at(-1)! / blas.at(-1)!);
  }
  tf.dispose([a, b]);
  const row = [m, n, k].map((x) => String(x).padStart(4)).join(' ');
  console.log(`${row}  ${tA ? 1 : 0}  ${tB ? 1 : 0} ${String(Math.round((2 * m * n * k) / 1e3)).padStart(7)} ${(median(wasm) * 1e3).toFixed(0).padStart(9)} ${(median(blas) * 1e3).toFixed(0).padStart(9)}   ${median(ratios).toFixed(2)}x`);
}
console.log(`(kernels now: ${blasStatus().kernels.join(', ')})`);
