import { tf } from '../src/index.js';
import type { BenchCase } from './cases.js';

/**
 * Where a step's time goes on the active backend: time inside kernels (by kernel), the number of
 * kernel calls, and the rest (engine dispatch, tape recording, tensor bookkeeping, our JS). Kernels
 * are timed by wrapping every registered kernel function of the backend for the duration.
 */
export function profileStep(bench: BenchCase, steps = 10): void {
  const backendName = tf.getBackend();
  const byKernel = new Map<string, { ms: number; calls: number }>();
  const configs = tf.getKernelsForBackend(backendName);
  const originals = configs.map((c) => c.kernelFunc);
  configs.forEach((config, i) => {
    const inner = originals[i]!;
    const entry = { ms: 0, calls: 0 };
    byKernel.set(config.kernelName, entry);
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
      const t0 = performance.now();
      const out = inner(args);
      entry.ms += performance.now() - t0;
      entry.calls++;
      return out;
    };
  });
  const { step, dispose } = bench.setup();
  const totals: number[] = [];
  try {
    for (let i = 0; i < 3; i++) step();
    for (const e of byKernel.values()) Object.assign(e, { ms: 0, calls: 0 });
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      step();
      totals.push(performance.now() - t0);
    }
  } finally {
    dispose();
    configs.forEach((config, i) => ((config as { kernelFunc: tf.KernelFunc }).kernelFunc = originals[i]!));
  }
  const perStep = (x: number) => x / steps;
  // Means, not medians: kernel time is only known as a total over the steps.
  const total = totals.reduce((a, b) => a + b, 0) / steps;
  const kernelMs = perStep([...byKernel.values()].reduce((a, e) => a + e.ms, 0));
  const calls = perStep([...byKernel.values()].reduce((a, e) => a + e.calls, 0));
  const perOp = perOpOverheadMs();
  console.log(`\nProfile of ${bench.name} on ${backendName} (${steps} steps; kernel timing adds a little overhead):`);
  console.log(`  step ${total.toFixed(2)} ms = kernels ${kernelMs.toFixed(2)} ms (${pct(kernelMs, total)}) + outside kernels ${(total - kernelMs).toFixed(2)} ms (${pct(total - kernelMs, total)})`);
  console.log(`  ${calls.toFixed(0)} kernel calls per step; engine cost of an op with tiny inputs: ${(perOp.plain * 1000).toFixed(1)} us, under a gradient tape ${(perOp.taped * 1000).toFixed(1)} us`);
  console.log(`  -> per-op overhead ~${(calls * perOp.taped).toFixed(2)} ms; the rest outside kernels (${Math.max(0, total - kernelMs - calls * perOp.taped).toFixed(2)} ms) is tensor bookkeeping, tidy/dispose and GC`);
  const top = [...byKernel.entries()].filter(([, e]) => e.calls).sort((a, b) => b[1].ms - a[1].ms);
  for (const [name, e] of top.slice(0, 12)) {
    console.log(`    ${name.padEnd(22)} ${perStep(e.ms).toFixed(2).padStart(8)} ms  ${String(perStep(e.calls)).padStart(4)} calls  ${pct(perStep(e.ms), total)}`);
  }
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

/** Milliseconds per op on 1-element tensors: the engine's fixed cost, plain and while recording a tape. */
function perOpOverheadMs(): { plain: number; taped: number } {
  const n = 2000;
  const x = tf.scalar(1);
  const v = tf.variable(tf.scalar(2));
  const time = (f: () => void) => {
    f();
    const t0 = performance.now();
    f();
    return (performance.now() - t0) / n;
  };
  const plain = time(() =>
    tf.tidy(() => {
      let y: tf.Tensor = x;
      for (let i = 0; i < n; i++) y = tf.add(y, x);
    }),
  );
  const taped = time(() =>
    tf.tidy(() => {
      tf.variableGrads(() => {
        let y: tf.Tensor = v;
        for (let i = 0; i < n; i++) y = tf.add(y, x);
        return y as tf.Scalar;
      });
    }),
  );
  tf.dispose([x, v]);
  // The taped figure includes the backward pass: one op forward, about one op backward.
  return { plain, taped: taped / 2 };
}
