import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_CANDIDATES } from '@mtl/core';
import { listArchitectures } from './architectures.js';
import { PRESETS, readConfigFile, resolveSuites, type BenchmarkConfig, type BenchmarkInput, type Suite } from './config.js';
import { listDatasets } from './data.js';
import { DEFAULT_METHODS, listMethodAdapters } from './methods/index.js';

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

/** The command line, on commander. Unknown flags are errors (commander's default). */
export function buildCommand(): Command {
  return new Command('benchmark')
    .description('Every @mtl method side by side on one dataset: parallel resumable jobs, results.json, results.md and report.html.')
    .addOption(new Option('--dataset <name>', 'dataset').choices(listDatasets().map((d) => d.name)))
    .option('--methods <list>', `comma-separated methods, or "all" (default: ${DEFAULT_METHODS.join(',')})`)
    .addOption(new Option('--architecture <name>', 'model architecture (default: the dataset\'s)').choices(listArchitectures().map((a) => a.name)))
    .option('--epochs <n>', 'training epochs per job', positiveInt('--epochs'))
    .option('--seeds <n|list>', 'a count (3 → seeds 0,1,2) or a comma-separated list of seeds')
    .addOption(new Option('--backend <name>', 'tfjs backend of every worker (default: automatic)').choices([...BACKEND_CANDIDATES]))
    .option('--jobs <n>', 'jobs run at once, each in its own process (default: number of cores)', positiveInt('--jobs'))
    .option('--out <dir>', 'output folder; an interrupted run continues from it (default: ./benchmark-results)')
    .option('--config <file>', 'JSON or YAML file with any of these settings plus datasetOptions and methodOptions')
    .option('--quick', 'tiny sizes, 2 epochs, one seed (CI)')
    .addOption(new Option('--preset <name>', Object.entries(PRESETS).map(([k, p]) => `${k}: ${p.description}`).join('; ')).choices(Object.keys(PRESETS)))
    .option('--list', 'list datasets, architectures and methods, then exit')
    .allowExcessArguments(false);
}

/** The listing of `--list`. */
export function describeChoices(): string {
  return [
    'datasets:',
    ...listDatasets().map((d) => `  ${d.name.padEnd(20)} ${d.description}`),
    'architectures:',
    ...listArchitectures().map((a) => `  ${a.name.padEnd(20)} ${a.description}`),
    'methods:',
    ...listMethodAdapters().map((m) => `  ${m.name.padEnd(20)} ${m.family} (${m.package}): ${m.description}`),
    'presets:',
    ...Object.entries(PRESETS).map(([k, p]) => `  ${k.padEnd(20)} ${p.description}`),
  ].join('\n');
}

/** Parses argv (without node and script) into the config of its (first) benchmark, or `'list'`. */
export function parseArgs(argv: readonly string[]): BenchmarkConfig | 'list' {
  const run = parseRun(argv);
  return run === 'list' ? run : run[0]!.config;
}

/** Parses argv (without node and script) into the benchmarks to run, or `'list'`. Throws with a clear message on bad input. */
export function parseRun(argv: readonly string[], command = buildCommand()): Suite[] | 'list' {
  command.exitOverride();
  command.configureOutput({ writeErr: () => {} });
  command.parse([...argv], { from: 'user' });
  const o = command.opts<Record<string, unknown>>();
  if (o.list) return 'list';
  const file = typeof o.config === 'string' ? readConfigFile(o.config) : {};
  const flags: BenchmarkInput = {};
  for (const key of ['dataset', 'methods', 'architecture', 'epochs', 'seeds', 'backend', 'jobs', 'out', 'quick', 'preset'] as const) {
    if (o[key] !== undefined) (flags as Record<string, unknown>)[key] = o[key];
  }
  return resolveSuites(file, flags);
}
