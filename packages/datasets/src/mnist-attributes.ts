import { SeededRandom, binaryTask, classificationTask, type Task } from '@mtl/core';
import { invalidOption, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import { byteImageDataset, type ByteImageDataset } from './byte-image-dataset.js';
import { bytesToInt32, cacheFile, int32Bytes, readCache, writeCache, type CacheOptions } from './disk-cache.js';
import { loadMnistDigits, mnistPackageVersion } from './mnist-digits.js';
import { DEFAULT_SPLIT_FRACTIONS, splitSourceIndices, type SplitFractions } from './source-splits.js';

/** Label functions of the digit class: every one is a coarsening of `digit`, so all are related. */
const DIGIT_ATTRIBUTES: Readonly<Record<string, { classes: number; of: (digit: number) => number }>> = {
  digit: { classes: 10, of: (d) => d },
  odd: { classes: 2, of: (d) => d % 2 },
  greaterThan4: { classes: 2, of: (d) => (d > 4 ? 1 : 0) },
  prime: { classes: 2, of: (d) => ([2, 3, 5, 7].includes(d) ? 1 : 0) },
  // Closed loops in the usual handwritten shapes (a handwritten 4 is usually open).
  hasLoop: { classes: 2, of: (d) => ([0, 6, 8, 9].includes(d) ? 1 : 0) },
  mod3: { classes: 3, of: (d) => d % 3 },
};

/** Which tasks share what: identity tasks are functions of the digit; position and noise tasks are independent of it. */
export const MNIST_ATTRIBUTE_GROUPS = {
  identity: ['digit', 'odd', 'greaterThan4', 'prime', 'hasLoop', 'mod3'],
  position: ['shiftedRight', 'shiftedDown'],
  noise: ['coinFlip'],
} as const;

export interface MnistAttributesOptions extends CacheOptions {
  /** Examples per split. Default `{ train: 6000, validation: 1000, test: 1000 }` (at most the split's source digits). */
  readonly sizes?: Partial<Record<'train' | 'validation' | 'test', number>>;
  /** Seed of placement and the coin flips. Default 0. */
  readonly seed?: number;
  /** Seed of the disjoint source split. Default 0. */
  readonly splitSeed?: number;
  readonly splitFractions?: SplitFractions;
  /** Largest random offset of the digit on a `(28 + maxShift)²` canvas; 0 drops the position tasks. Default 4. */
  readonly maxShift?: number;
}

export interface MnistAttributes {
  readonly train: ByteImageDataset;
  readonly validation: ByteImageDataset;
  readonly test: ByteImageDataset;
  readonly tasks: readonly Task[];
  /** Task names by group (see {@link MNIST_ATTRIBUTE_GROUPS}); tasks within a group are related, across groups unrelated. */
  readonly groups: Readonly<Record<string, readonly string[]>>;
  /** Whether the data was read from the disk cache. */
  readonly fromCache: boolean;
}

type SplitName = 'train' | 'validation' | 'test';
const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

/**
 * Many tasks on one digit image, for task-grouping methods: six functions of the digit class
 * (related to each other), two position tasks (was the digit placed right / down of centre on a
 * larger canvas; learnable but independent of the class) and a seeded coin flip (pure noise).
 */
export function mnistAttributes(options: MnistAttributesOptions = {}): MnistAttributes {
  const maxShift = requireNonNegativeInteger('maxShift', options.maxShift ?? 4);
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) invalidOption('seed', seed, 'a finite number');
  const splitSeed = options.splitSeed ?? 0;
  const fractions = options.splitFractions ?? DEFAULT_SPLIT_FRACTIONS;
  const requested = Object.fromEntries(
    SPLITS.map((s) => {
      const size = options.sizes?.[s];
      return [s, size === undefined ? null : requirePositiveInteger(`sizes.${s}`, size)];
    }),
  ) as Record<SplitName, number | null>;
  const side = 28 + maxShift;
  const names = [...MNIST_ATTRIBUTE_GROUPS.identity, ...(maxShift > 0 ? MNIST_ATTRIBUTE_GROUPS.position : []), ...MNIST_ATTRIBUTE_GROUPS.noise];
  const classes = Object.fromEntries(names.map((n) => [n, DIGIT_ATTRIBUTES[n]?.classes ?? 2]));
  const tasks = names.map((n) => (classes[n] === 2 ? binaryTask(n) : classificationTask(n, { classes: classes[n]! })));
  const groups = maxShift > 0 ? MNIST_ATTRIBUTE_GROUPS : { identity: MNIST_ATTRIBUTE_GROUPS.identity, noise: MNIST_ATTRIBUTE_GROUPS.noise };
  // Default sizes depend on the number of source digits, which the package version and fractions fix.
  const key = JSON.stringify({ format: 1, name: 'mnist-attributes', source: `mnist@${mnistPackageVersion()}`, fractions, sizes: requested, seed, splitSeed, maxShift });
  const file = cacheFile(options, 'mnist-attributes', key);
  const cached = file ? readCache(file, key) : undefined;
  const perSplit = 1 + names.length;
  const dataset = (images: Uint8Array, values: Record<string, Int32Array>) => byteImageDataset(images, [side, side, 1], { values, classes });
  if (cached && cached.length === SPLITS.length * perSplit) {
    const [train, validation, test] = SPLITS.map((_, s) =>
      dataset(cached[s * perSplit]!, Object.fromEntries(names.map((n, t) => [n, bytesToInt32(cached[s * perSplit + 1 + t]!)]))),
    ) as [ByteImageDataset, ByteImageDataset, ByteImageDataset];
    return { train, validation, test, tasks, groups, fromCache: true };
  }
  const digits = loadMnistDigits();
  const split = splitSourceIndices(digits.count, fractions, splitSeed);
  const defaults = { train: 6000, validation: 1000, test: 1000 };
  const master = new SeededRandom(seed);
  const build = (which: SplitName) => {
    const pool = split[which];
    const size = requested[which] ?? requirePositiveInteger(`sizes.${which}`, Math.min(defaults[which], pool.length));
    if (size > pool.length) invalidOption(`sizes.${which}`, size, `at most the ${pool.length} source digits of the split`);
    const rng = master.fork(which);
    const order = rng.permutation(pool.length);
    const images = new Uint8Array(size * side * side);
    const values: Record<string, Int32Array> = Object.fromEntries(names.map((n) => [n, new Int32Array(size)]));
    for (let i = 0; i < size; i++) {
      const source = pool[order[i]!]!;
      const digit = digits.labels[source]!;
      const dx = rng.int(maxShift + 1);
      const dy = rng.int(maxShift + 1);
      for (let r = 0; r < 28; r++) {
        images.set(digits.images.subarray(source * 784 + r * 28, source * 784 + r * 28 + 28), i * side * side + (r + dy) * side + dx);
      }
      for (const name of MNIST_ATTRIBUTE_GROUPS.identity) values[name]![i] = DIGIT_ATTRIBUTES[name]!.of(digit);
      if (maxShift > 0) {
        values.shiftedRight![i] = 2 * dx > maxShift ? 1 : 0;
        values.shiftedDown![i] = 2 * dy > maxShift ? 1 : 0;
      }
      values.coinFlip![i] = rng.int(2);
    }
    return { images, values };
  };
  const built = SPLITS.map(build);
  if (file) writeCache(file, key, built.flatMap((b) => [b.images, ...names.map((n) => int32Bytes(b.values[n]!))]));
  const [train, validation, test] = built.map((b) => dataset(b.images, b.values)) as [ByteImageDataset, ByteImageDataset, ByteImageDataset];
  return { train, validation, test, tasks, groups, fromCache: false };
}
