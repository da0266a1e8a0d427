import { defineWeighting } from '../define.js';
import { paramOptimizer, type ParamOptimizerChoice } from '../param-optimizer.js';
import { checkStateTasks, checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';
import type { ImtlState } from './imtl.js';

export interface ImtlLOptions extends CommonOptions {
  /** How s is stepped: 'trainer' (default, as LibMTL) or a private optimizer. */
  readonly optimizer?: ParamOptimizerChoice;
}

/**
 * IMTL-L alone (Liu et al., "Towards Impartial Multi-task Learning", ICLR 2021, §3.1): each loss
 * becomes e^{s_t} L_t − s_t with a learnable s_t (init 0), a loss weighting with weights e^{s_t};
 * s then takes one optimizer step on ∂/∂s_t = e^{s_t} L_t − 1 (on plain numbers; by default with
 * the trainer's optimizer, as LibMTL). At the fixed point e^{s_t} L_t = 1: every scaled loss is 1.
 * `imtl` is IMTL-L + IMTL-G (LibMTL's IMTL); `imtl-g` is the gradient part alone. Cost: losses only.
 */
export function imtlL(options: ImtlLOptions = {}): Weighting<ImtlState> {
  checkKnownOptions('imtl-l', options, ['optimizer']);
  const opt = paramOptimizer(options.optimizer);
  return defineWeighting<ImtlState>(
    {
      name: 'imtl-l',
      nativeScale: 'sum',
      initialState: (n) => ({ scale: new Array<number>(n).fill(0), optimizer: opt.initialState(n) }),
      checkState: (s, n) => checkStateTasks('imtl-l', s.scale.length, n),
      compute({ losses, optimizer }, state) {
        const e = state.scale.map((s) => Math.exp(s));
        const step = opt.step(state.scale, losses.map((l, t) => e[t]! * l - 1), state.optimizer, optimizer);
        return { weights: e, state: { scale: step.params, optimizer: step.state } };
      },
    },
    options,
  );
}
