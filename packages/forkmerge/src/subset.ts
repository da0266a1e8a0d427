import type { MultiTaskDataset, SeededRandom } from '@mtl/core';

/** A view of `size` examples of `dataset` drawn without replacement (the dataset itself when size ≥ its size). */
export function sampleDataset(dataset: MultiTaskDataset, size: number, random: SeededRandom): MultiTaskDataset {
  if (size >= dataset.size) return dataset;
  const indices = random.permutation(dataset.size).subarray(0, size).sort();
  return {
    size,
    inputShape: dataset.inputShape,
    targetSizes: dataset.targetSizes,
    gather: (which) => dataset.gather(Array.from(which, (i) => indices[i]!)),
  };
}
