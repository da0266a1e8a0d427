import { MtlError } from '@mtl/core';
import { symmetricEigen } from './eigen.js';

/**
 * Solves A x = b for a small dense square A (n x n, row-major) by Gaussian elimination with
 * partial pivoting, in float64. Throws INVALID_DATA when A is singular to working precision.
 */
export function solveLinear(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(m[i]!));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]!) > Math.abs(m[p * n + c]!)) p = r;
    const pivot = m[p * n + c]!;
    if (!(Math.abs(pivot) > scale * 1e-14)) {
      throw new MtlError('INVALID_DATA', `linear system is singular (pivot ${pivot} in column ${c})`, { column: c, pivot });
    }
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        const t = m[c * n + k]!;
        m[c * n + k] = m[p * n + k]!;
        m[p * n + k] = t;
      }
      const t = x[c]!;
      x[c] = x[p]!;
      x[p] = t;
    }
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c]! / pivot;
      if (f === 0) continue;
      for (let k = c; k < n; k++) m[r * n + k] = m[r * n + k]! - (f * m[c * n + k]!);
      x[r] = x[r]! - (f * x[c]!);
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r]!;
    for (let k = r + 1; k < n; k++) s -= m[r * n + k]! * x[k]!;
    x[r] = s / m[r * n + r]!;
  }
  return x;
}

/** Result of {@link pseudoInverse}. */
export interface PseudoInverse {
  /** The Moore–Penrose pseudo-inverse A⁺ (n x n, row-major), singular values ≤ `cutoff` dropped. */
  readonly inverse: Float64Array;
  /** The number of singular values kept. */
  readonly rank: number;
  /** The singular values of A, descending. */
  readonly singularValues: Float64Array;
}

/**
 * The pseudo-inverse of a small square A (n x n, row-major, not necessarily symmetric), dropping the
 * singular values ≤ `cutoff` (absolute; pass a tolerance times the problem's scale). Computed from the
 * Jacobi eigen-decomposition of the symmetric [[0, A], [Aᵀ, 0]], whose eigenvalues are ±σ_i: this
 * resolves the σ_i to ~1e-16 ‖A‖ (forming AᵀA would only resolve them to ~1e-8 ‖A‖), and A⁺ is the
 * lower-left block of its pseudo-inverse, which does not depend on how repeated σ_i are split.
 * A⁺ b is the minimum-norm least-squares solution of A x = b; for an orthogonal Q, (QAQᵀ)⁺ = Q A⁺ Qᵀ.
 */
export function pseudoInverse(a: ArrayLike<number>, n: number, cutoff: number): PseudoInverse {
  const size = 2 * n;
  const h = new Float64Array(size * size);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      h[i * size + n + j] = a[i * n + j]!;
      h[(n + j) * size + i] = a[i * n + j]!;
    }
  }
  const { values, vectors } = symmetricEigen(h, size);
  const inverse = new Float64Array(n * n);
  let rank = 0;
  for (let k = 0; k < size; k++) {
    const lambda = values[k]!;
    if (!(Math.abs(lambda) > cutoff)) continue;
    if (lambda > 0) rank++;
    for (let i = 0; i < n; i++) {
      const wi = vectors[(n + i) * size + k]! / lambda;
      if (wi === 0) continue;
      for (let j = 0; j < n; j++) inverse[i * n + j] = inverse[i * n + j]! + wi * vectors[j * size + k]!;
    }
  }
  const singularValues = values.slice(0, n).map((v) => Math.max(v, 0));
  return { inverse, rank, singularValues };
}
