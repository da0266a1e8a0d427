import { anyValue, finite, invalidOption, requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkMethodOptions } from '../validate.js';
import { solveCagradDual } from '../linalg/cagrad-dual.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface CaGradOptions extends CommonOptions {
  /** c, the radius of the ball around the mean gradient, relative to its norm (default 0.5). */
  readonly c?: number;
  /** 0: no rescale; 1 (default): divide by 1 + c²; 2: divide by 1 + c. */
  readonly rescale?: 0 | 1 | 2;
  /** The 1e-8 LibMTL adds inside square roots and denominators (default 1e-8). */
  readonly epsilon?: number;
}

/**
 * CAGrad (Liu et al., NeurIPS 2021), LibMTL's formulas: with A = G Gᵀ, ḡ the mean gradient,
 * k = c ‖ḡ‖ (‖ḡ‖ = √(mean(A) + ε), k += ε), solve the dual
 * min_{w ∈ simplex} wᵀ A 1/T + k √(wᵀ A w + ε), then d = (ḡ + k / (‖g_w‖ + ε) · g_w) / (1 + c²).
 *
 * Difference from LibMTL: the dual is solved exactly from the Gram matrix alone ({@link solveCagradDual}:
 * a few small active-set QPs, O(T³) each, no P-length work after the one O(T²P) Gram computation) —
 * LibMTL's scipy SLSQP call often stops at its starting point 1/T.
 * The weights returned are the implied ones, (1/T + λ w) / (1 + c²), so direction = weightsᵀ G;
 * LibMTL returns the dual w.
 */
export function cagrad(options: CaGradOptions = {}): Aggregator<null> {
  checkMethodOptions('cagrad', options, { c: finite({ min: 0 }), rescale: anyValue, epsilon: finite({ min: 0 }) });
  const c = requireFiniteNumber('c', options.c ?? 0.5, { min: 0 });
  const rescale = options.rescale ?? 1;
  if (rescale !== 0 && rescale !== 1 && rescale !== 2) invalidOption('rescale', rescale, '0, 1 or 2');
  const eps = requireFiniteNumber('epsilon', options.epsilon ?? 1e-8, { min: 0 });
  return defineAggregator<null>(
    {
      name: 'cagrad',
      nativeScale: 'mean',
      gramian: true,
      initialState: () => null,
      fromGramian(a, T) {
        let total = 0;
        for (let i = 0; i < T * T; i++) total += a[i]!;
        const g0Norm = Math.sqrt(total / (T * T) + eps);
        const k = c * g0Norm + eps;
        const w = solveCagradDual(a, T, k, eps).w;
        let q = 0;
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) q += w[i]! * a[i * T + j]! * w[j]!;
        const gwNorm = Math.sqrt(Math.max(q, 0));
        const lambda = k / (gwNorm + eps);
        const divisor = rescale === 0 ? 1 : rescale === 1 ? 1 + c * c : 1 + c;
        const weights = Array.from(w, (wi) => (1 / T + lambda * wi) / divisor);
        return { weights, state: null };
      },
    },
    options,
  );
}
