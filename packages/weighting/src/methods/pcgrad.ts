import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import { combineRows, gram } from '../linalg/vector.js';
import { permutation } from '../random-source.js';
import { requireFiniteNumber } from '@mtl/core/internal';
import type { Aggregator, CommonOptions } from '../types.js';

export interface PcGradOptions extends CommonOptions {
  /**
   * Added to ‖g_j‖² in the projection (default 0: the paper's exact projection). LibMTL adds 1e-8,
   * which leaves a conflict with a gradient of norm ≲ 1e-4 partly unresolved; pass 1e-8 to match it.
   */
  readonly epsilon?: number;
}

/**
 * PCGrad, gradient surgery (Yu et al., NeurIPS 2020), as LibMTL runs it: for each task i in turn,
 * draw a random order of all tasks (one Fisher–Yates permutation of 0..T−1 per i, from the
 * injected uniforms) and, for each j in that order with pc_i · g_j < 0, project pc_i onto the
 * normal plane of the *original* g_j; the direction is the **sum** of the projected rows (scale of
 * a sum, like LibMTL).
 *
 * Computed on the T x T Gram matrix: pc_i = Σ_k C_ik g_k is tracked by its coefficients, so the
 * cost is one Gram matrix (T²P/2) plus O(T³), and the implied weights (column sums of C) are
 * exact (LibMTL returns the same implied weights, 1 − Σ g_ij / ‖g_j‖²).
 *
 * Difference from LibMTL: the projection divides by ‖g_j‖² (the paper); LibMTL divides by
 * ‖g_j‖² + 1e-8, so conflicts with tiny gradients are only partly projected away (the result can
 * still conflict with g_j). `epsilon: 1e-8` reproduces it.
 *
 * Row permutation: invariant only up to the seeded order. Permuting the rows of G permutes the
 * weights and leaves the direction unchanged (to rounding) when the draws encode the same task
 * order for each task (the same visiting order of the same tasks); the same raw draws give each
 * *row* the order, so for T ≥ 3 the direction can change. With two tasks the order never matters
 * (a row is never projected on itself), so PCGrad is exactly permutation-invariant for T = 2.
 */
export function pcgrad(options: PcGradOptions = {}): Aggregator<null> {
  checkKnownOptions('pcgrad', options, ['epsilon']);
  const eps = requireFiniteNumber('epsilon', options.epsilon ?? 0, { min: 0 });
  return defineAggregator<null>(
    {
      name: 'pcgrad',
      nativeScale: 'sum',
      initialState: () => null,
      compute(g, { random }) {
        const T = g.rows;
        const a = gram(g);
        const weights = new Array<number>(T).fill(0);
        for (let i = 0; i < T; i++) {
          const c = new Float64Array(T);
          c[i] = 1;
          for (const j of permutation(T, random)) {
            let pij = 0;
            for (let k = 0; k < T; k++) pij += c[k]! * a[k * T + j]!;
            const njj = a[j * T + j]!;
            if (pij < 0 && njj + eps > 0) c[j] = c[j]! - pij / (njj + eps);
          }
          for (let k = 0; k < T; k++) weights[k] = weights[k]! + c[k]!;
        }
        return { direction: combineRows(weights, g), weights, state: null };
      },
    },
    options,
  );
}
