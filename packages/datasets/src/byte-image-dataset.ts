import { MtlError, type MultiTaskDataset, type RawBatch, type TargetValues } from '@mtl/core';
import { requirePositiveInteger } from '@mtl/core/internal';

/** Per-task target arrays plus, for label tasks, the number of classes (2 for binary tasks). */
export interface LabelledTargets {
  readonly values: Readonly<Record<string, TargetValues>>;
  /** Classes of each label task; tasks not listed are real-valued. */
  readonly classes: Readonly<Record<string, number>>;
}

/** A dataset of byte images (0–255, scaled to [0, 1] on gather): 4× smaller in memory than floats. */
export interface ByteImageDataset extends MultiTaskDataset {
  /** The images, `size × prod(inputShape)` bytes. */
  readonly images: Uint8Array;
  /** The stored targets of each task. */
  readonly targets: Readonly<Record<string, TargetValues>>;
}

/**
 * Wraps byte images and targets as a {@link MultiTaskDataset}, checking that sizes agree, every
 * task has targets, targets are finite and labels lie in range; errors name the task and example.
 */
export function byteImageDataset(images: Uint8Array, inputShape: readonly number[], targets: LabelledTargets): ByteImageDataset {
  inputShape.forEach((d, i) => requirePositiveInteger(`inputShape[${i}]`, d));
  const perExample = inputShape.reduce((a, b) => a * b, 1);
  if (images.length === 0) throw new MtlError('EMPTY_DATA', 'the dataset has no examples', {});
  if (images.length % perExample !== 0) {
    throw new MtlError('SHAPE_MISMATCH', `images have ${images.length} bytes, not a multiple of an example's ${perExample} ([${inputShape.join(', ')}])`, {
      length: images.length,
      inputShape: [...inputShape],
    });
  }
  const size = images.length / perExample;
  const names = Object.keys(targets.values);
  if (names.length === 0) throw new MtlError('MISSING_TARGET', 'the dataset has no targets for any task', {});
  const targetSizes: Record<string, number> = {};
  for (const name of names) {
    const values = targets.values[name]!;
    if (values.length === 0) throw new MtlError('MISSING_TARGET', `task "${name}" has no targets`, { task: name });
    if (values.length % size !== 0) {
      throw new MtlError('SHAPE_MISMATCH', `targets of task "${name}" have ${values.length} numbers for ${size} examples`, { task: name, length: values.length, examples: size });
    }
    const k = values.length / size;
    const classes = targets.classes[name];
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) {
        throw new MtlError('INVALID_DATA', `targets of task "${name}" have a non-finite value (${v}) at example ${Math.floor(i / k)}`, { task: name, example: Math.floor(i / k), value: v });
      }
      if (classes !== undefined && (!Number.isInteger(v) || v < 0 || v >= classes)) {
        throw new MtlError('INVALID_DATA', `task "${name}" label ${v} at example ${Math.floor(i / k)} is not in [0, ${classes})`, { task: name, example: Math.floor(i / k), value: v });
      }
    }
    targetSizes[name] = k;
  }
  return {
    size,
    inputShape: [...inputShape],
    targetSizes,
    images,
    targets: targets.values,
    gather(indices: ArrayLike<number>): RawBatch {
      const n = indices.length;
      const x = new Float32Array(n * perExample);
      const out: Record<string, TargetValues> = {};
      for (const name of names) {
        const src = targets.values[name]!;
        out[name] = src instanceof Int32Array ? new Int32Array(n * targetSizes[name]!) : new Float32Array(n * targetSizes[name]!);
      }
      for (let i = 0; i < n; i++) {
        const j = indices[i]!;
        if (!Number.isInteger(j) || j < 0 || j >= size) {
          throw new MtlError('INVALID_OPTION', `example index ${j} is outside [0, ${size})`, { option: 'indices', value: j });
        }
        const base = j * perExample;
        for (let p = 0; p < perExample; p++) x[i * perExample + p] = images[base + p]! / 255;
        for (const name of names) {
          const k = targetSizes[name]!;
          out[name]!.set(targets.values[name]!.subarray(j * k, (j + 1) * k), i * k);
        }
      }
      return { size: n, x, targets: out };
    },
  };
}
