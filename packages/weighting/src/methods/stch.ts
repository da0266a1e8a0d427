import { MtlError } from '@mtl/core';
import { requireFiniteNumber, requireNonNegativeInteger } from '@mtl/core/internal';
import { defineWeighting } from '../define.js';
import { checkStateTasks, checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';

export interface StchOptions extends CommonOptions {
  /** Smoothing μ of the Tchebycheff max (default 1, LibMTL's `STCH_mu`). */
  readonly mu?: number;
  /** Epochs of Σ log L before the nadir point is fixed (default 4, LibMTL's `STCH_warmup_epoch`). */
  readonly warmupEpochs?: number;
}

/** STCH's JSON state: the losses summed over the warm-up's last epoch, then the nadir point. */
export interface StchState {
  readonly numTasks: number;
  readonly sums: readonly number[];
  readonly count: number;
  readonly nadir: readonly number[] | null;
}

/**
 * STCH, Smooth Tchebycheff scalarisation (Lin et al., ICML 2024), LibMTL's form: for epochs
 * < `warmupEpochs` the loss is Σ log(L_t + 1e-20); during epoch `warmupEpochs` too, while the
 * losses are averaged into the nadir point z; afterwards, with l_t = log(L_t / z_t + 1e-20), the loss
 * is T μ log Σ_t exp((l_t − max l) / μ). The weights are that loss's gradient with respect to each
 * loss: 1 / (L_t + 1e-20) in the warm-up, then T softmax(l / μ)_t / (L_t + 1e-20 z_t).
 *
 * Differences from LibMTL: the applied weights are returned (LibMTL reports ones); zero losses
 * during warm-up give 1e20, as LibMTL's gradient; a nadir entry of 0 (all-zero losses over the
 * averaging epoch) is an INVALID_DATA error instead of a division by zero.
 */
export function stch(options: StchOptions = {}): Weighting<StchState> {
  checkKnownOptions('stch', options, ['mu', 'warmupEpochs']);
  const mu = requireFiniteNumber('mu', options.mu ?? 1, { min: Number.MIN_VALUE });
  const warmup = requireNonNegativeInteger('warmupEpochs', options.warmupEpochs ?? 4);
  return defineWeighting<StchState>(
    {
      name: 'stch',
      nativeScale: 'sum',
      initialState: (n) => ({ numTasks: n, sums: new Array<number>(n).fill(0), count: 0, nadir: null }),
      checkState: (s, n) => checkStateTasks('stch', s.numTasks, n),
      compute({ losses, epoch }, state) {
        const T = losses.length;
        if (epoch <= warmup && state.nadir === null) {
          const weights = losses.map((l) => 1 / (l + 1e-20));
          const next = epoch === warmup ? { ...state, sums: state.sums.map((s, t) => s + losses[t]!), count: state.count + 1 } : state;
          return { weights, state: next };
        }
        let nadir = state.nadir;
        if (nadir === null) {
          if (state.count === 0) return { weights: losses.map((l) => 1 / (l + 1e-20)), state };
          nadir = state.sums.map((s) => s / state.count);
          const zero = nadir.findIndex((z) => !(z > 0));
          if (zero >= 0) throw new MtlError('INVALID_DATA', `"stch": the nadir point of task ${zero} is ${nadir[zero]} (its losses averaged 0)`, { method: 'stch', taskIndex: zero });
        }
        const z = nadir;
        const l = losses.map((v, t) => Math.log(v / z[t]! + 1e-20));
        const top = Math.max(...l);
        const e = l.map((v) => Math.exp((v - top) / mu));
        const sum = e.reduce((a, b) => a + b, 0);
        const weights = losses.map((v, t) => (T * (e[t]! / sum)) / (v + 1e-20 * z[t]!));
        return { weights, state: { ...state, nadir } };
      },
    },
    options,
  );
}
