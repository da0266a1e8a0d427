import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { softmax } from '../linalg/vector.js';
import { checkStateSize, checkStateTasks, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface MoCoOptions extends CommonOptions {
  /** Learning rate β of the tracked gradients y (default 0.5, LibMTL's `MoCo_beta`). */
  readonly beta?: number;
  /** Decay σ_β: the rate at step k is β / k^σ_β (default 0.5). */
  readonly betaSigma?: number;
  /** Learning rate γ of λ (default 0.1, LibMTL's `MoCo_gamma`). */
  readonly gamma?: number;
  /** Decay σ_γ (default 0.5). */
  readonly gammaSigma?: number;
  /** ℓ2 regularisation ρ of λ's update (default 0). */
  readonly rho?: number;
}

/** MoCo's JSON state: step count, λ and the tracked gradients y (T x P, row-major). */
export interface MoCoState {
  readonly numTasks: number;
  readonly step: number;
  readonly lambda: readonly number[];
  readonly y: readonly number[];
}

/**
 * MoCo (Fernando et al., "Mitigating Gradient Bias in Multi-objective Learning: A Provably
 * Convergent Approach", ICLR 2023), LibMTL's form: rows normalised and scaled by their loss,
 * ĝ_t = g_t / (‖g_t‖ + 1e-8) · L_t; tracked gradients y ← y − (β / k^σ_β)(y − ĝ) (y = 0 at first, k
 * the 1-based step); λ ← softmax(λ − (γ / k^σ_γ)(y yᵀ + ρ I) λ) (λ = 1/T at first); direction
 * yᵀ λ. Weights returned: λ (they weight y, not this step's rows: `linear: false`). State is P-sized.
 */
export function moco(options: MoCoOptions = {}): Aggregator<MoCoState> {
  checkKnownOptions('moco', options, ['beta', 'betaSigma', 'gamma', 'gammaSigma', 'rho']);
  const beta = requireFiniteNumber('beta', options.beta ?? 0.5, { min: 0 });
  const betaSigma = requireFiniteNumber('betaSigma', options.betaSigma ?? 0.5, { min: 0 });
  const gamma = requireFiniteNumber('gamma', options.gamma ?? 0.1, { min: 0 });
  const gammaSigma = requireFiniteNumber('gammaSigma', options.gammaSigma ?? 0.5, { min: 0 });
  const rho = requireFiniteNumber('rho', options.rho ?? 0, { min: 0 });
  const aggregator = defineAggregator<MoCoState>(
    {
      name: 'moco',
      nativeScale: 'mean',
      initialState: (n) => ({ numTasks: n, step: 0, lambda: new Array<number>(n).fill(1 / n), y: [] }),
      checkState: (s, n) => checkStateTasks('moco', s.numTasks, n),
      compute(g, { losses }, state) {
        const T = g.rows;
        const P = g.cols;
        const step = state.step + 1;
        const rate = beta / Math.pow(step, betaSigma);
        const old = state.y.length === 0 ? null : checkStateSize('moco', 'y', state.y, T * P);
        const y = new Float64Array(T * P);
        for (let t = 0; t < T; t++) {
          let n2 = 0;
          for (let k = 0; k < P; k++) n2 += g.data[t * P + k]! ** 2;
          const s = losses[t]! / (Math.sqrt(n2) + 1e-8);
          for (let k = 0; k < P; k++) {
            const prev = old ? old[t * P + k]! : 0;
            y[t * P + k] = prev - rate * (prev - g.data[t * P + k]! * s);
          }
        }
        const yy = new Float64Array(T * T);
        for (let i = 0; i < T; i++) {
          for (let j = i; j < T; j++) {
            let d = 0;
            for (let k = 0; k < P; k++) d += y[i * P + k]! * y[j * P + k]!;
            yy[i * T + j] = d;
            yy[j * T + i] = d;
          }
        }
        const lr = gamma / Math.pow(step, gammaSigma);
        const lambda = softmax(state.lambda.map((l, i) => l - lr * (state.lambda.reduce((s, lj, j) => s + yy[i * T + j]! * lj, 0) + rho * l)));
        const direction = new Float64Array(P);
        for (let t = 0; t < T; t++) for (let k = 0; k < P; k++) direction[k] = direction[k]! + lambda[t]! * y[t * P + k]!;
        return { direction, weights: lambda, state: { numTasks: T, step, lambda, y: Array.from(y) } };
      },
    },
    options,
  );
  return { ...aggregator, linear: false };
}
