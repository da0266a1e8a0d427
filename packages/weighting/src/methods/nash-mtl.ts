import { requireFiniteNumber, requirePositiveInteger } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { solveBargaining } from '../linalg/bargaining.js';
import { checkStateTasks, oneOf, checkKnownOptions } from '../validate.js';
import { nashAuthorsSolve } from '../linalg/nash-ccp.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface NashMtlOptions extends CommonOptions {
  /** Recompute the weights every this many calls (default 1, LibMTL's `update_weights_every`); in between the last ones are reused. */
  readonly updateWeightsEvery?: number;
  /** Clip the direction's norm to this (default 1.0, LibMTL's `max_norm`); 0 disables. */
  readonly maxNorm?: number;
  /**
   * 'newton' (default): the bargaining equation solved exactly (damped Newton, to rounding).
   * 'authors': the authors' (and LibMTL's) ≤ `optimIter` warm-started convex sub-problems with their
   * stopping rules ({@link nashAuthorsSolve}); it differs from 'newton' whenever it stops early.
   */
  readonly solver?: 'newton' | 'authors';
  /** Sub-problems per update for `solver: 'authors'` (default 20, LibMTL's `optim_niter`). */
  readonly optimIter?: number;
}

/** Nash-MTL's JSON state: the call counter and the last α (before clipping; the authors' warm start). */
export interface NashMtlState {
  readonly numTasks: number;
  readonly calls: number;
  readonly alpha: readonly number[] | null;
}

/**
 * Nash-MTL (Navon et al., ICML 2022): the Nash bargaining weights α > 0 with (G Gᵀ α)_t = 1 / α_t
 * (on the raw Gram matrix, as the paper and the authors' constraints α_t (G Gᵀ α)_t ≥ 1; for
 * orthogonal rows α_t = 1 / ‖g_t‖), direction Σ α_t g_t clipped to `maxNorm`. As in LibMTL the model
 * backpropagates Σ α_t L_t, so each task's own (head) parameters get α_t times their gradient
 * (`headWeights` = α, not clipped: `clip_grad_norm_` there acts on the shared parameters only).
 *
 * Solvers. 'newton' (default): the fixed point is α = α̂ / √n where α̂ minimises the strictly convex
 * F(α̂) = ½ α̂ᵀ Â α̂ − Σ log α̂_t with Â = G Gᵀ / n, n = ‖G Gᵀ‖_F (the normalisation only conditions
 * the problem), found by damped Newton ({@link solveBargaining}) to a residual ~1e-12, with a 1e-10
 * ridge that keeps the problem bounded when 0 is in the convex hull of the rows (no solution then):
 * α̂ solves (Â + 1e-10 I) α̂ = 1/α̂. 'authors': their ≤ `optimIter` (20) convex sub-problems
 * warm-started from the previous α (ones at the first call), with their stopping rules (see
 * {@link nashAuthorsSolve}) — LibMTL's results, including where it stops early (their residual test
 * compares Â α with 1/α at the raw scale of α, so it rarely fires and the 1e-6 step test ends the loop).
 * Zero rows cannot satisfy the equation: with 'newton' they get weight 0 and the others are solved
 * without them (LibMTL's solver fails and keeps the previous weights). The weights returned include
 * the clipping factor (direction = weightsᵀ G); LibMTL returns α before clipping (= `headWeights`).
 *
 * Row permutation: invariant to rounding (~1e-14 relative on random full-rank problems) with
 * 'newton': near the answer the Newton loop takes full steps without comparing objective values
 * (their rounding, ~1e-16 |F|, exceeds the gain there) and stops at a decrement < 1e-24 or once
 * rounding keeps it from shrinking, so every row order reaches the same converged α.
 */
export function nashMtl(options: NashMtlOptions = {}): Aggregator<NashMtlState> {
  checkKnownOptions('nash-mtl', options, ['updateWeightsEvery', 'maxNorm', 'solver', 'optimIter']);
  const every = requirePositiveInteger('updateWeightsEvery', options.updateWeightsEvery ?? 1);
  const maxNorm = requireFiniteNumber('maxNorm', options.maxNorm ?? 1, { min: 0 });
  const solver = oneOf('solver', options.solver, ['newton', 'authors'] as const, 'newton');
  const optimIter = requirePositiveInteger('optimIter', options.optimIter ?? 20);
  return defineAggregator<NashMtlState>(
    {
      name: 'nash-mtl',
      gramian: true,
      nativeScale: 'sum',
      initialState: (n) => ({ numTasks: n, calls: 0, alpha: null }),
      checkState: (s, n) => checkStateTasks('nash-mtl', s.numTasks, n),
      fromGramian(a, T, _input, state) {
        let alpha = state.alpha;
        if (alpha === null || state.calls % every === 0) {
          let fro = 0;
          for (let i = 0; i < T * T; i++) fro += a[i]! * a[i]!;
          fro = Math.sqrt(fro);
          const aHat = a.map((v) => v / fro);
          if (!(fro > 0)) alpha = alpha ?? new Array<number>(T).fill(0);
          else if (solver === 'newton') alpha = solveBargaining(aHat, T).map((v) => v / Math.sqrt(fro));
          else alpha = nashAuthorsSolve(aHat, T, fro, alpha ?? new Array<number>(T).fill(1), optimIter).alpha;
        }
        let q = 0;
        for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) q += alpha[i]! * a[i * T + j]! * alpha[j]!;
        const n = Math.sqrt(Math.max(q, 0));
        const f = maxNorm > 0 && n > maxNorm ? maxNorm / (n + 1e-6) : 1;
        return { weights: alpha.map((w) => w * f), headWeights: [...alpha], state: { numTasks: T, calls: state.calls + 1, alpha } };
      },
    },
    options,
  );
}

