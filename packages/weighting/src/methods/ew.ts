import { defineWeighting } from '../define.js';
import { checkKnownOptions } from '../validate.js';
import type { CommonOptions, Weighting } from '../types.js';

/**
 * EW, equal weighting: every task loss with weight 1, so the update is the gradient of the **sum**
 * of the losses (LibMTL's convention; `normalize: 'mean'` gives weights 1/T). Stateless.
 */
export function equalWeighting(options: CommonOptions = {}): Weighting<null> {
  checkKnownOptions('ew', options, []);
  return defineWeighting<null>(
    {
      name: 'ew',
      nativeScale: 'sum',
      initialState: () => null,
      compute: ({ losses }) => ({ weights: losses.map(() => 1), state: null }),
    },
    options,
  );
}
