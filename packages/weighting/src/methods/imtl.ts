import { defineAggregator } from '../define.js';
import { paramOptimizer, type ParamOptimizerOptions, type ParamOptimizerState } from '../param-optimizer.js';
import { solveLinear } from '../linalg/solve.js';
import { combineRows, gram } from '../linalg/vector.js';
import { checkBoolean, checkStateTasks } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface ImtlOptions extends CommonOptions {
  /** IMTL-L: learn a scale s_t per task, loss e^{s_t} L_t − s_t (default true, as LibMTL). */
  readonly lossScale?: boolean;
  /** How s is stepped (default Adam, learning rate 1e-3). */
  readonly optimizer?: ParamOptimizerOptions;
}

/** IMTL's JSON state: IMTL-L's log-scales and their optimizer's moments. */
export interface ImtlState {
  readonly scale: readonly number[];
  readonly optimizer: ParamOptimizerState;
}

/**
 * IMTL (Liu et al., ICLR 2021) = IMTL-L + IMTL-G, as LibMTL. IMTL-L: each task loss becomes
 * e^{s_t} L_t − s_t (s init 0), so row t of G is scaled by e^{s_t} and s then takes one step on
 * ∂/∂s_t = e^{s_t} L_t − 1 (own optimizer on plain numbers; LibMTL uses the model's). IMTL-G, closed
 * form: u_t = g_t / ‖g_t‖, D = g_1 − g_t, U = u_1 − u_t (t ≥ 2), α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹,
 * α_1 = 1 − Σ α; direction Σ α_t g_t (weights sum to 1). Head gradients are scaled by e^{s_t}.
 *
 * Differences from LibMTL: zero rows get weight 0 and are left out of the system (LibMTL divides by
 * a zero norm and crashes); if D Uᵀ is singular (e.g. all rows equal, where every α on the
 * simplex-sum line is a solution) the weights are 1/T' over the T' non-zero rows. Solved on the
 * Gram matrix (T x T) instead of P-sized products.
 *
 * Row permutation: for linearly independent rows the solution is unique and permutation-invariant
 * (to ~1e-12). For dependent rows (P < T, collinear rows) D Uᵀ is singular in exact arithmetic, but
 * row 0 is the reference and the singularity check is relative to the matrix's own entries, so a
 * nearly-zero system can pass it: the weights then depend on the row order.
 */
export function imtl(options: ImtlOptions = {}): Aggregator<ImtlState> {
  const lossScale = checkBoolean('lossScale', options.lossScale, true);
  const opt = paramOptimizer(options.optimizer);
  return defineAggregator<ImtlState>(
    {
      name: 'imtl',
      nativeScale: 'mean',
      minTasks: 2,
      initialState: (n) => ({ scale: new Array<number>(n).fill(0), optimizer: opt.initialState(n) }),
      checkState: (s, n) => checkStateTasks('imtl', s.scale.length, n),
      compute(g, { losses }, state) {
        const T = g.rows;
        const e = state.scale.map((s) => (lossScale ? Math.exp(s) : 1));
        const raw = gram(g);
        const a = new Float64Array(T * T);
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) a[i * T + j] = raw[i * T + j]! * e[i]! * e[j]!;
        const alpha = imtlG(a, T);
        const weights = alpha.map((v, t) => v * e[t]!);
        let next = state;
        if (lossScale) {
          const step = opt.step(state.scale, losses.map((l, t) => e[t]! * l - 1), state.optimizer);
          next = { scale: step.params, optimizer: step.state };
        }
        return { direction: combineRows(weights, g), weights, state: next, headWeights: e };
      },
    },
    options,
  );
}

/** IMTL-G weights from the Gram matrix `a` of the (scaled) rows. */
export function imtlG(a: Float64Array, T: number): number[] {
  const active = Array.from({ length: T }, (_, i) => i).filter((i) => a[i * T + i]! > 0);
  const alpha = new Array<number>(T).fill(0);
  if (active.length === 0) return alpha;
  if (active.length === 1) {
    alpha[active[0]!] = 1;
    return alpha;
  }
  const n = active.map((i) => Math.sqrt(a[i * T + i]!));
  const dotGU = (p: number, q: number): number => a[active[p]! * T + active[q]!]! / n[q]!; // g_p · u_q
  const m = active.length - 1;
  // M[r][c] = (D Uᵀ)[r][c] = (g_0 − g_{r+1}) · (u_0 − u_{c+1}); rhs[c] = g_0 · (u_0 − u_{c+1}).
  // α solves α M = rhs, i.e. Mᵀ αᵀ = rhsᵀ.
  const mt = new Float64Array(m * m);
  const rhs = new Float64Array(m);
  for (let c = 0; c < m; c++) {
    rhs[c] = dotGU(0, 0) - dotGU(0, c + 1);
    for (let r = 0; r < m; r++) {
      const v = dotGU(0, 0) - dotGU(0, c + 1) - dotGU(r + 1, 0) + dotGU(r + 1, c + 1);
      mt[c * m + r] = v;
    }
  }
  let sol: Float64Array;
  try {
    sol = solveLinear(mt, rhs, m);
  } catch {
    active.forEach((i) => (alpha[i] = 1 / active.length));
    return alpha;
  }
  let rest = 0;
  for (let r = 0; r < m; r++) {
    alpha[active[r + 1]!] = sol[r]!;
    rest += sol[r]!;
  }
  alpha[active[0]!] = 1 - rest;
  return alpha;
}
