import { defineAggregator } from '../define.js';
import { paramOptimizer, type ParamOptimizerChoice, type ParamOptimizerState } from '../param-optimizer.js';
import { pseudoInverse, solveLinear } from '../linalg/solve.js';
import { checkBoolean, checkStateTasks, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface ImtlOptions extends CommonOptions {
  /** IMTL-L: learn a scale s_t per task, loss e^{s_t} L_t − s_t (default true, as LibMTL). */
  readonly lossScale?: boolean;
  /**
   * How s is stepped: 'trainer' (default; the trainer's optimizer and learning rate, as LibMTL —
   * Adam 1e-3 outside a trainer without `input.optimizer`) or a private optimizer.
   */
  readonly optimizer?: ParamOptimizerChoice;
}

/** IMTL's JSON state: IMTL-L's log-scales and their optimizer's moments. */
export interface ImtlState {
  readonly scale: readonly number[];
  readonly optimizer: ParamOptimizerState;
}

/**
 * IMTL (Liu et al., ICLR 2021) = IMTL-L + IMTL-G, as LibMTL. IMTL-L: each task loss becomes
 * e^{s_t} L_t − s_t (s init 0), so row t of G is scaled by e^{s_t} and s then takes one step on
 * ∂/∂s_t = e^{s_t} L_t − 1 (on plain numbers, with the trainer's optimizer as LibMTL by default). IMTL-G, closed
 * form: u_t = g_t / ‖g_t‖, D = g_1 − g_t, U = u_1 − u_t (t ≥ 2), α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹,
 * α_1 = 1 − Σ α; direction Σ α_t g_t (weights sum to 1). Head gradients are scaled by e^{s_t}.
 *
 * Differences from LibMTL: zero rows get weight 0 and are left out of the system (LibMTL divides by
 * a zero norm and crashes). When D Uᵀ is singular — linearly dependent rows such as collinear rows or
 * P < T − 1, all rows equal — LibMTL's `torch.inverse` returns garbage or NaN (and a pivot test
 * relative to the matrix's own near-zero entries would pass it, making the weights depend on the row
 * order); we detect the rank deficiency from singular values relative to the row norms (see
 * {@link imtlG}) and return the minimum-norm α among the least-squares solutions of "equal
 * projections, Σ α = 1" (pseudo-inverse). It is unique and permuted with the rows; for all rows equal
 * it is 1/T' over the T' non-zero rows. Solved on the Gram matrix (T x T) instead of P-sized products.
 *
 * Row permutation: invariant to rounding (~1e-12 relative), for full-rank and rank-deficient G alike.
 */
export function imtl(options: ImtlOptions = {}): Aggregator<ImtlState> {
  checkKnownOptions('imtl', options, ['lossScale', 'optimizer']);
  const lossScale = checkBoolean('lossScale', options.lossScale, true);
  const opt = paramOptimizer(options.optimizer);
  return defineAggregator<ImtlState>(
    {
      name: 'imtl',
      nativeScale: 'mean',
      minTasks: 2,
      initialState: (n) => ({ scale: new Array<number>(n).fill(0), optimizer: opt.initialState(n) }),
      gramian: true,
      checkState: (s, n) => checkStateTasks('imtl', s.scale.length, n),
      fromGramian(raw, T, { losses, optimizer }, state) {
        const e = state.scale.map((s) => (lossScale ? Math.exp(s) : 1));
        const a = new Float64Array(T * T);
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) a[i * T + j] = raw[i * T + j]! * e[i]! * e[j]!;
        const alpha = imtlG(a, T);
        const weights = alpha.map((v, t) => v * e[t]!);
        let next = state;
        if (lossScale) {
          const step = opt.step(state.scale, losses.map((l, t) => e[t]! * l - 1), state.optimizer, optimizer);
          next = { scale: step.params, optimizer: step.state };
        }
        return { weights, state: next, headWeights: e };
      },
    },
    options,
  );
}

/**
 * Relative tolerance of the rank test: D Uᵀ counts as singular when a singular value of its
 * permutation-symmetric form S (see imtlG) is ≤ this times the largest row norm. Dependent rows leave
 * σ ~ 1e-16 · ‖g‖; independent rows in general position are many decades above.
 */
export const IMTL_RANK_TOLERANCE = 1e-10;

/**
 * IMTL-G weights from the Gram matrix `a` of the (scaled) rows.
 *
 * The closed form α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹ is the system "equal projections g·u_t for all t,
 * Σ α = 1". Written without a reference row, with B_ts = u_t · g_s = a_ts / ‖g_t‖, α = 1/T + Q y for an
 * orthonormal basis Q of 1⊥ (Helmert), it is S y = −Qᵀ B 1 / T with S = Qᵀ B Q, and D Uᵀ = Rᵀ Sᵀ R for
 * an invertible R, so both are singular together. The rank is read from S's singular values, which do
 * not depend on the row order. Full rank: the closed form as before. Rank-deficient (collinear rows,
 * P < T − 1, all rows equal, ...): α = 1/T + Q S⁺ r, the minimum-norm α among the least-squares
 * solutions with Σ α = 1 (unique, and permuted with the rows since S⁺ transforms as S does).
 */
export function imtlG(a: Float64Array, T: number): number[] {
  const active = Array.from({ length: T }, (_, i) => i).filter((i) => a[i * T + i]! > 0);
  const alpha = new Array<number>(T).fill(0);
  if (active.length === 0) return alpha;
  if (active.length === 1) {
    alpha[active[0]!] = 1;
    return alpha;
  }
  const k = active.length;
  const n = active.map((i) => Math.sqrt(a[i * T + i]!));
  const dotGU = (p: number, q: number): number => a[active[p]! * T + active[q]!]! / n[q]!; // g_p · u_q
  const m = k - 1;
  // The symmetric form: B[t][s] = u_t · g_s, Helmert basis q_j = (1, …, 1, −j, 0, …) / √(j (j + 1)).
  const helmert = (t: number, j: number): number => (t < j + 1 ? 1 : t === j + 1 ? -(j + 1) : 0) / Math.sqrt((j + 1) * (j + 2));
  const bq = new Float64Array(k * m); // B Q
  const b1 = new Float64Array(k); // B 1 / k
  for (let t = 0; t < k; t++) {
    for (let s = 0; s < k; s++) {
      const bts = dotGU(s, t);
      b1[t] = b1[t]! + bts / k;
      for (let j = 0; j < m; j++) bq[t * m + j] = bq[t * m + j]! + bts * helmert(s, j);
    }
  }
  const sym = new Float64Array(m * m); // S = Qᵀ B Q
  const r = new Float64Array(m); // −Qᵀ B 1 / k
  for (let i = 0; i < m; i++) {
    for (let t = 0; t < k; t++) {
      const q = helmert(t, i);
      if (q === 0) continue;
      r[i] = r[i]! - q * b1[t]!;
      for (let j = 0; j < m; j++) sym[i * m + j] = sym[i * m + j]! + q * bq[t * m + j]!;
    }
  }
  const pinv = pseudoInverse(sym, m, IMTL_RANK_TOLERANCE * Math.max(...n));
  if (pinv.rank === m) {
    const sol = closedForm(dotGU, m);
    if (sol) {
      let rest = 0;
      for (let c = 0; c < m; c++) {
        alpha[active[c + 1]!] = sol[c]!;
        rest += sol[c]!;
      }
      alpha[active[0]!] = 1 - rest;
      return alpha;
    }
  }
  // Rank-deficient: the minimum-norm least-squares α = 1/k + Q S⁺ r.
  for (let t = 0; t < k; t++) {
    let v = 1 / k;
    for (let j = 0; j < m; j++) {
      const q = helmert(t, j);
      if (q === 0) continue;
      let y = 0;
      for (let c = 0; c < m; c++) y += pinv.inverse[j * m + c]! * r[c]!;
      v += q * y;
    }
    alpha[active[t]!] = v;
  }
  return alpha;
}

/** LibMTL's closed form with row 0 as the reference: α_{2..T} solves α (D Uᵀ) = g_1 Uᵀ; undefined if singular. */
function closedForm(dotGU: (p: number, q: number) => number, m: number): Float64Array | undefined {
  // M[r][c] = (D Uᵀ)[r][c] = (g_0 − g_{r+1}) · (u_0 − u_{c+1}); rhs[c] = g_0 · (u_0 − u_{c+1}).
  // α solves α M = rhs, i.e. Mᵀ αᵀ = rhsᵀ.
  const mt = new Float64Array(m * m);
  const rhs = new Float64Array(m);
  for (let c = 0; c < m; c++) {
    rhs[c] = dotGU(0, 0) - dotGU(0, c + 1);
    for (let r = 0; r < m; r++) mt[c * m + r] = dotGU(0, 0) - dotGU(0, c + 1) - dotGU(r + 1, 0) + dotGU(r + 1, c + 1);
  }
  try {
    return solveLinear(mt, rhs, m);
  } catch {
    return undefined;
  }
}
