import { MtlError, SeededRandom, type MultiTaskDataset, type RawBatch } from '@mtl/core';
import { requirePositiveInteger } from '@mtl/core/internal';

export interface BatchIteratorOptions {
  readonly batchSize: number;
  /** Shuffle with a seeded permutation. Default true. */
  readonly shuffle?: boolean;
  /** Default 0. */
  readonly seed?: number;
  /** Skip a last batch smaller than `batchSize`. Default false. */
  readonly dropLast?: boolean;
}

/**
 * One epoch of a dataset as plain-array batches, gathered lazily (one batch in memory at a time),
 * for evaluation loops and apps that do not use the core `Trainer`.
 */
export function* iterateBatches(dataset: MultiTaskDataset, options: BatchIteratorOptions): Generator<RawBatch & { readonly indices: Int32Array }> {
  const batchSize = requirePositiveInteger('batchSize', options.batchSize);
  if (dataset.size < 1) throw new MtlError('EMPTY_DATA', 'cannot batch an empty dataset', {});
  const order = options.shuffle === false ? Int32Array.from({ length: dataset.size }, (_, i) => i) : new SeededRandom(options.seed ?? 0).fork('batches').permutation(dataset.size);
  for (let start = 0; start < dataset.size; start += batchSize) {
    const indices = order.slice(start, Math.min(start + batchSize, dataset.size));
    if (options.dropLast && indices.length < batchSize) return;
    yield { ...dataset.gather(indices), indices };
  }
}

/** The same dataset with each example's input seen as a flat vector (for MLP models). */
export function flattenInputs(dataset: MultiTaskDataset): MultiTaskDataset {
  const size = dataset.inputShape.reduce((a, b) => a * b, 1);
  return {
    size: dataset.size,
    inputShape: [size],
    targetSizes: dataset.targetSizes,
    gather: (indices) => dataset.gather(indices),
  };
}
