import { solveLinear } from './solve.js';
import { solveBargaining } from './bargaining.js';

/**
 * Nash-MTL's authors' solver (Navon et al., ICML 2022; `Nash_MTL.solve_optimization` in LibMTL and
 * AvivNavon/nash-mtl): a sequence of at most `maxIterations` convex sub-problems (the
 * concave–convex procedure), each warm-started at the previous iterate α_p:
 *
 *   min_α  1ᵀ Â α + φ'(α_p)ᵀ (α − α_p) / n   s.t.  log(α_t n) + log((Â α)_t) ≥ 0,  α ≥ 0,
 *
 * with Â = G Gᵀ / n, n = ‖G Gᵀ‖_F and φ'(α_p) = 1/α_p + Âᵀ (1 / (Â α_p)) — the linearisation of
 * Σ log α_t + log (Â α)_t. The constraints say α_t (G Gᵀ α)_t ≥ 1 on the raw Gram matrix. The loop
 * stops, as theirs, when ‖Â α_p − 1/(α_p + 1e-10)‖ < 1e-3 or the new iterate moved less than 1e-6
 * (then α_p — the iterate *before* the last solve — is returned, as in their code), or after
 * `maxIterations` solves. A failed sub-problem (unbounded, or no strictly feasible point in the
 * domain Â α > 0) keeps α_p, as their `except` branch does.
 *
 * They solve each sub-problem with cvxpy/ECOS; here a log-barrier interior-point method with
 * Newton centring solves it to a duality gap of 1e-10 relative (ECOS: ~1e-8), so the two agree to
 * the accuracy of ECOS, not to the last digit.
 */
export function nashAuthorsSolve(aHat: Float64Array, T: number, norm: number, start: readonly number[], maxIterations: number): { alpha: number[]; iterations: number } {
  let alphaT = [...start];
  let iterations = 0;
  for (let it = 0; it < maxIterations; it++) {
    iterations++;
    const solved = solveSubproblem(aHat, T, norm, alphaT);
    const next = solved ?? alphaT;
    if (stop(aHat, T, alphaT, next)) break;
    alphaT = next;
  }
  return { alpha: alphaT, iterations };
}

function stop(aHat: Float64Array, T: number, alphaT: readonly number[], next: readonly number[]): boolean {
  let residual = 0;
  let moved = 0;
  for (let i = 0; i < T; i++) {
    let row = 0;
    for (let j = 0; j < T; j++) row += aHat[i * T + j]! * alphaT[j]!;
    residual += (row - 1 / (alphaT[i]! + 1e-10)) ** 2;
    moved += (next[i]! - alphaT[i]!) ** 2;
  }
  return Math.sqrt(residual) < 1e-3 || Math.sqrt(moved) < 1e-6;
}

/** One convex sub-problem at α_p; undefined where cvxpy would fail (unbounded, infeasible, non-finite data). */
function solveSubproblem(aHat: Float64Array, T: number, norm: number, prev: readonly number[]): number[] | undefined {
  const ga = matVec(aHat, prev, T);
  const c = new Float64Array(T);
  for (let j = 0; j < T; j++) {
    let colSum = 0;
    let tag = 1 / prev[j]!;
    for (let i = 0; i < T; i++) {
      colSum += aHat[i * T + j]!;
      tag += aHat[i * T + j]! / ga[i]!;
    }
    c[j] = colSum + tag / norm;
  }
  if (!c.every(Number.isFinite)) return undefined;
  // The bargaining solution α̂ (α̂ > 0, Â α̂ > 0) is a recession direction of the feasible set: if
  // cᵀα̂ < 0 the sub-problem is unbounded below (cvxpy: status 'unbounded', no value).
  const direction = solveBargaining(aHat, T);
  if (direction.every((v) => v > 0) && direction.reduce((s, v, j) => s + v * c[j]!, 0) < 0) return undefined;
  const x0 = feasibleStart(aHat, T, norm, prev);
  if (!x0) return undefined;
  return barrier(aHat, T, norm, c, x0);
}

const matVec = (a: ArrayLike<number>, x: ArrayLike<number>, n: number): Float64Array => {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += a[i * n + j]! * x[j]!;
    out[i] = s;
  }
  return out;
};

/** The constraint values h_t(x) = log(x_t n) + log((Â x)_t) (NaN outside the domain). */
function constraints(aHat: Float64Array, T: number, norm: number, x: ArrayLike<number>): { h: Float64Array; ax: Float64Array } | undefined {
  const ax = matVec(aHat, x, T);
  const h = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    if (!(x[i]! > 0) || !(ax[i]! > 0)) return undefined;
    h[i] = Math.log(x[i]! * norm) + Math.log(ax[i]!);
    if (!(h[i]! > 0)) return undefined;
  }
  return { h, ax };
}

/**
 * A strictly feasible point (phase I): α_p if α_p > 0 and Â α_p > 0, else the bargaining solution
 * of Â (α̂ > 0 with Â α̂ = 1/α̂ > 0), scaled up until every h_t ≥ 1 (h grows like 2 log s).
 */
function feasibleStart(aHat: Float64Array, T: number, norm: number, prev: readonly number[]): Float64Array | undefined {
  const positive = (x: ArrayLike<number>): boolean => {
    const ax = matVec(aHat, x, T);
    for (let i = 0; i < T; i++) if (!(x[i]! > 0) || !(ax[i]! > 0)) return false;
    return true;
  };
  const base = positive(prev) ? prev : solveBargaining(aHat, T);
  if (!positive(base)) return undefined;
  const ax = matVec(aHat, base, T);
  let scale = 1;
  for (let i = 0; i < T; i++) scale = Math.max(scale, Math.sqrt(Math.E / (base[i]! * norm * ax[i]!)));
  const x = Float64Array.from(base, (v) => v * scale);
  return constraints(aHat, T, norm, x) ? x : undefined;
}

/** Log-barrier method: minimise t cᵀx − Σ log h_t(x) for growing t, Newton centring with backtracking. */
function barrier(aHat: Float64Array, T: number, norm: number, c: Float64Array, start: Float64Array): number[] | undefined {
  let x = start;
  let t = 1;
  for (let outer = 0; outer < 60; outer++) {
    for (let inner = 0; inner < 100; inner++) {
      const at = constraints(aHat, T, norm, x)!;
      const grad = new Float64Array(T);
      const hess = new Float64Array(T * T);
      for (let j = 0; j < T; j++) grad[j] = t * c[j]!;
      for (let i = 0; i < T; i++) {
        const hi = at.h[i]!;
        // ∇h_i = e_i / x_i + Â_i / (Âx)_i; ∇²h_i = −e_i e_iᵀ / x_i² − Â_i Â_iᵀ / (Âx)_i².
        const dh = new Float64Array(T);
        for (let j = 0; j < T; j++) dh[j] = aHat[i * T + j]! / at.ax[i]!;
        dh[i] = dh[i]! + 1 / x[i]!;
        for (let j = 0; j < T; j++) {
          grad[j] = grad[j]! - dh[j]! / hi;
          for (let k = 0; k < T; k++) {
            const ak = (aHat[i * T + j]! * aHat[i * T + k]!) / (at.ax[i]! * at.ax[i]!);
            hess[j * T + k] = hess[j * T + k]! + (dh[j]! * dh[k]!) / (hi * hi) + ak / hi;
          }
        }
        hess[i * T + i] = hess[i * T + i]! + 1 / (x[i]! * x[i]! * hi);
      }
      // Jacobi-scaled solve: the barrier's curvatures 1/x² span many decades when α does.
      const d = Float64Array.from({ length: T }, (_, j) => 1 / Math.sqrt(hess[j * T + j]!));
      const scaled = hess.map((v, idx) => v * d[Math.floor(idx / T)]! * d[idx % T]!);
      let step: Float64Array;
      try {
        step = solveLinear(scaled, grad.map((v, j) => v * d[j]!), T).map((v, j) => v * d[j]!);
      } catch {
        return undefined;
      }
      let decrement = 0;
      for (let j = 0; j < T; j++) decrement += grad[j]! * step[j]!;
      if (!(decrement > 1e-14)) break;
      const value = (y: ArrayLike<number>): number => {
        const ct = constraints(aHat, T, norm, y);
        if (!ct) return Infinity;
        let f = 0;
        for (let j = 0; j < T; j++) f += t * c[j]! * y[j]! - Math.log(ct.h[j]!);
        return f;
      };
      const f0 = value(x);
      let s = 1;
      let trial = x.map((v, j) => v - step[j]!);
      while (value(trial) > f0 - 0.25 * s * decrement && s > 1e-14) {
        s /= 2;
        trial = x.map((v, j) => v - s * step[j]!);
      }
      if (s <= 1e-14) break;
      x = trial;
      // Running away from the start: unbounded below along some other recession direction.
      if (!x.every((v, j) => Number.isFinite(v) && v < 1e8 * Math.max(start[j]!, 1e-300) + 1e8)) return undefined;
    }
    let cx = 0;
    for (let j = 0; j < T; j++) cx += c[j]! * x[j]!;
    if (T / t < 1e-10 * Math.max(1, Math.abs(cx))) break;
    t *= 10;
  }
  return Array.from(x);
}
