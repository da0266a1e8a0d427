import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { BACKEND_CANDIDATES } from '@mtl/core';
import { parse as parseYaml } from 'yaml';
import { architectureEntry } from './architectures.js';
import { datasetEntry, resolveDatasetOptions, type SizeLevel } from './data.js';
import { badOption, isPlainObject, messageOf, rejectUnknownKeys, unknownName } from './errors.js';
import { jobId, type JobSpec, type OptimizerSpec } from './job.js';
import { DEFAULT_METHODS, findMethod, listMethodAdapters } from './methods/index.js';

/** A fully resolved benchmark: what every job shares, the methods and the seeds. Written to results.json. */
export interface BenchmarkConfig {
  readonly dataset: string;
  readonly datasetOptions: Readonly<Record<string, unknown>>;
  readonly methods: readonly string[];
  readonly architecture: string;
  readonly epochs: number;
  readonly seeds: readonly number[];
  readonly batchSize: number;
  readonly optimizer: OptimizerSpec;
  readonly backend?: string | undefined;
  readonly jobs: number;
  readonly out: string;
  readonly quick: boolean;
  readonly preset?: string | undefined;
  /** Per-method options keyed by the method's display name. */
  readonly methodOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** What a user may set (in `--config` or as flags): every field optional, seeds as a count or a list. */
export interface BenchmarkInput {
  dataset?: string;
  datasetOptions?: Record<string, unknown>;
  methods?: string | readonly string[];
  architecture?: string;
  epochs?: number;
  seeds?: number | string | readonly number[];
  batchSize?: number;
  optimizer?: Partial<OptimizerSpec> & { kind?: string };
  backend?: string;
  jobs?: number;
  out?: string;
  quick?: boolean;
  preset?: string;
  methodOptions?: Record<string, Record<string, unknown>>;
}

const INPUT_KEYS = ['dataset', 'datasetOptions', 'methods', 'architecture', 'epochs', 'seeds', 'batchSize', 'optimizer', 'backend', 'jobs', 'out', 'quick', 'preset', 'methodOptions'];

/**
 * The default run: MultiMNIST (Sener & Koltun layout, 28x28), LeNet, Adam 1e-3, every default
 * method, 2 seeds. Sized to finish in under 15 minutes on 2 cores (see the README for the measured
 * figure) with enough data and epochs that the methods separate.
 */
const DEFAULTS = {
  dataset: 'multimnist',
  methods: DEFAULT_METHODS,
  epochs: 8,
  seeds: [0, 1],
  batchSize: 64,
  optimizer: { kind: 'adam', learningRate: 1e-3 } as OptimizerSpec,
};

/** Named protocols. Each sets defaults that the config file and flags still override. */
export interface Preset {
  readonly description: string;
  readonly level: SizeLevel;
  readonly input: BenchmarkInput;
  /** Several benchmarks in one command, each in `<out>/<name>` (unless the user picks one with `datasetOptions.kind`). */
  readonly suites?: readonly { readonly name: string; readonly input: BenchmarkInput }[];
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  paper: {
    description: 'a longer run: the largest sizes the data allows, 30 epochs, 3 seeds',
    level: 'paper',
    input: { epochs: 30, seeds: [0, 1, 2] },
  },
  transference: {
    description: "the transference paper's MultiMNIST / MultiFashion comparison: 36x36 images (Lin et al.), LeNet with a 9x9 first conv, SGD momentum 0.9, the paper's methods",
    level: 'paper',
    input: {
      dataset: 'multimnist',
      // Lin et al.'s 36x36 images; pairs drawn at random, so more pairs than the npm digits' 7000 sources.
      datasetOptions: { layout: 'pareto-mtl', sizes: { train: 20000, validation: 5000, test: 5000 } },
      architecture: 'lenet-9x9',
      // The paper: lr from {1e-4, ..., 5e-2} on 0.5-weighted losses; 1e-2 on 0.5·(L1 + L2) is 5e-3 on the sum.
      optimizer: { kind: 'momentum', learningRate: 5e-3, momentum: 0.9 },
      methods: ['STL', 'EW', 'PCGrad', 'IT-MTL', 'MGDA-UB', 'UW', 'IT-UW-PCGrad'],
      epochs: 20,
      seeds: [0, 1, 2],
    },
  },
  forkmerge: {
    description:
      'the auxiliary-task setting of ForkMerge, ForkMerge vs EW vs target-only (STL), twice: an auxiliary task that hurts the target (<out>/hurts) and one that helps it (<out>/helps; datasetOptions.kind picks one)',
    level: 'default',
    input: { dataset: 'auxiliary-transfer', methods: ['STL', 'EW', 'ForkMerge'], epochs: 20, seeds: [0, 1, 2], batchSize: 32, optimizer: { kind: 'adam', learningRate: 1e-2 } },
    suites: [
      { name: 'hurts', input: { datasetOptions: { kind: 'hurts' } } },
      // 40 noisy target labels (the case's construction): 2 batches an epoch, so more epochs.
      { name: 'helps', input: { datasetOptions: { kind: 'helps' }, epochs: 100 } },
    ],
  },
};

/** Reads `--config FILE`: JSON (`.json`) or YAML (anything else). */
export function readConfigFile(path: string): BenchmarkInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw unknownName('config file', path, [`a readable JSON or YAML file (${messageOf(error)})`]);
  }
  let parsed: unknown;
  try {
    parsed = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw badOption('config', `config file ${path} is not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${messageOf(error)}`);
  }
  if (!isPlainObject(parsed)) throw badOption('config', `config file ${path} must hold an object with keys among: ${INPUT_KEYS.join(', ')}`);
  rejectUnknownKeys('config', parsed, INPUT_KEYS);
  return parsed;
}

/**
 * Resolves a benchmark from layers, later ones winning: built-in defaults, the preset, `--quick`
 * (tiny sizes, 2 epochs, one seed), the config file, then flags. Every name is checked here, so a
 * typo fails at once with the list of what exists.
 */
export function resolveConfig(file: BenchmarkInput = {}, flags: BenchmarkInput = {}, suite: BenchmarkInput = {}): BenchmarkConfig {
  rejectUnknownKeys('config', file as Record<string, unknown>, INPUT_KEYS);
  const presetName = flags.preset ?? file.preset;
  const preset = presetName === undefined ? undefined : PRESETS[presetName];
  if (presetName !== undefined && !preset) throw unknownName('preset', presetName, Object.keys(PRESETS));
  const quick = Boolean(flags.quick ?? file.quick ?? false);
  const quickLayer: BenchmarkInput = quick ? { epochs: 2, seeds: [0] } : {};
  const layers: BenchmarkInput[] = [preset?.input ?? {}, suite, quickLayer, file, flags];
  const pick = <K extends keyof BenchmarkInput>(key: K): BenchmarkInput[K] | undefined => {
    let value: BenchmarkInput[K] | undefined;
    for (const layer of layers) if (layer[key] !== undefined) value = layer[key];
    return value;
  };

  const dataset = pick('dataset') ?? DEFAULTS.dataset;
  const entry = datasetEntry(dataset);
  const level: SizeLevel = quick ? 'quick' : (preset?.level ?? 'default');
  // Dataset options merge across layers (a preset's layout plus the file's sizes); --quick's tiny
  // sizes win over a preset's (but not over sizes in the config file).
  const presetLayers = quick ? [preset?.input, suite].map((l) => withoutSizes(l?.datasetOptions)) : [preset?.input?.datasetOptions, suite.datasetOptions];
  const mergedDatasetOptions = Object.assign({}, ...presetLayers, file.datasetOptions ?? {}, flags.datasetOptions ?? {}) as Record<string, unknown>;
  const datasetOptions = resolveDatasetOptions(dataset, mergedDatasetOptions, level);
  const architecture = pick('architecture') ?? entry.defaultArchitecture;
  architectureEntry(architecture);

  const methods = parseMethods(pick('methods') ?? DEFAULTS.methods);
  const methodOptions: Record<string, Record<string, unknown>> = {};
  for (const layer of layers) {
    for (const [name, options] of Object.entries(layer.methodOptions ?? {})) {
      if (!isPlainObject(options)) throw badOption(`methodOptions.${name}`, `methodOptions.${name} must be an object of that method's options`, options);
      const canonical = findMethod(name).name;
      methodOptions[canonical] = { ...methodOptions[canonical], ...options };
    }
  }

  const epochs = positiveInteger('epochs', pick('epochs') ?? DEFAULTS.epochs);
  const seeds = parseSeeds(pick('seeds') ?? DEFAULTS.seeds);
  const batchSize = positiveInteger('batchSize', pick('batchSize') ?? DEFAULTS.batchSize);
  const optimizer = parseOptimizer(pick('optimizer') ?? DEFAULTS.optimizer);
  const backend = pick('backend');
  if (backend !== undefined && !(BACKEND_CANDIDATES as readonly string[]).includes(backend)) throw unknownName('backend', backend, BACKEND_CANDIDATES);
  const jobs = positiveInteger('jobs', pick('jobs') ?? availableParallelism());
  // Relative to where the user ran `pnpm benchmark` (pnpm runs the script in the package folder and sets INIT_CWD).
  const out = resolve(process.env.INIT_CWD ?? process.cwd(), pick('out') ?? 'benchmark-results');
  return { dataset, datasetOptions, methods, architecture, epochs, seeds, batchSize, optimizer, backend, jobs, out, quick, preset: presetName, methodOptions };
}

/** One benchmark of a command: most commands have one; a preset with suites has one per suite, each in `<out>/<name>`. */
export interface Suite {
  readonly name?: string;
  readonly config: BenchmarkConfig;
}

/** The benchmarks a command runs (see {@link Preset.suites}). */
export function resolveSuites(file: BenchmarkInput = {}, flags: BenchmarkInput = {}): Suite[] {
  const preset = PRESETS[flags.preset ?? file.preset ?? ''];
  const kindChosen = [file, flags].some((l) => l.datasetOptions && 'kind' in l.datasetOptions);
  if (!preset?.suites || kindChosen) return [{ config: resolveConfig(file, flags) }];
  return preset.suites.map(({ name, input }) => {
    const config = resolveConfig(file, flags, input);
    return { name, config: { ...config, out: join(config.out, name) } };
  });
}

function withoutSizes(options: Record<string, unknown> | undefined): Record<string, unknown> {
  const { sizes: _sizes, ...rest } = options ?? {};
  return rest;
}

/** One job per (method, seed), in method order then seed order. */
export function buildJobs(config: BenchmarkConfig): JobSpec[] {
  return config.methods.flatMap((method) =>
    config.seeds.map((seed) => {
      const id = jobId(method, seed);
      return {
        id,
        method,
        methodOptions: config.methodOptions[method] ?? {},
        seed,
        dataset: { name: config.dataset, options: config.datasetOptions },
        architecture: config.architecture,
        training: { epochs: config.epochs, batchSize: config.batchSize, optimizer: config.optimizer },
        backend: config.backend,
        checkpointDir: join(config.out, 'checkpoints', id),
      };
    }),
  );
}

function parseMethods(value: string | readonly string[]): string[] {
  const names = typeof value === 'string' ? value.split(',') : [...value];
  const trimmed = names.map((n) => String(n).trim()).filter((n) => n.length > 0);
  if (trimmed.length === 1 && trimmed[0]!.toLowerCase() === 'all') return listMethodAdapters().map((a) => a.name);
  if (trimmed.length === 0) throw unknownName('methods', value, listMethodAdapters().map((a) => a.name));
  const canonical = trimmed.map((n) => findMethod(n).name);
  const duplicate = canonical.find((n, i) => canonical.indexOf(n) !== i);
  if (duplicate) throw badOption('methods', `method "${duplicate}" is listed twice in --methods`, duplicate);
  return canonical;
}

/** `3` → seeds 0, 1, 2; `"4,7"` or `[4, 7]` → those seeds. */
export function parseSeeds(value: number | string | readonly number[]): number[] {
  let seeds: number[];
  if (typeof value === 'number') seeds = Array.from({ length: positiveInteger('seeds', value) }, (_, i) => i);
  else if (typeof value === 'string') {
    const parts = value.split(',').map((s) => s.trim());
    seeds = parts.length === 1 ? parseSeeds(Number(parts[0])) : parts.map(Number);
  } else seeds = [...value];
  for (const s of seeds) if (!Number.isInteger(s) || s < 0) throw badOption('seeds', `seeds must be a count (e.g. 3 → 0, 1, 2) or a list of non-negative integers (e.g. 0,4,7); got ${JSON.stringify(value)}`, value);
  if (new Set(seeds).size !== seeds.length) throw badOption('seeds', `seeds must not repeat; got ${JSON.stringify(value)}`, value);
  return seeds;
}

function parseOptimizer(value: Partial<OptimizerSpec> & { kind?: string }): OptimizerSpec {
  if (!isPlainObject(value)) throw badOption('optimizer', 'optimizer must be an object like { kind: "adam", learningRate: 0.001 }', value);
  const kinds = ['adam', 'momentum', 'sgd'];
  if (!kinds.includes(value.kind ?? '')) throw unknownName('optimizer kind', value.kind, kinds);
  rejectUnknownKeys('optimizer', value, value.kind === 'momentum' ? ['kind', 'learningRate', 'momentum'] : ['kind', 'learningRate']);
  const learningRate = value.learningRate;
  if (typeof learningRate !== 'number' || !(learningRate > 0)) throw badOption('optimizer.learningRate', `optimizer.learningRate must be a positive number; got ${JSON.stringify(learningRate)}`, learningRate);
  if (value.kind === 'momentum') return { kind: 'momentum', learningRate, momentum: (value as { momentum?: number }).momentum ?? 0.9 };
  return { kind: value.kind as 'adam' | 'sgd', learningRate };
}

function positiveInteger(name: string, value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw badOption(name, `${name} must be a positive integer; got ${JSON.stringify(value)}`, value);
  return n;
}
