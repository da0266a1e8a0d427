import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgs, parseRun } from '../src/cli.js';
import { buildJobs, parseSeeds } from '../src/config.js';
import { DEFAULT_METHODS } from '../src/methods/index.js';

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return 'did not throw';
};

const config = (argv: string[]) => {
  const c = parseArgs(argv);
  if (c === 'list') throw new Error('expected a config');
  return c;
};

describe('command line', () => {
  it('defaults: MultiMNIST, LeNet, every default method, 2 seeds, one job per (method, seed)', () => {
    const c = config([]);
    expect(c.dataset).toBe('multimnist');
    expect(c.architecture).toBe('lenet');
    expect(c.methods).toEqual([...DEFAULT_METHODS]);
    expect(c.seeds).toEqual([0, 1]);
    const jobs = buildJobs(c);
    expect(jobs).toHaveLength(DEFAULT_METHODS.length * 2);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
    // A job is plain JSON: it survives a round trip unchanged.
    expect(JSON.parse(JSON.stringify(jobs[0]))).toEqual(jobs[0]);
  });

  it('unknown methods, datasets, architectures, presets and flags fail at once, listing what exists', () => {
    expect(messageOf(() => config(['--methods', 'EW,NoSuchMethod']))).toMatch(/unknown method "NoSuchMethod".*PCGrad.*ForkMerge/);
    expect(messageOf(() => config(['--dataset', 'cifar']))).toMatch(/cifar.*multimnist/);
    expect(messageOf(() => config(['--architecture', 'resnet']))).toMatch(/resnet.*lenet/);
    expect(messageOf(() => config(['--preset', 'nope']))).toMatch(/nope.*paper/);
    expect(messageOf(() => config(['--frobnicate']))).toMatch(/unknown option '--frobnicate'/);
    expect(messageOf(() => config(['--epochs', '0']))).toMatch(/--epochs must be a positive integer/);
  });

  it('method names are case-insensitive, registry names and aliases work, "all" lists every adapter', () => {
    expect(config(['--methods', 'ew,pcgrad,nash-mtl,mgda-ub,gradvac']).methods).toEqual(['EW', 'PCGrad', 'Nash-MTL', 'MGDA-UB', 'GradVac']);
    expect(config(['--methods', 'all']).methods.length).toBeGreaterThan(DEFAULT_METHODS.length);
    expect(messageOf(() => config(['--methods', 'EW,ew']))).toMatch(/listed twice/);
  });

  it('seeds: a count or a list', () => {
    expect(parseSeeds('3')).toEqual([0, 1, 2]);
    expect(parseSeeds('4,7')).toEqual([4, 7]);
    expect(messageOf(() => parseSeeds('1,1'))).toMatch(/repeat/);
    expect(messageOf(() => parseSeeds('-1,2'))).toMatch(/non-negative/);
  });

  it('--config reads JSON and YAML with per-method options; unknown keys are errors; flags win', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtl-bench-cli-'));
    const yaml = join(dir, 'c.yaml');
    writeFileSync(yaml, 'methods: [EW, PCGrad]\nepochs: 3\nmethodOptions:\n  pcgrad: { normalize: sum }\ndatasetOptions:\n  sizes: { train: 100 }\n');
    const c = config(['--config', yaml, '--epochs', '5']);
    expect(c.methods).toEqual(['EW', 'PCGrad']);
    expect(c.epochs).toBe(5);
    expect(c.methodOptions).toEqual({ PCGrad: { normalize: 'sum' } });
    expect(c.datasetOptions.sizes).toEqual({ train: 100, validation: 1000, test: 1500 });
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify({ epoch: 3 }));
    expect(messageOf(() => config(['--config', json]))).toMatch(/unknown config option "epoch".*epochs/);
    writeFileSync(json, JSON.stringify({ datasetOptions: { layuot: 'x' } }));
    expect(messageOf(() => config(['--config', json]))).toMatch(/unknown dataset "multimnist" option "layuot".*layout/);
    writeFileSync(json, JSON.stringify({ methodOptions: { Bogus: {} } }));
    expect(messageOf(() => config(['--config', json]))).toMatch(/unknown method "Bogus"/);
    writeFileSync(json, '{ not json');
    expect(messageOf(() => config(['--config', json]))).toMatch(/not valid JSON/);
  });

  it('presets and --quick', () => {
    const t = config(['--preset', 'transference']);
    expect(t.architecture).toBe('lenet-9x9');
    expect(t.datasetOptions.layout).toBe('pareto-mtl');
    expect(t.optimizer).toEqual({ kind: 'momentum', learningRate: 5e-3, momentum: 0.9 });
    const f = config(['--preset', 'forkmerge']);
    expect(f.dataset).toBe('auxiliary-transfer');
    expect(f.methods).toEqual(['STL', 'EW', 'ForkMerge']);
    // Two benchmarks: an auxiliary that hurts and one that helps (its 40 training labels kept), each in its folder.
    const suites = parseRun(['--preset', 'forkmerge', '--out', '/tmp/fm']);
    if (suites === 'list') throw new Error('expected suites');
    expect(suites.map((s) => [s.name, s.config.out, s.config.datasetOptions.kind, (s.config.datasetOptions.sizes as { train: number }).train])).toEqual([
      ['hurts', '/tmp/fm/hurts', 'hurts', 2000],
      ['helps', '/tmp/fm/helps', 'helps', 40],
    ]);
    expect(suites[1]!.config.epochs).toBe(100);
    expect(config(['--preset', 'transference', '--quick']).datasetOptions).toMatchObject({ layout: 'pareto-mtl', sizes: { train: 256, validation: 128, test: 128 } });
    const q = config(['--quick']);
    expect(q.epochs).toBe(2);
    expect(q.seeds).toEqual([0]);
    expect((q.datasetOptions.sizes as { train: number }).train).toBeLessThan(1000);
  });
});
