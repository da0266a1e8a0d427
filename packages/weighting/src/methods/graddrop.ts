import { MtlError } from '@mtl/core';
import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface GradDropOptions extends CommonOptions {
  /** How much of each gradient leaks through the mask, one number or one per task (default 0, LibMTL's `leak`). */
  readonly leak?: number | readonly number[];
  /** Added to Σ_t |g_t| in the purity (default 1e-7, LibMTL's; TorchJD uses 0). */
  readonly epsilon?: number;
}

/**
 * GradDrop, gradient sign dropout (Chen et al., "Just Pick a Sign: Optimizing Deep Multitask Models
 * with Gradient Sign Dropout", NeurIPS 2020, Algorithm 1 lines 10–15), in TorchJD's form on any
 * Jacobian: per column k the positive sign purity P_k = ½ (1 + Σ_t g_tk / (Σ_t |g_tk| + ε)), one
 * uniform U_k per column (from the injected draws, in column order), the mask
 * M_tk = [P_k > U_k] [g_tk > 0] + [P_k < U_k] [g_tk < 0], and the direction
 * Σ_t (leak_t + (1 − leak_t) M_tk) g_tk. Scale of a sum. Not a combination of the rows
 * (`linear: false`): the weights returned are the fraction of each row kept, ‖kept_t‖² / ‖g_t‖²
 * projected, Σ_k m_tk g_tk² / Σ_k g_tk² (1 for zero rows).
 *
 * Difference from LibMTL: LibMTL runs it on the representation only, and multiplies each
 * per-sample representation gradient by sign(representation) summed over the batch before the
 * purity; core does not hand the representation values to an aggregator, so here the purity is
 * computed on the Jacobian it is given (TorchJD's choice), e.g. `space: 'representation'` uses
 * each (sample, feature) column's own sign purity.
 */
export function graddrop(options: GradDropOptions = {}): Aggregator<null> {
  checkKnownOptions('graddrop', options, ['leak', 'epsilon']);
  const eps = requireFiniteNumber('epsilon', options.epsilon ?? 1e-7, { min: 0 });
  const leakOption = options.leak ?? 0;
  const leaks = typeof leakOption === 'number' ? null : leakOption.map((l, i) => requireFiniteNumber(`leak[${i}]`, l, { min: 0, max: 1 }));
  const single = typeof leakOption === 'number' ? requireFiniteNumber('leak', leakOption, { min: 0, max: 1 }) : 0;
  const aggregator = defineAggregator<null>(
    {
      name: 'graddrop',
      nativeScale: 'sum',
      initialState: () => null,
      compute(g, { random }) {
        const T = g.rows;
        const P = g.cols;
        if (leaks && leaks.length !== T) throw new MtlError('SHAPE_MISMATCH', `"graddrop": leak has ${leaks.length} entries for ${T} tasks`, { expected: T, actual: leaks.length });
        const leak = (t: number): number => (leaks ? leaks[t]! : single);
        const direction = new Float64Array(P);
        const kept = new Array<number>(T).fill(0);
        const total = new Array<number>(T).fill(0);
        for (let k = 0; k < P; k++) {
          let sum = 0;
          let abs = 0;
          for (let t = 0; t < T; t++) {
            const v = g.data[t * P + k]!;
            sum += v;
            abs += Math.abs(v);
          }
          const purity = 0.5 * (1 + sum / (abs + eps));
          const u = random();
          for (let t = 0; t < T; t++) {
            const v = g.data[t * P + k]!;
            const mask = (purity > u && v > 0) || (purity < u && v < 0) ? 1 : 0;
            const m = leak(t) + (1 - leak(t)) * mask;
            direction[k] = direction[k]! + m * v;
            kept[t] = kept[t]! + m * v * v;
            total[t] = total[t]! + v * v;
          }
        }
        return { direction, weights: kept.map((s, t) => (total[t]! > 0 ? s / total[t]! : 1)), state: null };
      },
    },
    options,
  );
  return { ...aggregator, linear: false };
}
