import { solveLinear } from './solve.js';

/** λ² below which Newton steps are taken in full (λ < 1/4, the quadratic-convergence region). */
const QUADRATIC_REGION = 1 / 16;

/**
 * Solves A α = α^{−q} (element-wise; q = 1 by default: Nash-MTL's A α = 1/α, FairGrad's q = 1/α) for α > 0 over the rows with A_tt > 0 (others get 0), by damped
 * Newton on F(α) = ½ αᵀAα − Σ log α, Hessian A + diag(1/α²). F is self-concordant, so once the
 * Newton decrement λ² = ∇Fᵀ H⁻¹ ∇F is below 1/16 the full step keeps α > 0 and converges
 * quadratically: it is taken without a line search (whose Armijo test would compare objective values
 * whose rounding exceeds the gain), until λ² < 1e-24 or λ² stops decreasing (the rounding floor).
 * Farther away, backtracking on F as usual. A ridge (default 1e-10, relative to
 * a Frobenius-normalised A) keeps F bounded when 0 lies in the convex hull of the rows (then no
 * bargaining solution exists and α would grow without bound).
 */
export function solveBargaining(a: Float64Array, T: number, ridge = 1e-10, maxIterations = 100, q = 1): number[] {
  // F(α) = ½ αᵀAα + Σ b(α_t) with b' = −α^{−q}: b = −log α (q = 1) or α^{1−q} / (q − 1), convex for q > 0.
  const barrier = q === 1 ? (x: number) => -Math.log(x) : (x: number) => Math.pow(x, 1 - q) / (q - 1);
  const slope = q === 1 ? (x: number) => 1 / x : (x: number) => Math.pow(x, -q);
  const curvature = q === 1 ? (x: number) => 1 / (x * x) : (x: number) => q * Math.pow(x, -q - 1);
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
      s += 0.5 * x[i]! * row + barrier(x[i]!);
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
      grad[i] = row - slope(x[i]!);
      hess[i * n + i] = hess[i * n + i]! + curvature(x[i]!);
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
