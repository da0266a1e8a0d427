import { solveLinear } from './solve.js';

/** Result of {@link nonNegativeQp}. */
export interface QpSolution {
  readonly x: Float64Array;
  readonly iterations: number;
}

/**
 * Solves min ½ xᵀ Q x + qᵀ x subject to x ≥ 0 for a small symmetric positive definite Q (n x n,
 * row-major), exactly up to rounding, by a primal active-set method (Lawson–Hanson adapted to a
 * quadratic objective). Finite: each outer step adds one index and the objective strictly drops.
 */
export function nonNegativeQp(qMatrix: ArrayLike<number>, q: ArrayLike<number>, n: number, maxIterations = 50 * (n + 1)): QpSolution {
  const x = new Float64Array(n);
  const free = new Array<boolean>(n).fill(false);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(q[i]!), Math.abs(qMatrix[i * n + i]!));
  const tol = 1e-13 * Math.max(scale, 1e-300);
  let iterations = 0;
  const subproblem = (): Float64Array => {
    const idx = free.flatMap((f, i) => (f ? [i] : []));
    const m = idx.length;
    const a = new Float64Array(m * m);
    const b = new Float64Array(m);
    idx.forEach((i, r) => {
      b[r] = -q[i]!;
      idx.forEach((j, c) => (a[r * m + c] = qMatrix[i * n + j]!));
    });
    const zf = m > 0 ? solveLinear(a, b, m) : new Float64Array(0);
    const z = new Float64Array(n);
    idx.forEach((i, r) => (z[i] = zf[r]!));
    return z;
  };
  while (iterations++ < maxIterations) {
    // Gradient Qx + q; the most negative component among the bound indices enters.
    let best = -1;
    let bestValue = -tol;
    for (let i = 0; i < n; i++) {
      if (free[i]) continue;
      let g = q[i]!;
      for (let j = 0; j < n; j++) g += qMatrix[i * n + j]! * x[j]!;
      if (g < bestValue) {
        bestValue = g;
        best = i;
      }
    }
    if (best < 0) break;
    free[best] = true;
    for (let inner = 0; inner <= n; inner++) {
      const z = subproblem();
      let alpha = 1;
      let blocking = -1;
      for (let i = 0; i < n; i++) {
        if (!free[i] || z[i]! > 0) continue;
        const a = x[i]! / (x[i]! - z[i]!);
        if (a < alpha) {
          alpha = a;
          blocking = i;
        }
      }
      for (let i = 0; i < n; i++) x[i] = x[i]! + alpha * (z[i]! - x[i]!);
      if (blocking < 0) break;
      for (let i = 0; i < n; i++) {
        if (free[i] && (i === blocking || x[i]! <= 0)) {
          free[i] = false;
          x[i] = 0;
        }
      }
    }
  }
  return { x, iterations };
}
