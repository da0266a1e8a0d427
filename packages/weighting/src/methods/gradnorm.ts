import { requireFiniteNumber } from '@mtl/core/internal';
import { defineAggregator } from '../define.js';
import { paramOptimizer, type ParamOptimizerChoice, type ParamOptimizerState } from '../param-optimizer.js';
import { combineRows, rowNorms, softmax } from '../linalg/vector.js';
import { checkStateTasks, checkKnownOptions } from '../validate.js';
import type { Aggregator, CommonOptions } from '../types.js';

export interface GradNormOptions extends CommonOptions {
  /** Restoring-force exponent α (default 1.5). */
  readonly alpha?: number;
  /**
   * How the logits are stepped: 'trainer' (default; the trainer's optimizer and learning rate, as
   * LibMTL — Adam 1e-3 outside a trainer without `input.optimizer`) or a private optimizer.
   */
  readonly optimizer?: ParamOptimizerChoice;
}

/** GradNorm's JSON state. */
export interface GradNormState {
  /** Logits p: weights = T · softmax(p) (init 1, LibMTL). */
  readonly logits: readonly number[];
  readonly optimizer: ParamOptimizerState;
  /** Sum and count of the epoch-0 losses, and their mean once epoch 0 is over. */
  readonly initialSums: readonly number[];
  readonly initialCount: number;
  readonly initialLosses: readonly number[] | null;
}

/**
 * GradNorm (Chen et al., ICML 2018), LibMTL's form: during epoch 0, weights 1 (EW) while the mean
 * epoch-0 losses L_t(0) are recorded. Afterwards w = T · softmax(p), G_t = w_t ‖g_t‖,
 * Ḡ = mean G_t, r_t = (L_t / L_t(0)) / mean(L / L(0)), and p takes one step on
 * Σ_t |G_t − Ḡ r_t^α| with Ḡ r^α held constant (plain numbers; by default with the trainer's
 * optimizer, as LibMTL, or a private one by option). Direction Σ w_t g_t with the weights before
 * the step (they sum to T).
 */
export function gradnorm(options: GradNormOptions = {}): Aggregator<GradNormState> {
  checkKnownOptions('gradnorm', options, ['alpha', 'optimizer']);
  const alpha = requireFiniteNumber('alpha', options.alpha ?? 1.5, { min: 0 });
  const opt = paramOptimizer(options.optimizer);
  return defineAggregator<GradNormState>(
    {
      name: 'gradnorm',
      nativeScale: 'sum',
      minTasks: 2,
      initialState: (n) => ({
        logits: new Array<number>(n).fill(1),
        optimizer: opt.initialState(n),
        initialSums: new Array<number>(n).fill(0),
        initialCount: 0,
        initialLosses: null,
      }),
      checkState: (s, n) => checkStateTasks('gradnorm', s.logits.length, n),
      compute(g, { losses, epoch, optimizer }, state) {
        const T = g.rows;
        if (epoch < 1 || (state.initialLosses === null && state.initialCount === 0)) {
          const weights = new Array<number>(T).fill(1);
          const next = { ...state, initialSums: state.initialSums.map((s, t) => s + losses[t]!), initialCount: state.initialCount + 1 };
          return { direction: combineRows(weights, g), weights, state: next };
        }
        const initial = state.initialLosses ?? state.initialSums.map((s) => s / state.initialCount);
        const soft = softmax([...state.logits]);
        const weights = soft.map((s) => T * s);
        const norms = rowNorms(g);
        const gw = weights.map((w, t) => w * norms[t]!);
        const gBar = gw.reduce((x, y) => x + y, 0) / T;
        const ratio = losses.map((l, t) => (initial[t]! > 0 ? l / initial[t]! : 1));
        const meanRatio = ratio.reduce((x, y) => x + y, 0) / T;
        const target = ratio.map((r) => gBar * Math.pow(meanRatio > 0 ? r / meanRatio : 1, alpha));
        const dw = gw.map((v, t) => Math.sign(v - target[t]!) * norms[t]!);
        // ∂w_t/∂p_k = T s_t (δ_tk − s_k)
        const dp = soft.map((sk, k) => {
          let s = 0;
          for (let t = 0; t < T; t++) s += dw[t]! * T * soft[t]! * ((t === k ? 1 : 0) - sk);
          return s;
        });
        const step = opt.step(state.logits, dp, state.optimizer, optimizer);
        return {
          direction: combineRows(weights, g),
          weights,
          state: { ...state, logits: step.params, optimizer: step.state, initialLosses: initial },
        };
      },
    },
    options,
  );
}
