import { MtlError } from '@mtl/core';
import { requireFiniteNumber } from '@mtl/core/internal';
import { defineWeighting } from '../define.js';
import { paramOptimizer, type ParamOptimizerState } from '../param-optimizer.js';
import { softmax } from '../linalg/vector.js';
import { checkLosses, checkStateTasks, checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';

export interface FamoOptions extends CommonOptions {
  /** Adam learning rate of the weight logits (default 0.025, LibMTL's `FAMO_w_lr`). */
  readonly learningRate?: number;
  /** Adam weight decay of the logits (default 1e-3, LibMTL's `FAMO_w_gamma`). */
  readonly weightDecay?: number;
}

/** FAMO's JSON state: the logits, their Adam moments and the losses of the last weighted step. */
export interface FamoState {
  readonly logits: readonly number[];
  readonly optimizer: ParamOptimizerState;
  readonly previousLosses: readonly number[] | null;
}

/**
 * FAMO, Fast Adaptive Multitask Optimization (Liu et al., NeurIPS 2023), LibMTL's form (minimum
 * losses 0): z = softmax(ξ), D_t = L_t + 1e-8, the loss Σ_t z_t log D_t / c with c = Σ_t z_t / D_t held
 * constant, i.e. weights w_t = z_t / (c D_t) (they sum to 1). After the model's update, with the same
 * batch's new losses L', δ_t = log D_t − log(L'_t + 1e-8) and ξ takes one Adam step (private, lr
 * 0.025, weight decay 1e-3, as the authors) on the gradient of z·δ, z ⊙ (δ − z·δ) — `afterStep`,
 * which `toUpdateRule` calls with `ctx.evaluateLosses()` (LibMTL's trainer recomputes the losses
 * after `optimizer.step()` and calls `update_w`). Cost: losses only, plus one extra forward pass.
 * Losses must be > −1e-8 (INVALID_DATA: log D is undefined otherwise). Train it with
 * `createRule('famo')` or `toUpdateRule(famo())`: as an aggregator (`createAggregator('famo')`,
 * `weightingAsAggregator`) it has no `afterStep`, so its logits would not learn.
 */
export function famo(options: FamoOptions = {}): Weighting<FamoState> {
  checkKnownOptions('famo', options, ['learningRate', 'weightDecay']);
  const lr = requireFiniteNumber('learningRate', options.learningRate ?? 0.025, { min: 0 });
  const weightDecay = requireFiniteNumber('weightDecay', options.weightDecay ?? 1e-3, { min: 0 });
  const opt = paramOptimizer({ type: 'adam', learningRate: lr, weightDecay });
  const logD = (losses: readonly number[]): number[] =>
    losses.map((l, t) => {
      if (!(l + 1e-8 > 0)) throw new MtlError('INVALID_DATA', `"famo": loss of task ${t} is ${l}; FAMO takes log(L + 1e-8)`, { method: 'famo', taskIndex: t, value: l });
      return Math.log(l + 1e-8);
    });
  const weighting = defineWeighting<FamoState>(
    {
      name: 'famo',
      nativeScale: 'mean',
      initialState: (n) => ({ logits: new Array<number>(n).fill(0), optimizer: opt.initialState(n), previousLosses: null }),
      checkState: (s, n) => checkStateTasks('famo', s.logits.length, n),
      compute({ losses }, state) {
        logD(losses);
        const z = softmax([...state.logits]);
        const d = losses.map((l) => l + 1e-8);
        const c = z.reduce((s, zt, t) => s + zt / d[t]!, 0);
        return { weights: z.map((zt, t) => zt / (c * d[t]!)), state: { ...state, previousLosses: [...losses] } };
      },
    },
    options,
  );
  return {
    ...weighting,
    afterStep(input, state) {
      const T = state.logits.length;
      const after = checkLosses('famo', input, T);
      if (state.previousLosses === null) return state;
      const before = logD(state.previousLosses);
      const now = logD(after);
      const delta = before.map((b, t) => b - now[t]!);
      const z = softmax([...state.logits]);
      const zd = z.reduce((s, zt, t) => s + zt * delta[t]!, 0);
      const grad = z.map((zt, t) => zt * (delta[t]! - zd));
      const step = opt.step(state.logits, grad, state.optimizer);
      return { logits: step.params, optimizer: step.state, previousLosses: null };
    },
  };
}
