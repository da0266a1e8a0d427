import { MtlError } from '@mtl/core';
import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import { nonNegativeQp } from '../linalg/qp.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface DualProjOptions extends CommonOptions {
  /** Below this trace of G Gᵀ the normalised Gramian is taken as 0 (default 1e-4, TorchJD's `norm_eps`): the weights are then u. */
  readonly normEps?: number;
  /** Ridge added to the normalised Gramian (default 1e-4, TorchJD's `reg_eps`). */
  readonly regEps?: number;
  /** Preference vector u ≥ 0 (default 1/T each: the mean, TorchJD's default). */
  readonly preference?: readonly number[];
}

/**
 * DualProj (TorchJD; Equation 11 of Lopez-Paz & Ranzato, "Gradient Episodic Memory for Continual
 * Learning", NeurIPS 2017): the combination Gᵀu (default the mean) projected onto the dual cone of
 * the rows, {d : G d ≥ 0}. In weight space (TorchJD's Proposition 1) the weights are
 * w = argmin vᵀ Ĝ v subject to v ≥ u, with Ĝ = G Gᵀ / tr(G Gᵀ) + ε I; direction = wᵀ G, which has a
 * non-negative inner product with every row (up to the ridge ε). One small QP, solved exactly by an
 * active-set method instead of quadprog. Scale of a mean (TorchJD's). Defined on G Gᵀ alone.
 */
export function dualproj(options: DualProjOptions = {}): Aggregator<null> {
  checkKnownOptions('dualproj', options, ['normEps', 'regEps', 'preference']);
  const normEps = requireFiniteNumber('normEps', options.normEps ?? 1e-4, { min: 0 });
  const regEps = requireFiniteNumber('regEps', options.regEps ?? 1e-4, { min: 0 });
  const preference = options.preference?.map((p, i) => requireFiniteNumber(`preference[${i}]`, p, { min: 0 }));
  return defineAggregator<null>(
    {
      name: 'dualproj',
      nativeScale: 'mean',
      gramian: true,
      initialState: () => null,
      fromGramian(a, T) {
        if (preference && preference.length !== T) {
          throw new MtlError('SHAPE_MISMATCH', `"dualproj": preference has ${preference.length} entries for ${T} tasks`, { expected: T, actual: preference.length });
        }
        const u = preference ?? new Array<number>(T).fill(1 / T);
        let trace = 0;
        for (let i = 0; i < T; i++) trace += a[i * T + i]!;
        // TorchJD: the normalised Gramian becomes 0, leaving ε I, and the projection of u is u itself.
        if (trace < normEps) return { weights: [...u], state: null };
        const q = new Float64Array(T * T);
        for (let i = 0; i < T * T; i++) q[i] = a[i]! / trace;
        for (let i = 0; i < T; i++) q[i * T + i] = q[i * T + i]! + regEps;
        // v = u + x, x ≥ 0: min ½ xᵀ Q x + (Q u)ᵀ x.
        const lin = new Float64Array(T);
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) lin[i] = lin[i]! + q[i * T + j]! * u[j]!;
        const { x } = nonNegativeQp(q, lin, T);
        return { weights: u.map((ui, i) => ui + x[i]!), state: null };
      },
    },
    options,
  );
}
