import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { combineRows, gram } from '../linalg/vector.js';
import { permutation } from '../random-source.js';
import { checkStateTasks, oneOf, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface GradVacOptions extends CommonOptions {
  /** EMA decay of the target similarity (default 0.5). */
  readonly beta?: number;
  /**
   * When the EMA target φ̂_ij is updated: 'always' (default: after every pair, the paper's
   * Algorithm 1 and LibMTL since its Feb 2024 fix "fix a bug in GradVac", d2d84fa) or
   * 'on-conflict' (only when a vaccine was applied: LibMTL before that fix; kept only to reproduce
   * results published with the old LibMTL — the target then stops tracking pairs that agree).
   */
  readonly emaUpdate?: 'always' | 'on-conflict';
}

/** GradVac's JSON state: the T x T EMA targets φ̂_ij (row-major). */
export interface GradVacState {
  readonly numTasks: number;
  readonly target: readonly number[];
}

/**
 * GradVac, gradient vaccine (Wang et al., ICLR 2021), LibMTL's 'whole_model' granularity: for each
 * task i and each other task j in a random order (a permutation of the other tasks per i), with
 * φ = cos(pc_i, g_j) below the target φ̂_ij, add
 * g_j · ‖pc_i‖ (φ̂ √(1−φ²) − φ √(1−φ̂²)) / (‖g_j‖ √(1−φ̂²) + 1e-8) to pc_i; after every pair
 * (corrected or not) the target moves, φ̂_ij ← (1−β) φ̂_ij + β φ (paper's Algorithm 1, LibMTL
 * since Feb 2024; `emaUpdate: 'on-conflict'` for the older LibMTL). Direction: the **sum** of the pc rows.
 *
 * Differences from LibMTL: φ is clamped to [−1, 1] before the square roots (LibMTL can take
 * √ of a negative number from rounding and produce NaN); the implied weights are returned
 * (LibMTL returns ones). Computed on the Gram matrix like {@link pcgrad}.
 *
 * Row permutation: like {@link pcgrad}, invariant only up to the seeded order (T ≥ 3; exactly for
 * T = 2, where no draw is used), with the state's targets permuted in both indices.
 */
export function gradvac(options: GradVacOptions = {}): Aggregator<GradVacState> {
  checkKnownOptions('gradvac', options, ['beta', 'emaUpdate']);
  const beta = requireFiniteNumber('beta', options.beta ?? 0.5, { min: 0, max: 1 });
  const emaUpdate = oneOf('emaUpdate', options.emaUpdate, ['always', 'on-conflict'] as const, 'always');
  return defineAggregator<GradVacState>(
    {
      name: 'gradvac',
      nativeScale: 'sum',
      initialState: (n) => ({ numTasks: n, target: new Array<number>(n * n).fill(0) }),
      checkState: (s, n) => checkStateTasks('gradvac', s.numTasks, n),
      compute(g, { random }, state) {
        const T = g.rows;
        const a = gram(g);
        const target = [...state.target];
        const weights = new Array<number>(T).fill(0);
        for (let i = 0; i < T; i++) {
          const c = new Float64Array(T);
          c[i] = 1;
          const others = Array.from({ length: T - 1 }, (_, k) => (k < i ? k : k + 1));
          for (const p of permutation(T - 1, random)) {
            const j = others[p]!;
            let dotIJ = 0;
            let normI2 = 0;
            for (let k = 0; k < T; k++) {
              dotIJ += c[k]! * a[k * T + j]!;
              let row = 0;
              for (let l = 0; l < T; l++) row += a[k * T + l]! * c[l]!;
              normI2 += c[k]! * row;
            }
            const normI = Math.sqrt(Math.max(normI2, 0));
            const normJ = Math.sqrt(a[j * T + j]!);
            const rho = Math.min(1, Math.max(-1, dotIJ / (normI * normJ + 1e-8)));
            const phi = target[i * T + j]!;
            if (rho < phi) {
              const w = (normI * (phi * Math.sqrt(1 - rho * rho) - rho * Math.sqrt(1 - phi * phi))) / (normJ * Math.sqrt(1 - phi * phi) + 1e-8);
              c[j] = c[j]! + w;
              target[i * T + j] = (1 - beta) * phi + beta * rho;
            } else if (emaUpdate === 'always') {
              target[i * T + j] = (1 - beta) * phi + beta * rho;
            }
          }
          for (let k = 0; k < T; k++) weights[k] = weights[k]! + c[k]!;
        }
        return { direction: combineRows(weights, g), weights, state: { numTasks: T, target } };
      },
    },
    options,
  );
}
