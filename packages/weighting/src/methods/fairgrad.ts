import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import { solveBargaining } from '../linalg/bargaining.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface FairGradOptions extends CommonOptions {
  /** α of α-fair utility (default 1, LibMTL's `FairGrad_alpha`: proportional fairness). */
  readonly alpha?: number;
}

/**
 * FairGrad (Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024): the weights
 * w > 0 solving G Gᵀ w = w^{−1/α} element-wise, direction Σ_t w_t g_t (heads scaled by w, as LibMTL
 * backpropagates Σ w_t L_t). α = 1 is the Nash bargaining equation (Nash-MTL without its norm clip).
 *
 * Difference from LibMTL: they run scipy's `least_squares` (trust-region, bounds w ≥ 0) from 1/T;
 * the root is the unique minimiser of the strictly convex ½ wᵀAw + Σ b(w_t) with b' = −w^{−1/α}, which
 * we find by damped Newton on the raw Gram matrix normalised by ‖G Gᵀ‖_F for conditioning (then
 * rescaled: w = ŵ · n^{−α/(α+1)}), with the same 1e-10 ridge as Nash-MTL for the case where 0 is
 * in the convex hull of the rows (no root; scipy then returns a boundary point). Zero rows get
 * weight 0. Defined on G Gᵀ alone. Scale: of a sum.
 */
export function fairgrad(options: FairGradOptions = {}): Aggregator<null> {
  checkKnownOptions('fairgrad', options, ['alpha']);
  const alpha = requireFiniteNumber('alpha', options.alpha ?? 1, { min: Number.MIN_VALUE });
  const q = 1 / alpha;
  return defineAggregator<null>(
    {
      name: 'fairgrad',
      nativeScale: 'sum',
      gramian: true,
      initialState: () => null,
      fromGramian(a, T) {
        let fro = 0;
        for (let i = 0; i < T * T; i++) fro += a[i]! * a[i]!;
        fro = Math.sqrt(fro);
        if (!(fro > 0)) return { weights: new Array<number>(T).fill(0), state: null };
        // A = n Â: A w = w^{−q} ⇔ Â ŵ = ŵ^{−q} with w = ŵ · n^{−1/(1+q)}.
        const hat = solveBargaining(a.map((v) => v / fro), T, 1e-10, 200, q);
        const f = Math.pow(fro, -1 / (1 + q));
        const weights = hat.map((v) => v * f);
        return { weights, headWeights: [...weights], state: null };
      },
    },
    options,
  );
}
