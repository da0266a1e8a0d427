import { MtlError, SeededRandom, classificationTask, validateTaskName, type MultiTaskDataset, type RawBatch, type Task, type TargetValues } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';

export interface RotationOptions {
  /** Name of the rotation task. Default `'rotation'`. */
  readonly taskName?: string;
  /**
   * `'expand'` (default): every image appears in all four rotations (size × 4), as S4L's rotation
   * loss uses all four copies; `'random'`: each example gets one seeded random rotation (same size).
   */
  readonly mode?: 'expand' | 'random';
  /** Seed of the rotations in `'random'` mode. Default 0. */
  readonly seed?: number;
}

/** A dataset with an added 4-way rotation task and the task object to train it. */
export interface RotationDataset extends MultiTaskDataset {
  readonly rotationTask: Task;
}

/**
 * Adds the self-supervised rotation task of S4L (Zhai et al. 2019; Gidaris et al. 2018): the image
 * is turned by k·90° counter-clockwise and the new task predicts k ∈ {0, 1, 2, 3}. The other
 * tasks keep their targets, so they are trained on the rotated images too. Images must be square
 * `[h, h]` or `[h, h, channels]`.
 */
export function withRotationTask(dataset: MultiTaskDataset, options: RotationOptions = {}): RotationDataset {
  const name = validateTaskName(options.taskName ?? 'rotation');
  const mode = options.mode ?? 'expand';
  if (mode !== 'expand' && mode !== 'random') invalidOption('mode', mode, '"expand" or "random"');
  const shape = dataset.inputShape;
  if ((shape.length !== 2 && shape.length !== 3) || shape[0] !== shape[1]) {
    throw new MtlError('SHAPE_MISMATCH', `rotation needs square images [h, h] or [h, h, c], got [${shape.join(', ')}]`, { inputShape: [...shape] });
  }
  if (name in dataset.targetSizes) invalidOption('taskName', name, 'a name the dataset does not already use');
  if (dataset.size < 1) throw new MtlError('EMPTY_DATA', 'cannot add a rotation task to an empty dataset', {});
  const side = shape[0]!;
  const channels = shape[2] ?? 1;
  const perExample = side * side * channels;
  const randomRotations = mode === 'random' ? Int32Array.from({ length: dataset.size }, ((r) => () => r.int(4))(new SeededRandom(options.seed ?? 0).fork('rotation'))) : undefined;
  const size = mode === 'expand' ? dataset.size * 4 : dataset.size;
  const locate = (k: number): [number, number] => (randomRotations ? [k, randomRotations[k]!] : [Math.floor(k / 4), k % 4]);
  return {
    size,
    inputShape: [...shape],
    targetSizes: { ...dataset.targetSizes, [name]: 1 },
    rotationTask: classificationTask(name, { classes: 4 }),
    gather(indices: ArrayLike<number>): RawBatch {
      const n = indices.length;
      const sources = new Int32Array(n);
      const turns = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const k = indices[i]!;
        if (!Number.isInteger(k) || k < 0 || k >= size) invalidOption('indices', k, `example indices in [0, ${size})`);
        [sources[i], turns[i]] = locate(k);
      }
      const base = dataset.gather(sources);
      const x = new Float32Array(n * perExample);
      for (let i = 0; i < n; i++) {
        rotateInto(base.x.subarray(i * perExample, (i + 1) * perExample), x.subarray(i * perExample, (i + 1) * perExample), side, channels, turns[i]!);
      }
      const targets: Record<string, TargetValues> = { ...base.targets, [name]: turns };
      return { size: n, x, targets };
    },
  };
}

/** Writes `src` turned by `turns`·90° counter-clockwise into `dst` (row-major, channels last). */
export function rotateInto(src: ArrayLike<number>, dst: Float32Array, side: number, channels: number, turns: number): void {
  const last = side - 1;
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      // Destination (r, c) reads the source pixel that lands there after the rotation.
      let sr: number;
      let sc: number;
      switch (turns & 3) {
        case 0:
          [sr, sc] = [r, c];
          break;
        case 1:
          [sr, sc] = [c, last - r];
          break;
        case 2:
          [sr, sc] = [last - r, last - c];
          break;
        default:
          [sr, sc] = [last - c, r];
      }
      for (let ch = 0; ch < channels; ch++) dst[(r * side + c) * channels + ch] = src[(sr * side + sc) * channels + ch]!;
    }
  }
}
