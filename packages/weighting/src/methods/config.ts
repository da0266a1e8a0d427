import { MtlError } from '@mtl/core';
import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import { pseudoInverse } from '../linalg/solve.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface ConfigOptions extends CommonOptions {
  /** Preference vector (default 1 each: TorchJD's `SumWeighting`). */
  readonly preference?: readonly number[];
}

/**
 * ConFIG (Liu, Chu & Thuerey, "ConFIG: Towards Conflict-free Training of Physics Informed Neural
 * Networks", ICLR 2025, Equation 2), TorchJD's form: with unit rows u_t = g_t / ‖g_t‖ (zero rows stay
 * 0), the best direction is b = U⁺ p (the minimum-norm d with u_t · d = p_t, p default 1: equal
 * cosine with every task), e = b / ‖b‖, and the update is (Σ_t g_t · e) e.
 *
 * Defined on G Gᵀ alone (it offers `fromGramian`). Computed without P-sized solves: U⁺ p = Uᵀ (U Uᵀ)⁺ p, with U Uᵀ the T x T Gramian of the unit rows,
 * so the weights on G are w_t = (Σ_s g_s · e) c_t / (‖b‖ ‖g_t‖), c = (U Uᵀ)⁺ p, and direction = wᵀ G.
 * The pseudo-inverse drops singular values ≤ 1e-12 times the largest, like torch.linalg.pinv's
 * default relative cut-off for float64 (it uses max(T, P) · eps). Scale: of a sum (the length is
 * the sum of the projections).
 */
export function config(options: ConfigOptions = {}): Aggregator<null> {
  checkKnownOptions('config', options, ['preference']);
  const preference = options.preference?.map((p, i) => requireFiniteNumber(`preference[${i}]`, p));
  return defineAggregator<null>(
    {
      name: 'config',
      nativeScale: 'sum',
      gramian: true,
      initialState: () => null,
      fromGramian(a, T) {
        if (preference && preference.length !== T) {
          throw new MtlError('SHAPE_MISMATCH', `"config": preference has ${preference.length} entries for ${T} tasks`, { expected: T, actual: preference.length });
        }
        const p = preference ?? new Array<number>(T).fill(1);
        const norms = Array.from({ length: T }, (_, t) => Math.sqrt(a[t * T + t]!));
        const unitGram = new Float64Array(T * T);
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) unitGram[i * T + j] = norms[i]! > 0 && norms[j]! > 0 ? a[i * T + j]! / (norms[i]! * norms[j]!) : 0;
        let top = 0;
        for (let i = 0; i < T; i++) top = Math.max(top, unitGram[i * T + i]!);
        const weights = new Array<number>(T).fill(0);
        if (top === 0) return { weights, state: null };
        const inv = pseudoInverse(unitGram, T, 1e-12 * top).inverse;
        const c = Array.from({ length: T }, (_, i) => p.reduce((s, pj, j) => s + inv[i * T + j]! * pj, 0));
        // b = Σ_t c_t u_t; ‖b‖² = cᵀ (U Uᵀ) c; g_s · b = Σ_t c_t a_st / ‖g_t‖.
        let b2 = 0;
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) b2 += c[i]! * unitGram[i * T + j]! * c[j]!;
        const bNorm = Math.sqrt(Math.max(b2, 0));
        if (!(bNorm > 0)) return { weights, state: null };
        let length = 0;
        for (let s = 0; s < T; s++) for (let t = 0; t < T; t++) if (norms[t]! > 0) length += (c[t]! * a[s * T + t]!) / norms[t]!;
        length /= bNorm;
        for (let t = 0; t < T; t++) weights[t] = norms[t]! > 0 ? (length * c[t]!) / (bNorm * norms[t]!) : 0;
        return { weights, state: null };
      },
    },
    options,
  );
}
