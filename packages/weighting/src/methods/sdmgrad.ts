import { requireFiniteNumber, requirePositiveInteger } from '@mtl/core/internal';
import { defineSampledAggregator } from '../define.js';
import { projectToSimplex } from '../linalg/simplex.js';
import { combineRows } from '../linalg/vector.js';
import { checkStateTasks, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface SdmGradOptions extends CommonOptions {
  /** Regularisation λ towards the mean gradient (default 0.3, LibMTL's `SDMGrad_lamda`). */
  readonly lambda?: number;
  /** Projected-SGD iterations on w per step (default 20, LibMTL's `SDMGrad_niter`). */
  readonly iterations?: number;
}

/** SDMGrad's JSON state: the weights w on the simplex (warm start of the next step). */
export interface SdmGradState {
  readonly w: readonly number[];
}

/**
 * SDMGrad, stochastic direction-oriented multi-objective gradient descent (Xiao et al.,
 * "Direction-oriented Multi-objective Learning: Simple and Provable Stochastic Algorithms",
 * NeurIPS 2023), LibMTL's form on three gradient samples ζ = G₀, ξ₁ = G₁, ξ₂ = G₂: M = ξ₁ ξ₂ᵀ,
 * s = mean_t √max(M_tt, 0), M ← M / (s² + 1e-8), m = row means of M; then `iterations` steps of
 * SGD (lr 5, momentum 0.5, a fresh momentum buffer each step as LibMTL builds a new optimizer) on w
 * with gradient M w + λ m, each followed by the projection onto the simplex (w = 1/T at first, then
 * the previous step's); direction (ζᵀ w + λ mean_t ζ_t) / (1 + λ), i.e. weights (w + λ/T) / (1 + λ)
 * on ζ's rows (scale of a mean). As a trainer rule the two extra batches come from
 * `ctx.nextTrainingBatch()`.
 *
 * Difference from LibMTL: each head gets the mean of its own gradient over the three batches; in
 * LibMTL the decoders accumulate the three batches' gradients (a sum: three times the head step
 * of every other method; MoDo divides by 3, SDMGrad does not).
 */
export function sdmgrad(options: SdmGradOptions = {}): Aggregator<SdmGradState> {
  checkKnownOptions('sdmgrad', options, ['lambda', 'iterations']);
  const lambda = requireFiniteNumber('lambda', options.lambda ?? 0.3, { min: 0 });
  const iterations = requirePositiveInteger('iterations', options.iterations ?? 20);
  return defineSampledAggregator<SdmGradState>(
    {
      name: 'sdmgrad',
      nativeScale: 'mean',
      samples: 3,
      initialState: (n) => ({ w: new Array<number>(n).fill(1 / n) }),
      checkState: (s, n) => checkStateTasks('sdmgrad', s.w.length, n),
      computeSamples([zeta, xi1, xi2], _input, state) {
        const T = zeta!.rows;
        const P = zeta!.cols;
        const m = new Float64Array(T * T);
        for (let i = 0; i < T; i++) {
          for (let j = 0; j < T; j++) {
            let d = 0;
            for (let k = 0; k < P; k++) d += xi1!.data[i * P + k]! * xi2!.data[j * P + k]!;
            m[i * T + j] = d;
          }
        }
        let scale = 0;
        for (let i = 0; i < T; i++) scale += Math.sqrt(Math.max(m[i * T + i]!, 0)) / T;
        const div = scale * scale + 1e-8;
        for (let i = 0; i < T * T; i++) m[i] = m[i]! / div;
        const rowMean = Array.from({ length: T }, (_, i) => {
          let s = 0;
          for (let j = 0; j < T; j++) s += m[i * T + j]!;
          return s / T;
        });
        let w = [...state.w];
        let buffer: number[] | null = null;
        for (let it = 0; it < iterations; it++) {
          const grad = w.map((_, i) => w.reduce((s, wj, j) => s + m[i * T + j]! * wj, 0) + lambda * rowMean[i]!);
          buffer = buffer ? buffer.map((b, i) => 0.5 * b + grad[i]!) : grad; // torch SGD momentum
          const moved = w.map((wi, i) => wi - 5 * buffer![i]!);
          w = Array.from(projectToSimplex(moved));
        }
        const weights = w.map((wi) => (wi + lambda / T) / (1 + lambda));
        return { direction: combineRows(weights, zeta!), weights, state: { w } };
      },
    },
    options,
  );
}
