import { requireFiniteNumber, requirePositiveInteger } from '@mtl/core';
import { defineAggregator } from '../define.js';
import { solveLinear } from '../linalg/solve.js';
import { combineRows, gram, norm } from '../linalg/vector.js';
import { checkStateTasks } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface NashMtlOptions extends CommonOptions {
  /** Recompute the weights every this many calls (default 1); in between the last ones are reused. */
  readonly updateWeightsEvery?: number;
  /** Clip the direction's norm to this (default 1.0, LibMTL's `max_norm`); 0 disables. */
  readonly maxNorm?: number;
}

/** Nash-MTL's JSON state: the call counter and the last weights. */
export interface NashMtlState {
  readonly numTasks: number;
  readonly calls: number;
  readonly alpha: readonly number[] | null;
}

/**
 * Nash-MTL (Navon et al., ICML 2022): the Nash bargaining weights α > 0 with (Â α)_t = 1 / α_t,
 * Â = G Gᵀ / ‖G Gᵀ‖_F (LibMTL's normalisation), direction Σ α_t g_t clipped to `maxNorm`.
 *
 * The fixed point is the unique minimiser of the strictly convex F(α) = ½ αᵀ Â α − Σ log α_t, which
 * we find by damped Newton steps (solveBargaining, to a residual ~1e-12 of the ridged system). The
 * authors (and LibMTL) run ≤ 20 convex sub-problems with cvxpy/ECOS and stop at a residual
 * ‖Â α − 1/α‖ < 1e-3; our weights are the exact solution they approximate, up to a 1e-10 ridge that
 * keeps the problem bounded when 0 is in the convex hull of the rows and no solution exists: α solves
 * (Â + 1e-10 I) α = 1/α, so (Â α)_t α_t = 1 − 1e-10 α_t² (≲ 1e-4 off for rows decades shorter than
 * the others, whose α_t is large). Zero rows cannot satisfy the equation: they get weight 0 and the
 * others are solved without them (LibMTL's solver fails and keeps the previous weights). The weights returned include the clipping factor (direction = weightsᵀ G); LibMTL
 * returns α before clipping.
 *
 * Row permutation: invariant to rounding (~1e-14 relative on random full-rank problems). Near the
 * answer the Newton loop takes full steps without comparing objective values (their rounding,
 * ~1e-16 |F|, exceeds the gain there) and stops at a decrement < 1e-24 or once rounding keeps it
 * from shrinking, so every row order reaches the same converged α.
 */
export function nashMtl(options: NashMtlOptions = {}): Aggregator<NashMtlState> {
  const every = requirePositiveInteger('updateWeightsEvery', options.updateWeightsEvery ?? 1);
  const maxNorm = requireFiniteNumber('maxNorm', options.maxNorm ?? 1, { min: 0 });
  return defineAggregator<NashMtlState>(
    {
      name: 'nash-mtl',
      nativeScale: 'sum',
      initialState: (n) => ({ numTasks: n, calls: 0, alpha: null }),
      checkState: (s, n) => checkStateTasks('nash-mtl', s.numTasks, n),
      compute(g, _input, state) {
        const T = g.rows;
        let alpha = state.alpha;
        if (alpha === null || state.calls % every === 0) {
          const a = gram(g);
          let fro = 0;
          for (let i = 0; i < T * T; i++) fro += a[i]! * a[i]!;
          fro = Math.sqrt(fro);
          alpha = fro > 0 ? solveBargaining(a.map((v) => v / fro), T) : new Array<number>(T).fill(0);
        }
        let weights = [...alpha];
        let direction = combineRows(weights, g);
        const n = norm(direction);
        if (maxNorm > 0 && n > maxNorm) {
          const f = maxNorm / (n + 1e-6);
          weights = weights.map((w) => w * f);
          direction = direction.map((v) => v * f);
        }
        return { direction, weights, state: { numTasks: T, calls: state.calls + 1, alpha } };
      },
    },
    options,
  );
}

/** λ² below which Newton steps are taken in full (λ < 1/4, the quadratic-convergence region). */
const QUADRATIC_REGION = 1 / 16;

/**
 * Solves A α = 1/α (element-wise) for α > 0 over the rows with A_tt > 0 (others get 0), by damped
 * Newton on F(α) = ½ αᵀAα − Σ log α, Hessian A + diag(1/α²). F is self-concordant, so once the
 * Newton decrement λ² = ∇Fᵀ H⁻¹ ∇F is below 1/16 the full step keeps α > 0 and converges
 * quadratically: it is taken without a line search (whose Armijo test would compare objective values
 * whose rounding exceeds the gain), until λ² < 1e-24 or λ² stops decreasing (the rounding floor).
 * Farther away, backtracking on F as usual. A ridge (default 1e-10, relative to
 * a Frobenius-normalised A) keeps F bounded when 0 lies in the convex hull of the rows (then no
 * bargaining solution exists and α would grow without bound).
 */
export function solveBargaining(a: Float64Array, T: number, ridge = 1e-10, maxIterations = 100): number[] {
  const active = Array.from({ length: T }, (_, i) => i).filter((i) => a[i * T + i]! > 0);
  const n = active.length;
  const out = new Array<number>(T).fill(0);
  if (n === 0) return out;
  const sub = new Float64Array(n * n);
  active.forEach((i, r) => active.forEach((j, c) => (sub[r * n + c] = a[i * T + j]! + (r === c ? ridge : 0))));
  const objective = (x: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++) row += sub[i * n + j]! * x[j]!;
      s += 0.5 * x[i]! * row - Math.log(x[i]!);
    }
    return s;
  };
  let x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = 1 / Math.sqrt(sub[i * n + i]! * n);
  let fx = objective(x);
  let previous = Infinity; // the decrement before the last full Newton step
  for (let it = 0; it < maxIterations; it++) {
    const grad = new Float64Array(n);
    const hess = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++) {
        row += sub[i * n + j]! * x[j]!;
        hess[i * n + j] = sub[i * n + j]!;
      }
      grad[i] = row - 1 / x[i]!;
      hess[i * n + i] = hess[i * n + i]! + (1 / (x[i]! * x[i]!));
    }
    const step = solveLinear(hess, grad, n);
    let decrement = 0;
    for (let i = 0; i < n; i++) decrement += grad[i]! * step[i]!;
    if (!(decrement >= 1e-24)) break;
    if (decrement < QUADRATIC_REGION) {
      // λ < 1/4: F is self-concordant, so the full step stays inside α > 0 and λ⁺ ≤ (λ / (1 − λ))²;
      // no objective comparison is needed (F's rounding, ~1e-16 |F|, would exceed the gain here).
      // Once λ² stops shrinking, rounding is all that is left: stop with the current iterate.
      if (decrement >= previous) break;
      const trial = x.map((v, i) => v - step[i]!);
      if (trial.every((v) => v > 0)) {
        previous = decrement;
        x = trial;
        fx = objective(x);
        continue;
      }
    }
    previous = Infinity;
    let t = 1;
    for (;;) {
      const trial = x.map((v, i) => v - t * step[i]!);
      if (trial.every((v) => v > 0)) {
        const ft = objective(trial);
        if (ft <= fx - 0.25 * t * decrement || t < 1e-12) {
          x = trial;
          fx = ft;
          break;
        }
      }
      t /= 2;
    }
  }
  active.forEach((i, r) => (out[i] = x[r]!));
  return out;
}
