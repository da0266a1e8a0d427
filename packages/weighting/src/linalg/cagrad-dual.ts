import { isMtlError } from '@mtl/core';
import { nonNegativeQp } from './qp.js';
import { solveLinear } from './solve.js';

/** Result of {@link solveCagradDual}. */
export interface CagradDualSolution {
  /** The dual weights w on the simplex. */
  readonly w: Float64Array;
  /** Outer iterations (one small QP each). */
  readonly iterations: number;
  /** True when a face's closed form passed the optimality check; false after the bisection cap. */
  readonly exact: boolean;
}

/**
 * Solves CAGrad's dual min_{w ∈ simplex} F(w) = wᵀb + k √(wᵀAw + ε), b = A 1/T, from the Gram
 * matrix A = G Gᵀ alone (T x T, row-major): O(T³) per iteration, independent of P.
 *
 * Method. With √x = min_{r>0} x/(2r) + r/2 the problem is jointly convex in (w, r); for a fixed
 * s = r/k the inner problem is the simplex QP min wᵀAw + 2s wᵀb (the point of the convex hull of the
 * rows nearest to −s ḡ), solved exactly by an active-set method, and the optimal s solves
 * ψ(s) = k²s² − wᵀ(s)Aw(s) − ε = 0, where ψ changes sign once (from − to +). On a fixed support the
 * QP solution is affine in s, w = p + s d (one KKT solve), so ψ is a quadratic there and its root
 * is exact; the root is accepted when w ≥ 0 and the off-support KKT inequalities hold at it,
 * otherwise the support is recomputed at the new s (bracketed, with bisection as the safeguard).
 * Usually 1–3 iterations. When an inner QP meets a singular system (affinely dependent rows on its
 * active set: duplicated or opposite rows, P < T) the inner QPs get a ridge of 1e-12·trace(A); the
 * face solve and the optimality check still use A itself, so an accepted answer is exact for A. Only
 * when no face passes (`exact: false`, seen only with P < T) is the answer the ridged QP's, at the
 * bisected s.
 */
export function solveCagradDual(a: ArrayLike<number>, n: number, k: number, eps: number): CagradDualSolution {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i]!;
  if (n === 1 || !(trace > 0)) {
    // One task, or G = 0 (F is constant on the simplex).
    return { w: new Float64Array(n).fill(1 / n), iterations: 0, exact: true };
  }
  try {
    return solve(a, n, k, eps, 0);
  } catch (error) {
    // A singular inner QP (affinely dependent rows on its active set): retry with a tiny ridge.
    if (isMtlError(error) && error.code === 'INVALID_DATA') return solve(a, n, k, eps, 1e-12 * trace);
    throw error;
  }
}

function solve(a: ArrayLike<number>, n: number, k: number, eps: number, rho: number): CagradDualSolution {
  const w = new Float64Array(n);
  const ar = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) ar[i] = a[i]!;
  const b = new Float64Array(n);
  let gbar2 = 0;
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j]!;
    b[i] = s / n;
    gbar2 += s;
    maxDiag = Math.max(maxDiag, ar[i * n + i]!);
  }
  gbar2 = Math.max(gbar2 / (n * n), 0);
  if (!(k > 0)) {
    // No ball (c = 0 and ε = 0): F = wᵀb is minimised at a vertex.
    let best = 0;
    for (let i = 1; i < n; i++) if (b[i]! < b[best]!) best = i;
    w[best] = 1;
    return { w, iterations: 0, exact: true };
  }
  const quadForm = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      if (xi === 0) continue;
      for (let j = 0; j < n; j++) s += xi * ar[i * n + j]! * y[j]!;
    }
    return s;
  };
  const kk = k * k;

  // The inner QP at s, as the min-norm problem of the shifted Gram matrix
  // Q = Aρ + s (b 1ᵀ + 1 bᵀ) + s² ‖ḡ‖² 1 1ᵀ (= the Gram matrix of the rows g_t + s ḡ, plus the ridge).
  const q = new Float64Array(n * n);
  const innerQp = (s: number): Float64Array => {
    let tr = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) q[i * n + j] = ar[i * n + j]! + s * (b[i]! + b[j]!) + s * s * gbar2;
      q[i * n + i] = q[i * n + i]! + rho;
      tr += q[i * n + i]!;
    }
    for (let i = 0; i < n * n; i++) q[i] = q[i]! / tr;
    const { x } = nonNegativeQp(q, new Float64Array(n).fill(-1), n);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += x[i]!;
    for (let i = 0; i < n; i++) x[i] = x[i]! / sum;
    return x;
  };

  // On the support S: [Aρ_SS 1; 1ᵀ 0] [u; ν] = [−s b_S; 1] → u = p + s d, ν = ν0 + s ν1.
  const face = (support: readonly number[]): { p: Float64Array; d: Float64Array } | undefined => {
    const m = support.length;
    const size = m + 1;
    const kkt = new Float64Array(size * size);
    support.forEach((i, r) => {
      support.forEach((j, c) => (kkt[r * size + c] = ar[i * n + j]!));
      kkt[r * size + m] = -1; // Aρ u − ν 1 = −s b
      kkt[m * size + r] = 1;
    });
    const rhs0 = new Float64Array(size);
    rhs0[m] = 1;
    const rhs1 = new Float64Array(size);
    support.forEach((i, r) => (rhs1[r] = -b[i]!));
    try {
      const z0 = solveLinear(kkt, rhs0, size);
      const z1 = solveLinear(kkt, rhs1, size);
      const p = new Float64Array(n);
      const d = new Float64Array(n);
      support.forEach((i, r) => {
        p[i] = z0[r]!;
        d[i] = z1[r]!;
      });
      return { p, d };
    } catch {
      return undefined;
    }
  };

  let lo = 0;
  let hi = Math.sqrt(maxDiag + eps) / k; // ψ(hi) ≥ 0: wᵀAρw ≤ max diag on the simplex
  if (!Number.isFinite(hi)) hi = Number.MAX_VALUE;
  let s = Math.min(hi, Math.sqrt(gbar2 + eps) / k); // guess ‖g_w‖ ≈ ‖ḡ‖
  let x = innerQp(s);
  let iterations = 0;
  const maxIterations = 200;
  while (iterations++ < maxIterations) {
    const psi = kk * s * s - quadForm(x, x) - eps;
    if (psi === 0) return { w: x, iterations, exact: true };
    if (psi < 0) lo = s;
    else hi = s;
    const support: number[] = [];
    for (let i = 0; i < n; i++) if (x[i]! > 0) support.push(i);
    const f = face(support);
    let next = Number.NaN;
    if (f) {
      // (k² − dᵀAd) s² − 2 pᵀAd s − (pᵀAp + ε) = 0, the positive root.
      const qa = quadForm(f.p, f.p) + eps;
      const qb = quadForm(f.p, f.d);
      const qc = kk - quadForm(f.d, f.d);
      const root = Math.abs(qc) > 1e-300 ? (qb + Math.sqrt(Math.max(qb * qb + qc * qa, 0))) / qc : -qa / (2 * qb);
      const alt = Math.abs(qc) > 1e-300 ? (qb - Math.sqrt(Math.max(qb * qb + qc * qa, 0))) / qc : root;
      const candidates = [root, alt].filter((r) => Number.isFinite(r) && r > 0);
      for (const r of candidates) {
        const u = new Float64Array(n);
        for (const i of support) u[i] = f.p[i]! + r * f.d[i]!;
        if (accepts(u, support, r)) {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += (u[i] = Math.max(u[i]!, 0));
          for (let i = 0; i < n; i++) u[i] = u[i]! / sum;
          return { w: u, iterations, exact: true };
        }
      }
      const inside = candidates.filter((r) => r > lo && r < hi);
      if (inside.length > 0 && iterations <= 2 * n + 4) next = inside.reduce((best, r) => (Math.abs(r - s) < Math.abs(best - s) ? r : best));
    }
    if (!Number.isFinite(next)) next = hi === Number.MAX_VALUE ? 2 * lo + 1 : (lo + hi) / 2;
    if (next === s || hi - lo <= 1e-15 * hi) break;
    s = next;
    x = innerQp(s);
  }
  return { w: x, iterations, exact: false };

  /**
   * Whether u (on `support`) solves the inner QP at s = r and r solves ψ(r) = 0, checked from scratch
   * (an ill-conditioned face, e.g. more rows than P + 1, can make the closed form inaccurate).
   */
  function accepts(u: Float64Array, support: readonly number[], r: number): boolean {
    const tol = 1e-10;
    for (const i of support) if (!(u[i]! >= -tol)) return false;
    // Each gradient entry is compared at the size of the terms it sums (rows can differ by decades).
    const grad = new Float64Array(n);
    const size = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let g = r * b[j]!;
      let m = Math.abs(g);
      for (const i of support) {
        const t = ar[j * n + i]! * u[i]!;
        g += t;
        m += Math.abs(t);
      }
      grad[j] = g;
      size[j] = m;
    }
    let nu = 0;
    let nuSize = 0;
    for (const i of support) {
      nu += grad[i]! / support.length;
      nuSize = Math.max(nuSize, size[i]!);
    }
    for (let j = 0; j < n; j++) {
      const allowed = tol * Math.max(size[j]!, nuSize);
      if (support.includes(j) ? !(Math.abs(grad[j]! - nu) <= allowed) : !(grad[j]! >= nu - allowed)) return false;
    }
    // ψ(r) = 0, up to the rounding of uᵀAu (which cancels when g_w ≈ 0, e.g. for opposite rows).
    const target = kk * r * r;
    let magnitude = 0;
    for (const i of support) for (const j of support) magnitude += Math.abs(u[i]! * ar[i * n + j]! * u[j]!);
    return Math.abs(target - quadForm(u, u) - eps) <= 1e-9 * target + 1e-13 * magnitude;
  }
}
