/**
 * `pnpm bench` (repo root) / `pnpm --filter @mtl/core bench`: runs the core benchmarks on every
 * npm-only backend and writes bench/results.json and bench/results.md at the repo root.
 *
 *   --compare-pytorch   also run bench/reference/bench.py (needs a python3 with torch) and print ratios
 *   --check             exit 1 if a figure is >10% slower than bench/baseline.json (re-measured up to 3 times first)
 *   --update-baseline   write this run's figures to bench/baseline.json
 *   --profile           break the wasm mlp-per-task step down into kernel time and per-op overhead
 *   --backends=wasm,cpu --only=name,name --steps=N
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { tf, useBestBackend, type BackendCandidate } from '../src/index.js';
import { CASES, type BenchCase } from './cases.js';
import { measure } from './measure.js';
import { findTorchPython, runPytorchReference, type PytorchResults } from './pytorch.js';
import { profileStep } from './profile.js';
import { parseArgs } from 'node:util';

/** One figure of results.json. */
export interface BenchRecord {
  name: string;
  backend: string;
  ms: number;
  gflops?: number;
  pytorchMs?: number;
  ratioToPytorch?: number;
}

const TOLERANCE = 1.1;
const RETRIES = 3;

// node:util's parseArgs: unknown flags and missing values fail with a message instead of being ignored.
const { values: cli } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    backends: { type: 'string' },
    only: { type: 'string' },
    steps: { type: 'string' },
    'compare-pytorch': { type: 'boolean' },
    profile: { type: 'boolean' },
    'update-baseline': { type: 'boolean' },
    check: { type: 'boolean' },
  },
  strict: true,
});
const flag = (name: 'compare-pytorch' | 'profile' | 'update-baseline' | 'check') => cli[name] === true;
const option = (name: 'backends' | 'only' | 'steps') => cli[name];

const root = findRepoRoot(process.cwd());
const backends = (option('backends') ?? 'wasm,cpu').split(',') as BackendCandidate[];
const only = option('only')?.split(',');
const cases = CASES.filter((c) => !only || only.includes(c.name));

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

function stepsFor(backend: string): { warmup: number; steps: number } {
  const steps = Number(option('steps') ?? (backend === 'cpu' ? 5 : 20));
  return { warmup: backend === 'cpu' ? 1 : 3, steps };
}

function run(bench: BenchCase, backend: string): BenchRecord {
  const { ms } = measure(bench, stepsFor(backend));
  const record: BenchRecord = { name: bench.name, backend, ms: round(ms) };
  if (bench.flops) record.gflops = round(bench.flops / ms / 1e6);
  return record;
}

const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<number> {
  console.log(`@mtl/core benchmarks: batch 256, median of ${option('steps') ?? '20 (cpu: 5)'} steps; ${availableParallelism()} cores, Node ${process.version}`);
  const records: BenchRecord[] = [];
  const notes: string[] = [];
  for (const backend of backends) {
    const choice = await useBestBackend({ backend });
    console.log(`\n[${backend}] tfjs ${tf.version_core}, backend "${choice.tfjsBackend}"`);
    for (const bench of cases) {
      const skip = bench.skipOn?.[backend];
      if (skip) {
        const note = `${bench.name} on ${backend}: skipped (${skip})`;
        notes.push(note);
        console.log(`  ${note}`);
        continue;
      }
      const record = run(bench, backend);
      records.push(record);
      console.log(`  ${bench.name.padEnd(14)} ${record.ms.toFixed(2).padStart(9)} ms${record.gflops ? `  ${record.gflops} GFLOP/s` : ''}`);
    }
  }

  let reference: PytorchResults | undefined;
  if (flag('compare-pytorch')) reference = comparePytorch(records, notes);

  if (flag('profile')) {
    await useBestBackend({ backend: 'wasm' });
    profileStep(CASES.find((c) => c.name === 'mlp-per-task')!);
  }

  mkdirSync(join(root, 'bench'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results.json'), JSON.stringify(records, null, 2) + '\n');
  writeFileSync(join(root, 'bench', 'results.md'), markdown(records, notes, reference));
  console.log(`\n${markdown(records, notes, reference)}`);
  console.log(`wrote ${join(root, 'bench', 'results.json')} and results.md`);

  const baselinePath = join(root, 'bench', 'baseline.json');
  if (flag('update-baseline')) {
    writeFileSync(baselinePath, JSON.stringify(records.map(({ name, backend, ms }) => ({ name, backend, ms })), null, 2) + '\n');
    console.log(`wrote ${baselinePath}`);
  }
  if (flag('check')) return await check(records, baselinePath);
  return 0;
}

function comparePytorch(records: BenchRecord[], notes: string[]): PytorchResults | undefined {
  const { python, tried } = findTorchPython();
  if (!python) {
    const note = `PyTorch comparison skipped: no python with torch (tried ${tried.join(', ')}). On Debian: apt-get install python3-torch libopenblas0-pthread`;
    notes.push(note);
    console.log(`\n${note}`);
    return undefined;
  }
  console.log(`\nPyTorch reference (${python} bench/reference/bench.py):`);
  const reference = runPytorchReference(python, root, { steps: Number(option('steps') ?? 20), names: cases.map((c) => c.name) });
  if (/refblas|libblas\.so/.test(reference.blas) && !/openblas|mkl/i.test(reference.blas)) {
    notes.push(`PyTorch uses the reference BLAS (${reference.blas}): install libopenblas0-pthread, or its figures are ~50x too slow`);
  }
  for (const r of records) {
    const theirs = reference.results[r.name];
    if (theirs === undefined) continue;
    r.pytorchMs = round(theirs);
    r.ratioToPytorch = round(r.ms / theirs);
  }
  return reference;
}

async function check(records: BenchRecord[], baselinePath: string): Promise<number> {
  if (!existsSync(baselinePath)) {
    console.error(`--check: no baseline at ${baselinePath} (create it with --update-baseline)`);
    return 1;
  }
  const baseline = JSON.parse(readFileSync(baselinePath, 'utf8')) as BenchRecord[];
  let failures = 0;
  console.log(`\nRegression check against ${baselinePath} (fails above ${Math.round((TOLERANCE - 1) * 100)}% slower):`);
  for (const base of baseline) {
    let record = records.find((r) => r.name === base.name && r.backend === base.backend);
    if (!record) continue;
    // Up to RETRIES re-measurements, keeping the fastest: a regression is slow every time, a noisy
    // neighbour or a GC pause is not.
    for (let attempt = 0; attempt < RETRIES && record.ms > base.ms * TOLERANCE; attempt++) {
      await useBestBackend({ backend: base.backend as BackendCandidate });
      const again = run(CASES.find((c) => c.name === base.name)!, base.backend);
      if (again.ms < record.ms) record = again;
    }
    const ratio = record.ms / base.ms;
    const ok = ratio <= TOLERANCE;
    if (!ok) failures++;
    console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${base.name.padEnd(14)} ${base.backend.padEnd(5)} ${record.ms.toFixed(2).padStart(9)} ms vs ${base.ms.toFixed(2)} ms baseline (${ratio.toFixed(2)}x)`);
  }
  if (failures) console.error(`--check: ${failures} benchmark(s) more than 10% slower than baseline`);
  return failures ? 1 : 0;
}

function markdown(records: BenchRecord[], notes: string[], reference: PytorchResults | undefined): string {
  const names = [...new Set(records.map((r) => r.name))];
  const bes = [...new Set(records.map((r) => r.backend))];
  const cell = (name: string, be: string) => {
    const r = records.find((x) => x.name === name && x.backend === be);
    return r ? `${r.ms.toFixed(1)}${r.ratioToPytorch ? ` (${r.ratioToPytorch.toFixed(1)}x)` : ''}` : 'skipped';
  };
  const head = `| benchmark | ${bes.map((b) => `${b} ms${reference ? ' (x PyTorch)' : ''}`).join(' | ')} |${reference ? ' PyTorch ms |' : ''}`;
  const rule = `|---|${bes.map(() => '---:').join('|')}|${reference ? '---:|' : ''}`;
  const rows = names.map((n) => `| ${n} | ${bes.map((b) => cell(n, b)).join(' | ')} |${reference ? ` ${reference.results[n]?.toFixed(1) ?? '-'} |` : ''}`);
  const about = [
    `Batch 256, median step time; ${availableParallelism()} cores, Node ${process.version}, tfjs ${tf.version_core}.`,
    ...(reference ? [`PyTorch ${reference.torch}, ${reference.threads} threads, BLAS: ${reference.blas} (${reference.python}).`] : []),
    ...notes,
  ];
  return ['# @mtl/core benchmarks', '', ...about.map((a) => `- ${a}`), '', head, rule, ...rows, ''].join('\n');
}

process.exitCode = await main();
