import type { GradientSpace } from '@mtl/core';
import { defineAggregator } from '../define.js';
import { minNormExact, minNormFrankWolfe } from '../linalg/min-norm.js';
import { anyValue, finite, positiveInt } from '@mtl/core/internal';
import { checkBoolean, checkMethodOptions, oneOf } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface MgdaOptions extends CommonOptions {
  /**
   * Row normalisation before the min-norm problem (LibMTL's `mgda_gn`): 'none' (default), 'l2'
   * (‖g_t‖), 'loss' (L_t), 'loss+' (L_t ‖g_t‖). The weights apply to the *normalised* rows.
   */
  readonly normalization?: 'none' | 'l2' | 'loss' | 'loss+';
  /** 'frank-wolfe' (default, LibMTL's; stops at an L1 change < 1e-5) or 'exact' (active-set QP). */
  readonly solver?: 'frank-wolfe' | 'exact';
  /** Frank–Wolfe iteration cap (default 250). */
  readonly maxIterations?: number;
  /** Frank–Wolfe stopping tolerance (default 1e-5). */
  readonly tolerance?: number;
  /** Restore LibMTL's clamp of two-point solutions to [0.001, 0.999]. Default false. */
  readonly libmtlClamp?: boolean;
  /** The Jacobian's space; MGDA-UB is MGDA on 'representation'. Default 'parameters'. */
  readonly space?: GradientSpace;
}

/**
 * MGDA (Sener & Koltun, NeurIPS 2018): the min-norm point of the convex hull of the (normalised)
 * task gradients; weights on the simplex (scale of a mean, as LibMTL). `mgda-ub` is the same on
 * the representation Jacobian.
 *
 * Differences from LibMTL: the two-point line search returns exactly 0 or 1 when one gradient
 * dominates (LibMTL clamps to [0.001, 0.999]; `libmtlClamp: true` restores it); the best-pair
 * search has no 1e8 ceiling (LibMTL fails when every pair's squared norm exceeds 1e8); a zero
 * normaliser (zero row with 'l2'/'loss+', zero loss) is replaced by 1 instead of dividing by 0.
 * The weights returned are those of the raw rows (simplex weight / normaliser), so
 * direction = weightsᵀ G; with 'none' they are LibMTL's. The Frank–Wolfe loop stops after
 * `maxIterations` (250) as LibMTL's does since its June 2023 fix (c42c0c2). On the representation,
 * the Jacobian is the flattened batch x dim one (Sener & Koltun's MGDA-UB); LibMTL's `rep_grad`
 * sums it over the batch first (`toUpdateRule(m, { representationForm: 'batch-sum' })`) and, with a
 * normalisation, applies the simplex weights to the un-normalised per-sample gradients.
 *
 * Row permutation: `solver: 'exact'` is permutation-invariant to rounding (~1e-15). Frank–Wolfe is
 * exact for two tasks, but for T ≥ 3 it usually stops at its iteration cap while still
 * zig-zagging, and rounding differences from another row order (sums taken in another order) are
 * amplified along that path: the permuted run stops at a slightly different unconverged point
 * (directions agree to ~1e-2 relative, the min-norm value to ~1e-3). Rank-deficient G (P < T):
 * the direction is unique but the weights are not.
 */
export function mgda(options: MgdaOptions = {}): Aggregator<null> {
  checkMethodOptions('mgda', options, {
    normalization: anyValue,
    solver: anyValue,
    maxIterations: positiveInt,
    tolerance: finite({ min: 0 }),
    libmtlClamp: anyValue,
    space: anyValue,
  });
  const normalization = oneOf('normalization', options.normalization, ['none', 'l2', 'loss', 'loss+'] as const, 'none');
  const solver = oneOf('solver', options.solver, ['frank-wolfe', 'exact'] as const, 'frank-wolfe');
  const libmtlClamp = checkBoolean('libmtlClamp', options.libmtlClamp, false);
  const space = oneOf('space', options.space, ['parameters', 'representation'] as const, 'parameters');
  const fw = { libmtlClamp, ...(options.maxIterations === undefined ? {} : { maxIterations: options.maxIterations }), ...(options.tolerance === undefined ? {} : { tolerance: options.tolerance }) };
  return defineAggregator<null>(
    {
      name: space === 'representation' ? 'mgda-ub' : 'mgda',
      space,
      nativeScale: 'mean',
      gramian: true,
      initialState: () => null,
      fromGramian(raw, T, { losses }) {
        const normalizer = losses.map((l, t) => {
          const n2 = Math.sqrt(raw[t * T + t]!);
          const v = normalization === 'l2' ? n2 : normalization === 'loss' ? l : normalization === 'loss+' ? l * n2 : 1;
          return v === 0 ? 1 : v;
        });
        const a = new Float64Array(T * T);
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) a[i * T + j] = raw[i * T + j]! / (normalizer[i]! * normalizer[j]!);
        const sol = solver === 'exact' ? minNormExact(a, T) : minNormFrankWolfe(a, T, fw);
        const weights = Array.from(sol, (s, t) => s / normalizer[t]!);
        return { weights, state: null };
      },
    },
    options,
  );
}
