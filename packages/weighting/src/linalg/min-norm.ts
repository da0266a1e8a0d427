import { nonNegativeQp } from './qp.js';
import { projectToSimplex } from './simplex.js';

/** Options of {@link minNormFrankWolfe}. */
export interface FrankWolfeOptions {
  /** Iteration cap (LibMTL: 250; its loop counts them since its June 2023 fix). */
  readonly maxIterations?: number;
  /** Stop when the L1 change of the weights drops below this (LibMTL: 1e-5). */
  readonly tolerance?: number;
  /**
   * Restore LibMTL's clamp of the two-point line search to [0.001, 0.999] (a defect: for two tasks
   * where one gradient dominates, the exact answer is 0 or 1). Default false.
   */
  readonly libmtlClamp?: boolean;
}

/** Min-norm point on the segment [v1, v2] given their Gram entries: returns γ (weight of v1) and the squared norm. */
export function minNormOnSegment(v1v1: number, v1v2: number, v2v2: number, libmtlClamp = false): { gamma: number; cost: number } {
  if (v1v2 >= v1v1) return { gamma: libmtlClamp ? 0.999 : 1, cost: v1v1 };
  if (v1v2 >= v2v2) return { gamma: libmtlClamp ? 0.001 : 0, cost: v2v2 };
  const gamma = -(v1v2 - v2v2) / (v1v1 + v2v2 - 2 * v1v2);
  return { gamma, cost: v2v2 + gamma * (v1v2 - v2v2) };
}

const quad = (a: Float64Array, x: ArrayLike<number>, y: ArrayLike<number>, n: number): number => {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += x[i]! * a[i * n + j]! * y[j]!;
  return s;
};

/**
 * The min-norm element of the convex hull of the rows of G, from their Gram matrix `a` (n x n), by
 * the Frank–Wolfe scheme of Sener & Koltun as LibMTL runs it: best pair first (exact for n = 2),
 * then projected steps along the centred negative gradient, each followed by an exact line search.
 * Returns the simplex weights.
 */
export function minNormFrankWolfe(a: Float64Array, n: number, options: FrankWolfeOptions = {}): Float64Array {
  const maxIterations = options.maxIterations ?? 250;
  const tolerance = options.tolerance ?? 1e-5;
  const clamp = options.libmtlClamp ?? false;
  const sol = new Float64Array(n);
  if (n === 1) {
    sol[0] = 1;
    return sol;
  }
  let best = { i: 0, j: 1, gamma: 0, cost: Infinity };
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const r = minNormOnSegment(a[i * n + i]!, a[i * n + j]!, a[j * n + j]!, clamp);
      if (r.cost < best.cost) best = { i, j, ...r };
    }
  }
  sol[best.i] = best.gamma;
  sol[best.j] = 1 - best.gamma;
  if (n < 3) return sol;
  let current = sol;
  for (let it = 0; it < maxIterations; it++) {
    const grad = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j]! * current[j]!;
      grad[i] = -s;
    }
    const next = nextPoint(current, grad, n);
    const { gamma } = minNormOnSegment(quad(a, current, current, n), quad(a, current, next, n), quad(a, next, next, n), clamp);
    const candidate = new Float64Array(n);
    let change = 0;
    for (let i = 0; i < n; i++) {
      candidate[i] = gamma * current[i]! + (1 - gamma) * next[i]!;
      change += Math.abs(candidate[i]! - current[i]!);
    }
    if (change < tolerance) return current;
    current = candidate;
  }
  return current;
}

function nextPoint(current: Float64Array, grad: Float64Array, n: number): Float64Array {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += grad[i]!;
  mean /= n;
  let t = 1;
  let anyLower = false;
  let lower = Infinity;
  let upper = Infinity;
  for (let i = 0; i < n; i++) {
    const p = grad[i]! - mean;
    if (p < 0) {
      const tm = -current[i]! / p;
      if (tm > 1e-7) {
        anyLower = true;
        lower = Math.min(lower, tm);
      }
    } else if (p > 0) {
      const tm = (1 - current[i]!) / p;
      if (tm > 1e-7) upper = Math.min(upper, tm);
    }
  }
  if (anyLower) t = lower;
  t = Math.min(t, upper);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (grad[i]! - mean) * t + current[i]!;
  return projectToSimplex(out);
}

/**
 * The exact min-norm element of the convex hull (simplex weights), via the non-negative QP
 * min ½xᵀAx − 1ᵀx, x ≥ 0, whose solution normalised to sum 1 solves min wᵀAw on the simplex.
 * A tiny ridge (1e-12 · trace) keeps singular Gram matrices solvable.
 */
export function minNormExact(a: Float64Array, n: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i]!;
  const out = new Float64Array(n);
  if (!(trace > 0)) {
    out.fill(1 / n);
    return out;
  }
  // Scale to unit trace so the ridge and the tolerances are relative.
  const scaled = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) scaled[i] = a[i]! / trace;
  for (let i = 0; i < n; i++) scaled[i * n + i] = scaled[i * n + i]! + 1e-12;
  const { x } = nonNegativeQp(scaled, new Float64Array(n).fill(-1), n);
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]!;
  for (let i = 0; i < n; i++) out[i] = x[i]! / s;
  return out;
}
