import { requireFiniteNumber } from '@mtl/core/internal';
import { defineSampledAggregator } from '../define.js';
import { projectToSimplex } from '../linalg/simplex.js';
import { combineRows } from '../linalg/vector.js';
import { checkStateTasks, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface MoDoOptions extends CommonOptions {
  /** Learning rate γ of λ (default 1e-3, LibMTL's `MoDo_gamma`). */
  readonly gamma?: number;
  /** ℓ2 regularisation ρ of λ's update (default 0.1, LibMTL's `MoDo_rho`). */
  readonly rho?: number;
}

/** MoDo's JSON state: λ on the simplex. */
export interface MoDoState {
  readonly lambda: readonly number[];
}

/**
 * MoDo, multi-objective gradient with double sampling (Chen et al., "Three-Way Trade-Off in
 * Multi-Objective Learning: Optimization, Generalization and Conflict-Avoidance", NeurIPS 2023),
 * LibMTL's form, on three independent gradient samples G₀, G₁, G₂ of the step (three batches):
 * λ ← Π_Δ(λ − γ (G₀ (G₁ᵀ λ) + ρ λ)) (λ = 1/T at first; Π_Δ the Euclidean projection onto the
 * simplex), direction G₂ᵀ λ, weights λ (scale of a mean). As a trainer rule it draws the two extra
 * batches with `ctx.nextTrainingBatch()` and each head gets the mean of its own gradient over the
 * three batches (LibMTL divides the decoders' accumulated gradients by 3). Cost: per-task
 * gradients on 3 batches.
 */
export function modo(options: MoDoOptions = {}): Aggregator<MoDoState> {
  checkKnownOptions('modo', options, ['gamma', 'rho']);
  const gamma = requireFiniteNumber('gamma', options.gamma ?? 1e-3, { min: 0 });
  const rho = requireFiniteNumber('rho', options.rho ?? 0.1, { min: 0 });
  return defineSampledAggregator<MoDoState>(
    {
      name: 'modo',
      nativeScale: 'mean',
      samples: 3,
      initialState: (n) => ({ lambda: new Array<number>(n).fill(1 / n) }),
      checkState: (s, n) => checkStateTasks('modo', s.lambda.length, n),
      computeSamples([g0, g1, g2], _input, state) {
        const T = g0!.rows;
        const P = g0!.cols;
        const lambda = state.lambda;
        const v = combineRows(lambda, g1!); // G₁ᵀ λ
        const step = new Array<number>(T);
        for (let t = 0; t < T; t++) {
          let d = 0;
          for (let k = 0; k < P; k++) d += g0!.data[t * P + k]! * v[k]!;
          step[t] = lambda[t]! - gamma * (d + rho * lambda[t]!);
        }
        const next = Array.from(projectToSimplex(step));
        return { direction: combineRows(next, g2!), weights: next, state: { lambda: next } };
      },
    },
    options,
  );
}
