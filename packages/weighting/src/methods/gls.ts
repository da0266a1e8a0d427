import { MtlError } from '@mtl/core';
import { defineWeighting } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';

/**
 * GLS, Geometric Loss Strategy (Chennupati et al., "MultiNet++: Multi-Stream Feature Aggregation
 * and Geometric Loss Strategy for Multi-Task Learning", CVPR 2019 workshops) — the geometric-mean
 * scalarisation: the loss (Π_t L_t)^{1/T}, so the weights are its gradient with respect to each
 * loss, w_t = (Π_s L_s)^{1/T} / (T L_t) (computed through logarithms, no overflow of the product).
 *
 * Difference from LibMTL: LibMTL backpropagates the same loss but *reports* L_t / (T Π_s L_s), which
 * is not the weight it applies; we return the applied weights. Losses must be positive (INVALID_DATA
 * otherwise: the geometric mean has no gradient at 0, LibMTL gets inf/NaN).
 */
export function gls(options: CommonOptions = {}): Weighting<null> {
  checkKnownOptions('gls', options, []);
  return defineWeighting<null>(
    {
      name: 'gls',
      nativeScale: 'mean',
      initialState: () => null,
      compute({ losses }) {
        const bad = losses.findIndex((l) => !(l > 0));
        if (bad >= 0) {
          throw new MtlError('INVALID_DATA', `"gls": the geometric mean needs positive losses; task ${bad} has ${losses[bad]}`, { method: 'gls', taskIndex: bad, value: losses[bad] });
        }
        const T = losses.length;
        const meanLog = losses.reduce((s, l) => s + Math.log(l), 0) / T;
        const geo = Math.exp(meanLog);
        return { weights: losses.map((l) => geo / (T * l)), state: null };
      },
    },
    options,
  );
}
