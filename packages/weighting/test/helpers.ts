import { expect } from 'vitest';
import type { SeededRandom} from '@mtl/core';
import { matrixFromRows, type Matrix } from '@mtl/core';

/** A random T x P matrix with N(0, 1) entries (row norms scaled by `scales` if given). */
export function randomMatrix(rng: SeededRandom, T: number, P: number, scales?: readonly number[]): Matrix {
  const data = new Float64Array(T * P);
  for (let t = 0; t < T; t++) for (let k = 0; k < P; k++) data[t * P + k] = rng.normal() * (scales?.[t] ?? 1);
  return { rows: T, cols: P, data };
}

export function rowsOf(g: Matrix): number[][] {
  return Array.from({ length: g.rows }, (_, t) => Array.from(g.data.subarray(t * g.cols, (t + 1) * g.cols)));
}

export const fromRows = matrixFromRows;

/** A uniform source that replays the given draws, then fails loudly. */
export function draws(values: readonly number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error(`only ${values.length} draws were provided`);
    return values[i++]!;
  };
}

/** |a − b| ≤ rel · max(|b|, floor) element-wise. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-6, floor = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  let scale = floor;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (!(diff <= rel * scale)) {
      throw new Error(`entry ${i}: got ${actual[i]}, expected ${expected[i]} (relative error ${diff / scale} > ${rel})`);
    }
  }
}

export const dotRows = (d: ArrayLike<number>, g: Matrix, t: number): number => {
  let s = 0;
  for (let k = 0; k < g.cols; k++) s += d[k]! * g.data[t * g.cols + k]!;
  return s;
};

export const vnorm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
