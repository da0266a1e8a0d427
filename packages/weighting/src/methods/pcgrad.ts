import { defineAggregator } from '../define.js';
import { combineRows, gram } from '../linalg/vector.js';
import { permutation } from '../random-source.js';
import type { Aggregator, CommonOptions } from '../types.js';

/**
 * PCGrad, gradient surgery (Yu et al., NeurIPS 2020), as LibMTL runs it: for each task i in turn,
 * draw a random order of all tasks (one Fisher–Yates permutation of 0..T−1 per i, from the
 * injected uniforms) and, for each j in that order with pc_i · g_j < 0, project pc_i onto the
 * normal plane of the *original* g_j; the direction is the **sum** of the projected rows (scale of
 * a sum, like LibMTL).
 *
 * Computed on the T x T Gram matrix: pc_i = Σ_k C_ik g_k is tracked by its coefficients, so the
 * cost is one Gram matrix (T²P/2) plus O(T³), and the implied weights (column sums of C) are
 * exact. LibMTL returns no weights.
 *
 * Row permutation: invariant only up to the seeded order. Permuting the rows of G permutes the
 * weights and leaves the direction unchanged (to rounding) when the draws encode the same task
 * order for each task (the same visiting order of the same tasks); the same raw draws give each
 * *row* the order, so for T ≥ 3 the direction can change. With two tasks the order never matters
 * (a row is never projected on itself), so PCGrad is exactly permutation-invariant for T = 2.
 */
export function pcgrad(options: CommonOptions = {}): Aggregator<null> {
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
            if (pij < 0 && njj > 0) c[j] = c[j]! - (pij / njj);
          }
          for (let k = 0; k < T; k++) weights[k] = weights[k]! + c[k]!;
        }
        return { direction: combineRows(weights, g), weights, state: null };
      },
    },
    options,
  );
}
