import { SeededRandom } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';

/** Fractions of the source images that go to each split; the rest (if any) is unused. */
export interface SplitFractions {
  readonly train: number;
  readonly validation: number;
  readonly test: number;
}

export const DEFAULT_SPLIT_FRACTIONS: SplitFractions = { train: 0.7, validation: 0.15, test: 0.15 };

/**
 * Disjoint index sets of `count` source images for train, validation and test: a seeded
 * permutation cut by the fractions, so no source image appears in two splits.
 */
export function splitSourceIndices(count: number, fractions: SplitFractions, seed: number): { train: Int32Array; validation: Int32Array; test: Int32Array } {
  for (const key of ['train', 'validation', 'test'] as const) {
    const f = fractions[key];
    if (typeof f !== 'number' || !(f > 0) || f > 1) invalidOption(`splitFractions.${key}`, f, 'a number in (0, 1]');
  }
  if (fractions.train + fractions.validation + fractions.test > 1 + 1e-9) invalidOption('splitFractions', fractions, 'fractions summing to at most 1');
  const order = new SeededRandom(seed).fork('source-split').permutation(count);
  const nTrain = Math.floor(count * fractions.train);
  const nValidation = Math.floor(count * fractions.validation);
  const nTest = Math.floor(count * fractions.test);
  return {
    train: order.slice(0, nTrain),
    validation: order.slice(nTrain, nTrain + nValidation),
    test: order.slice(nTrain + nValidation, nTrain + nValidation + nTest),
  };
}
