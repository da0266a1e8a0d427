import { MtlError } from '@mtl/core';
import { requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface KrumOptions extends CommonOptions {
  /** f, the number of rows that may be adversarial (default 0); needs T ≥ f + 3. */
  readonly nByzantine?: number;
  /** m, how many rows with the best scores are averaged (default 1, TorchJD's). */
  readonly nSelected?: number;
}

/**
 * Krum (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent",
 * NeurIPS 2017), TorchJD's form: with d_ij = ‖g_i − g_j‖ (from the Gramian: d² = A_ii + A_jj − 2 A_ij),
 * each row's score is the sum of its T − f − 2 smallest distances to the other rows; the m rows with
 * the smallest scores are averaged (weights 1/m on them, 0 elsewhere). Defined on G Gᵀ alone. A
 * robust (federated-learning) aggregator, here for completeness with TorchJD.
 *
 * Differences from TorchJD: d² is clamped at 0 before the square root (rounding can make it
 * slightly negative: NaN in torch); ties are broken by row index (torch.topk's order is unspecified).
 * Row permutation: invariant unless scores tie — always for T − f − 2 = 1 (the closest pair scores
 * the same), where the lower index wins.
 */
export function krum(options: KrumOptions = {}): Aggregator<null> {
  checkKnownOptions('krum', options, ['nByzantine', 'nSelected']);
  const f = requireNonNegativeInteger('nByzantine', options.nByzantine ?? 0);
  const m = requirePositiveInteger('nSelected', options.nSelected ?? 1);
  return defineAggregator<null>(
    {
      name: 'krum',
      nativeScale: 'mean',
      minTasks: f + 3,
      gramian: true,
      initialState: () => null,
      fromGramian(a, T) {
        if (T < m) throw new MtlError('SHAPE_MISMATCH', `"krum" selects ${m} rows but has ${T}`, { method: 'krum', expected: m, actual: T });
        const closest = T - f - 2;
        const scores = Array.from({ length: T }, (_, i) => {
          const d = Array.from({ length: T }, (_, j) => Math.sqrt(Math.max(a[i * T + i]! + a[j * T + j]! - 2 * a[i * T + j]!, 0)))
            .map((v, j) => [v, j] as const)
            .filter(([, j]) => j !== i)
            .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
          return d.slice(0, closest).reduce((s, [v]) => s + v, 0);
        });
        const chosen = scores
          .map((s, i) => [s, i] as const)
          .sort((x, y) => x[0] - y[0] || x[1] - y[1])
          .slice(0, m)
          .map(([, i]) => i);
        const weights = new Array<number>(T).fill(0);
        for (const i of chosen) weights[i] = 1 / m;
        return { weights, state: null };
      },
    },
    options,
  );
}
