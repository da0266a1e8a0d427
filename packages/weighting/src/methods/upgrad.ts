import { MtlError } from '@mtl/core';
import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import { nonNegativeQp } from '../linalg/qp.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface UpGradOptions extends CommonOptions {
  /**
   * Below this squared Frobenius norm of G the normalised Gramian is taken as 0 (default 1e-4,
   * TorchJD's `norm_eps`): only the ridge is left, so the weights are u (the mean of the rows).
   */
  readonly normEps?: number;
  /** Ridge added to the normalised Gram matrix (default 1e-4, torchjd's). */
  readonly regEps?: number;
  /** Preference vector u (default 1/T each: the mean). */
  readonly preference?: readonly number[];
}

/**
 * UPGrad (Quinton & Rey, torchjd): each row's share u_t e_t is projected onto the dual cone of the
 * rows — in weight space, v_t = argmin vᵀ Ĝ v subject to v ≥ u_t e_t with Ĝ = G Gᵀ / tr(G Gᵀ) + ε I —
 * and the weights are Σ_t v_t (scale of a mean, as torchjd and LibMTL). Each small QP is solved
 * exactly by an active-set method instead of quadprog. The direction has a non-negative inner
 * product with every row (up to the ridge ε). When tr(G Gᵀ) < `normEps`, TorchJD and LibMTL zero the
 * normalised Gramian, leaving ε I, whose projection of u_t e_t is itself: the weights are u (the mean,
 * which is tiny then); this package returned zero weights before (no update at all for small gradients).
 */
export function upgrad(options: UpGradOptions = {}): Aggregator<null> {
  checkKnownOptions('upgrad', options, ['normEps', 'regEps', 'preference']);
  const normEps = requireFiniteNumber('normEps', options.normEps ?? 1e-4, { min: 0 });
  const regEps = requireFiniteNumber('regEps', options.regEps ?? 1e-4, { min: 0 });
  const preference = options.preference?.map((p, i) => requireFiniteNumber(`preference[${i}]`, p, { min: 0 }));
  return defineAggregator<null>(
    {
      name: 'upgrad',
      nativeScale: 'mean',
      gramian: true,
      initialState: () => null,
      fromGramian(a, T) {
        if (preference && preference.length !== T) {
          throw new MtlError('SHAPE_MISMATCH', `"upgrad": preference has ${preference.length} entries for ${T} tasks`, { expected: T, actual: preference.length });
        }
        let trace = 0;
        for (let i = 0; i < T; i++) trace += a[i * T + i]!;
        const weights = new Array<number>(T).fill(0);
        const share = (t: number): number => (preference ? preference[t]! : 1 / T);
        if (trace < normEps) return { weights: weights.map((_, t) => share(t)), state: null };
        const q = new Float64Array(T * T);
        for (let i = 0; i < T * T; i++) q[i] = a[i]! / trace;
        for (let i = 0; i < T; i++) q[i * T + i] = q[i * T + i]! + regEps;
        for (let t = 0; t < T; t++) {
          const u = share(t);
          // v = u e_t + x, x ≥ 0: min ½ xᵀ Q x + (Q u e_t)ᵀ x.
          const lin = new Float64Array(T);
          for (let i = 0; i < T; i++) lin[i] = q[i * T + t]! * u;
          const { x } = nonNegativeQp(q, lin, T);
          for (let i = 0; i < T; i++) weights[i] = weights[i]! + (x[i]! + (i === t ? u : 0));
        }
        return { weights, state: null };
      },
    },
    options,
  );
}
