import type { LossWeighting } from '../update-rules.js';

/**
 * Random loss weighting with uniform draws (CoNAL's retraining objective, Eq. 3 of Yue et al.,
 * AAAI 2023, after Lin et al.'s RLW): every step, w_t ~ U[0, 1] independently per task, then
 * normalised to sum to 1. Draws come from the step's seeded stream (`input.random`), one per task in
 * task order, so a step replays from its draws and a resumed run draws what the uninterrupted one
 * would have. In the measure-zero case that every draw is 0, the weights are equal (1/T).
 *
 * Not LibMTL's RLW (softmax of normal draws, `@mtl/weighting`'s `rlw()`): normalising uniforms puts
 * less mass near the simplex's corners. Use with {@link lossWeightingRule}.
 */
export function randomUniformWeighting(): LossWeighting<null> {
  return {
    name: 'rlw-uniform',
    initialState: () => null,
    weigh({ losses, random }) {
      const draws = losses.map(() => random());
      const sum = draws.reduce((a, b) => a + b, 0);
      return { weights: sum > 0 ? draws.map((d) => d / sum) : losses.map(() => 1 / losses.length), state: null };
    },
  };
}
