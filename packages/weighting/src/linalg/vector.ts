import type { Matrix } from '@mtl/core';

/** Dot product of row `i` of `a` with row `j` of `b` (both row-major with `cols` columns). */
export function rowDot(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, cols: number): number {
  const oi = i * cols;
  const oj = j * cols;
  let s = 0;
  for (let k = 0; k < cols; k++) s += a[oi + k]! * b[oj + k]!;
  return s;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** The Gram matrix G Gᵀ (T x T, row-major), accumulated in float64. */
export function gram(g: Matrix): Float64Array {
  const { rows, cols, data } = g;
  const out = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = i; j < rows; j++) {
      const v = rowDot(data, i, data, j, cols);
      out[i * rows + j] = v;
      out[j * rows + i] = v;
    }
  }
  return out;
}

/** wᵀ G: the combination of the rows of `g` with coefficients `w` (length P, float64). */
export function combineRows(w: ArrayLike<number>, g: Matrix): Float64Array {
  const { rows, cols, data } = g;
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const c = w[i]!;
    if (c === 0) continue;
    const o = i * cols;
    for (let k = 0; k < cols; k++) out[k] = out[k]! + (c * data[o + k]!);
  }
  return out;
}

/** A copy of `g` with row t multiplied by `s[t]` (float64). */
export function scaleRows(g: Matrix, s: ArrayLike<number>): Matrix {
  const data = new Float64Array(g.rows * g.cols);
  for (let i = 0; i < g.rows; i++) {
    const c = s[i]!;
    const o = i * g.cols;
    for (let k = 0; k < g.cols; k++) data[o + k] = c * g.data[o + k]!;
  }
  return { rows: g.rows, cols: g.cols, data };
}

/** Row norms ‖g_t‖. */
export function rowNorms(g: Matrix): Float64Array {
  const out = new Float64Array(g.rows);
  for (let i = 0; i < g.rows; i++) out[i] = Math.sqrt(rowDot(g.data, i, g.data, i, g.cols));
  return out;
}

/** Numerically stable softmax. */
export function softmax(x: readonly number[], temperature = 1): number[] {
  const m = Math.max(...x.map((v) => v / temperature));
  const e = x.map((v) => Math.exp(v / temperature - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export const sum = (x: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
};
