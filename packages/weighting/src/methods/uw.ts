import { requireFiniteNumber } from '@mtl/core/internal';
import { defineWeighting } from '../define.js';
import { paramOptimizer, type ParamOptimizerChoice, type ParamOptimizerState } from '../param-optimizer.js';
import { checkStateTasks, checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';

export interface UwOptions extends CommonOptions {
  /** Initial s_t = log σ²_t (default −0.5, LibMTL's). */
  readonly init?: number;
  /**
   * How s is stepped: 'trainer' (default; the trainer's optimizer and learning rate, as LibMTL —
   * Adam 1e-3 when called outside a trainer without `input.optimizer`) or a private optimizer.
   */
  readonly optimizer?: ParamOptimizerChoice;
}

/** UW's JSON state: the log-variances and their optimizer's moments. */
export interface UwState {
  readonly logVariance: readonly number[];
  readonly optimizer: ParamOptimizerState;
}

/**
 * UW, uncertainty weighting (Kendall et al., CVPR 2018), in LibMTL's form: the loss
 * Σ_t L_t / (2 e^{s_t}) + s_t / 2 with learnable s_t = log σ²_t (init −0.5). The weights used for
 * the model are 1 / (2 e^{s_t}) at the current s; then s takes one optimizer step on
 * ∂/∂s_t = −L_t / (2 e^{s_t}) + ½, on plain numbers (exact, no tensors). As in LibMTL, s is stepped
 * by the trainer's optimizer by default (its rule, learning rate and weight decay, with s's own
 * moments in the state); `optimizer: { type, learningRate, ... }` gives s a private one instead.
 */
export function uncertaintyWeighting(options: UwOptions = {}): Weighting<UwState> {
  checkKnownOptions('uw', options, ['init', 'optimizer']);
  const init = requireFiniteNumber('init', options.init ?? -0.5);
  const opt = paramOptimizer(options.optimizer);
  return defineWeighting<UwState>(
    {
      name: 'uw',
      nativeScale: 'sum',
      initialState: (n) => ({ logVariance: new Array<number>(n).fill(init), optimizer: opt.initialState(n) }),
      checkState: (s, n) => checkStateTasks('uw', s.logVariance.length, n),
      compute({ losses, optimizer }, state) {
        const s = state.logVariance;
        const weights = s.map((v) => 1 / (2 * Math.exp(v)));
        const grads = losses.map((l, t) => -l * weights[t]! + 0.5);
        const next = opt.step(s, grads, state.optimizer, optimizer);
        return { weights, state: { logVariance: next.params, optimizer: next.state } };
      },
    },
    options,
  );
}
