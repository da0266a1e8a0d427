import { MtlError } from '@mtl/core';
import { requireNonNegativeInteger } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface TrimmedMeanOptions extends CommonOptions {
  /** k: per column, the k largest and k smallest entries are dropped (default 0: the mean); needs T ≥ 2k + 1. */
  readonly trimNumber?: number;
}

/**
 * Trimmed mean (Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal Statistical
 * Rates", ICML 2018), TorchJD's `TrimmedMean`: per column, sort the T entries, drop the `trimNumber`
 * smallest and largest, average the rest. A robust (federated-learning) aggregator, for completeness
 * with TorchJD. Not a combination of the rows (`linear: false`): the weights returned are each row's
 * mean weight over the columns (1/(T − 2k) where kept, 0 where trimmed). Scale of a mean.
 */
export function trimmedMean(options: TrimmedMeanOptions = {}): Aggregator<null> {
  checkKnownOptions('trimmed-mean', options, ['trimNumber']);
  const k = requireNonNegativeInteger('trimNumber', options.trimNumber ?? 0);
  const aggregator = defineAggregator<null>(
    {
      name: 'trimmed-mean',
      nativeScale: 'mean',
      initialState: () => null,
      compute(g) {
        const T = g.rows;
        const P = g.cols;
        if (T < 2 * k + 1) throw new MtlError('SHAPE_MISMATCH', `"trimmed-mean" with trimNumber ${k} needs at least ${2 * k + 1} tasks, got ${T}`, { method: 'trimmed-mean', expected: 2 * k + 1, actual: T });
        const keep = T - 2 * k;
        const direction = new Float64Array(P);
        const weights = new Array<number>(T).fill(0);
        const order = Array.from({ length: T }, (_, t) => t);
        for (let c = 0; c < P; c++) {
          order.sort((x, y) => g.data[x * P + c]! - g.data[y * P + c]! || x - y);
          let s = 0;
          for (let r = k; r < k + keep; r++) {
            s += g.data[order[r]! * P + c]!;
            weights[order[r]!] = weights[order[r]!]! + 1 / (keep * P);
          }
          direction[c] = s / keep;
        }
        return { direction, weights, state: null };
      },
    },
    options,
  );
  return { ...aggregator, linear: false };
}
