import { requireFiniteNumber } from '@mtl/core/internal';
import { defineWeighting } from '../define.js';
import { softmax } from '../linalg/vector.js';
import { checkStateTasks, checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';

export interface DwaOptions extends CommonOptions {
  /** Softmax temperature (default 2). */
  readonly temperature?: number;
}

/** DWA's JSON state: running sums of the current epoch's losses and the means of past epochs. */
export interface DwaState {
  readonly numTasks: number;
  readonly epoch: number;
  readonly sums: readonly number[];
  readonly count: number;
  /** Mean task losses of the last two completed epochs, keyed by epoch. */
  readonly history: readonly { readonly epoch: number; readonly means: readonly number[] }[];
}

/**
 * DWA, Dynamic Weight Average (Liu et al., CVPR 2019): w = T · softmax((L̄_{e−1} / L̄_{e−2}) / temperature),
 * with L̄_e the task losses averaged over epoch e; weights 1 for epochs 0 and 1 (LibMTL's
 * convention, weights sum to T). The epoch means are accumulated in the state from the losses
 * of every step it sees, so a step that is replayed must be replayed with its state.
 */
export function dwa(options: DwaOptions = {}): Weighting<DwaState> {
  checkKnownOptions('dwa', options, ['temperature']);
  const temperature = requireFiniteNumber('temperature', options.temperature ?? 2, { min: Number.MIN_VALUE });
  return defineWeighting<DwaState>(
    {
      name: 'dwa',
      nativeScale: 'sum',
      initialState: (numTasks) => ({ numTasks, epoch: 0, sums: new Array<number>(numTasks).fill(0), count: 0, history: [] }),
      checkState: (s, n) => checkStateTasks('dwa', s.numTasks, n),
      compute({ losses, epoch }, state) {
        let s = state;
        if (epoch !== s.epoch) {
          const history = s.count > 0 ? [...s.history, { epoch: s.epoch, means: s.sums.map((v) => v / s.count) }].slice(-2) : s.history;
          s = { ...s, epoch, sums: new Array<number>(s.numTasks).fill(0), count: 0, history };
        }
        const previous = s.history.find((h) => h.epoch === epoch - 1);
        const before = s.history.find((h) => h.epoch === epoch - 2);
        const T = losses.length;
        const weights =
          epoch > 1 && previous && before ? softmax(previous.means.map((m, t) => m / before.means[t]!), temperature).map((w) => T * w) : losses.map(() => 1);
        return { weights, state: { ...s, sums: s.sums.map((v, t) => v + losses[t]!), count: s.count + 1 } };
      },
    },
    options,
  );
}
