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
  const session = openSession(bench, options.warmup);
  try {
    const samples = session.sample(options.steps);
    return { ms: median(samples), samples };
  } finally {
    session.close();
  }
}

/** A set-up, warmed-up case that can be timed in several rounds (interleaved with PyTorch's). */
export interface Session {
  /** Wall times (ms) of `steps` further steps; throws if they leak tensors. */
  sample(steps: number): number[];
  close(): void;
}

export function openSession(bench: BenchCase, warmup: number): Session {
  const { step, dispose } = bench.setup();
  try {
    for (let i = 0; i < warmup; i++) step();
  } catch (error) {
    dispose();
    throw error;
  }
  return {
    sample(steps) {
      const before = tf.memory().numTensors;
      const samples: number[] = [];
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        step();
        samples.push(performance.now() - t0);
      }
      const leaked = tf.memory().numTensors - before;
      if (leaked > 0) throw new Error(`${bench.name} leaks ${leaked / steps} tensors per step`);
      return samples;
    },
    close: dispose,
  };
}
