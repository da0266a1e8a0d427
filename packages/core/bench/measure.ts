import { tf } from '../src/index.js';
import type { BenchCase } from './cases.js';

export interface Measurement {
  readonly ms: number;
  readonly samples: readonly number[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Median wall time of `steps` runs after `warmup` runs (first runs pay for XNNPACK weight packing,
 * heap growth and JIT). Throws if a step leaks tensors: a leaking step would slow down over time
 * and its figure would mean nothing.
 */
export function measure(bench: BenchCase, options: { warmup: number; steps: number }): Measurement {
  const { step, dispose } = bench.setup();
  try {
    for (let i = 0; i < options.warmup; i++) step();
    const before = tf.memory().numTensors;
    const samples: number[] = [];
    for (let i = 0; i < options.steps; i++) {
      const t0 = performance.now();
      step();
      samples.push(performance.now() - t0);
    }
    const leaked = tf.memory().numTensors - before;
    if (leaked > 0) throw new Error(`${bench.name} leaks ${leaked / options.steps} tensors per step`);
    return { ms: median(samples), samples };
  } finally {
    dispose();
  }
}
