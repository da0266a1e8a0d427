import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { combineRows } from '../linalg/vector.js';
import { checkStateSize, checkStateTasks, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface ExcessMtlOptions extends CommonOptions {
  /** Step size of the exponentiated update of the weights (default 1e-2, LibMTL's `robust_step_size`). */
  readonly robustStepSize?: number;
}

/** ExcessMTL's JSON state: the task weights, the running squared gradients (T x P) and the first step's excess risks. */
export interface ExcessMtlState {
  readonly numTasks: number;
  readonly weights: readonly number[];
  /** Σ over steps of g_t² per coordinate (row-major T x P); empty before the first step. */
  readonly gradSquares: readonly number[];
  readonly initial: readonly number[] | null;
}

/**
 * ExcessMTL (He et al., "Robust Multi-Task Learning with Excess Risks", ICML 2024), LibMTL's form:
 * per task an AdaGrad-style accumulator H_t += g_t² and the excess-risk estimate
 * e_t = g_t · (g_t / √(H_t + 1e-7)). The first step's e is kept as the reference and the weights
 * stay 1; afterwards w_t ← w_t exp(η e_t / e_t^{(0)}), renormalised to sum T, and the step uses the
 * updated weights: direction Σ w_t g_t, heads scaled by w (LibMTL backpropagates Σ w_t L_t).
 * State is P-sized (one accumulator per task and shared parameter), as in LibMTL.
 *
 * Difference from LibMTL: a task whose first e is 0 (zero gradient) keeps its reference at 0 and
 * its ratio is taken as 0 (LibMTL divides by zero).
 */
export function excessMtl(options: ExcessMtlOptions = {}): Aggregator<ExcessMtlState> {
  checkKnownOptions('excess-mtl', options, ['robustStepSize']);
  const eta = requireFiniteNumber('robustStepSize', options.robustStepSize ?? 1e-2, { min: 0 });
  return defineAggregator<ExcessMtlState>(
    {
      name: 'excess-mtl',
      nativeScale: 'sum',
      initialState: (n) => ({ numTasks: n, weights: new Array<number>(n).fill(1), gradSquares: [], initial: null }),
      checkState: (s, n) => checkStateTasks('excess-mtl', s.numTasks, n),
      compute(g, _input, state) {
        const T = g.rows;
        const P = g.cols;
        const squares = state.gradSquares.length === 0 ? new Float64Array(T * P) : Float64Array.from(checkStateSize('excess-mtl', 'gradSquares', state.gradSquares, T * P));
        const excess = new Array<number>(T).fill(0);
        for (let t = 0; t < T; t++) {
          let e = 0;
          for (let k = 0; k < P; k++) {
            const v = g.data[t * P + k]!;
            const h = squares[t * P + k]! + v * v;
            squares[t * P + k] = h;
            e += (v * v) / Math.sqrt(h + 1e-7);
          }
          excess[t] = e;
        }
        let weights = [...state.weights];
        let initial = state.initial;
        if (initial === null) initial = excess;
        else {
          const ref = initial;
          weights = weights.map((w, t) => w * Math.exp(eta * (ref[t]! > 0 ? excess[t]! / ref[t]! : 0)));
          const sum = weights.reduce((a, b) => a + b, 0);
          weights = weights.map((w) => (w / sum) * T);
        }
        return { direction: combineRows(weights, g), weights, headWeights: [...weights], state: { numTasks: T, weights, gradSquares: Array.from(squares), initial } };
      },
    },
    options,
  );
}
