import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { checkStateSize, checkStateTasks, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface DbMtlOptions extends CommonOptions {
  /** EMA factor β of the gradient buffer (default 0.9, LibMTL's `DB_beta`). */
  readonly beta?: number;
  /** Decay exponent: the factor at step k is β / k^σ (default 0, LibMTL's `DB_beta_sigma`). */
  readonly betaSigma?: number;
}

/** DB-MTL's JSON state: the step count and the T x P buffer of log-loss gradients (row-major). */
export interface DbMtlState {
  readonly numTasks: number;
  readonly step: number;
  readonly buffer: readonly number[];
}

/**
 * DB-MTL, dual-balancing (Lin et al., "Dual-Balancing for Multi-Task Learning", 2023), LibMTL's form:
 * loss-scale balancing by taking the gradients of log(L_t + 1e-8), i.e. rows g_t / (L_t + 1e-8);
 * an EMA buffer b_t ← ĝ_t + (β / k^σ)(b_t − ĝ_t) (k the 1-based step, b = 0 at first); gradient-
 * magnitude balancing α_t = max_s ‖b_s‖ / (‖b_t‖ + 1e-8); direction Σ_t α_t b_t. Heads get the
 * gradient of their log-loss (scaled by 1 / (L_t + 1e-8)), as in LibMTL, where the per-task
 * backward passes of log L_t leave those gradients in the decoders. State is P-sized.
 *
 * The direction is a combination of the buffers, not of this step's rows (`linear: false`); the
 * weights returned are the ones that would give it from the current rows if the buffer were the
 * current rows (α_t / (L_t + 1e-8)), reported for logging.
 */
export function dbMtl(options: DbMtlOptions = {}): Aggregator<DbMtlState> {
  checkKnownOptions('db-mtl', options, ['beta', 'betaSigma']);
  const beta = requireFiniteNumber('beta', options.beta ?? 0.9, { min: 0, max: 1 });
  const sigma = requireFiniteNumber('betaSigma', options.betaSigma ?? 0, { min: 0 });
  const aggregator = defineAggregator<DbMtlState>(
    {
      name: 'db-mtl',
      nativeScale: 'sum',
      initialState: (n) => ({ numTasks: n, step: 0, buffer: [] }),
      checkState: (s, n) => checkStateTasks('db-mtl', s.numTasks, n),
      compute(g, { losses }, state) {
        const T = g.rows;
        const P = g.cols;
        const step = state.step + 1;
        const factor = beta / Math.pow(step, sigma);
        const old = state.buffer.length === 0 ? null : checkStateSize('db-mtl', 'buffer', state.buffer, T * P);
        const buffer = new Float64Array(T * P);
        const scale = losses.map((l) => 1 / (l + 1e-8));
        const norms = new Array<number>(T).fill(0);
        for (let t = 0; t < T; t++) {
          let n2 = 0;
          for (let k = 0; k < P; k++) {
            const cur = g.data[t * P + k]! * scale[t]!;
            const b = cur + factor * ((old ? old[t * P + k]! : 0) - cur);
            buffer[t * P + k] = b;
            n2 += b * b;
          }
          norms[t] = Math.sqrt(n2);
        }
        const top = Math.max(...norms);
        const alpha = norms.map((n) => top / (n + 1e-8));
        const direction = new Float64Array(P);
        for (let t = 0; t < T; t++) for (let k = 0; k < P; k++) direction[k] = direction[k]! + alpha[t]! * buffer[t * P + k]!;
        return { direction, weights: alpha.map((a, t) => a * scale[t]!), headWeights: scale, state: { numTasks: T, step, buffer: Array.from(buffer) } };
      },
    },
    options,
  );
  return { ...aggregator, linear: false };
}
