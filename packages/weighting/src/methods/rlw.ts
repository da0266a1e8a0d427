import { requireFiniteNumber } from '@mtl/core/internal';
import { defineWeighting } from '../define.js';
import { softmax } from '../linalg/vector.js';
import { gammaDraw, normalDraw } from '../random-source.js';
import { checkBoolean, oneOf, checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';

export interface RlwOptions extends CommonOptions {
  /**
   * 'normal' (default): softmax of N(0, I) draws (LibMTL); 'uniform-normalized': U[0, 1] draws
   * divided by their sum (CoNAL's retraining weights, yuezhixiong/CoNAL); 'dirichlet': a
   * Dirichlet(concentration) draw used directly (one of the RLW paper's distributions);
   * 'uniform': softmax of U(0, 1) draws (RLW paper); 'bernoulli': each weight 0 or 1 with
   * probability ½, redrawn while all are 0 (RLW paper).
   */
  readonly distribution?: 'normal' | 'uniform-normalized' | 'dirichlet' | 'uniform' | 'bernoulli';
  /** Dirichlet concentration (default 1: uniform on the simplex). */
  readonly concentration?: number;
  /** LibMTL applies a softmax on top of the Dirichlet draw; set true to do the same. Default false. */
  readonly libmtlDirichletSoftmax?: boolean;
}

/**
 * RLW, Random Loss Weighting (Lin et al., TMLR 2022): fresh random weights each step, from the
 * injected uniform source (`input.random`), so a step replays from its draws. Normal draws use
 * Box–Muller on two uniforms each, in task order; 'uniform-normalized' (CoNAL's variant: U[0, 1]
 * per task, normalised to sum 1) and Dirichlet(1) (−log(1 − u), normalised) use one uniform per
 * task. Weights sum to 1 (LibMTL's scale). An all-zero uniform draw (probability 0) gives 1/T.
 *
 * Row permutation: the draws are consumed in one block per row, so a weight belongs to a row
 * position, not to a task: permuting the blocks of draws with the rows permutes the weights; the
 * same raw draws give the permuted rows the same weights as before.
 */
export function rlw(options: RlwOptions = {}): Weighting<null> {
  checkKnownOptions('rlw', options, ['distribution', 'concentration', 'libmtlDirichletSoftmax']);
  const distribution = oneOf('distribution', options.distribution, ['normal', 'uniform-normalized', 'dirichlet', 'uniform', 'bernoulli'] as const, 'normal');
  const concentration = requireFiniteNumber('concentration', options.concentration ?? 1, { min: Number.MIN_VALUE });
  const dirichletSoftmax = checkBoolean('libmtlDirichletSoftmax', options.libmtlDirichletSoftmax, false);
  return defineWeighting<null>(
    {
      name: 'rlw',
      nativeScale: 'mean',
      initialState: () => null,
      compute({ losses, random }) {
        const T = losses.length;
        let weights: number[];
        if (distribution === 'normal') weights = softmax(losses.map(() => normalDraw(random)));
        else if (distribution === 'uniform') weights = softmax(losses.map(() => random()));
        else if (distribution === 'uniform-normalized') {
          const u = losses.map(() => random());
          const s = u.reduce((a, b) => a + b, 0);
          weights = s > 0 ? u.map((v) => v / s) : losses.map(() => 1 / T);
        }
        else if (distribution === 'bernoulli') {
          do weights = losses.map(() => (random() < 0.5 ? 1 : 0));
          while (weights.every((w) => w === 0));
        } else {
          const g = losses.map(() => (concentration === 1 ? -Math.log(1 - random()) : gammaDraw(concentration, random)));
          const s = g.reduce((a, b) => a + b, 0);
          weights = s > 0 ? g.map((v) => v / s) : losses.map(() => 1 / T);
          if (dirichletSoftmax) weights = softmax(weights);
        }
        return { weights, state: null };
      },
    },
    options,
  );
}
