/**
 * `pnpm bench` (repo root) / `pnpm --filter @mtl/core bench`: runs the core benchmarks on every
 * npm-only backend and writes bench/results.json and bench/results.md at the repo root.
 *
 *   --compare-pytorch   interleave each case with bench/reference/bench.py (needs a python3 with torch) in
 *                       alternating rounds; print the median ratio and its spread, BLAS and threads on both sides
 *   --check             exit 1 if a figure is >10% slower than bench/baseline.json (re-measured up to 3 times first)
 *   --update-baseline   write this run's figures to bench/baseline.json
 *   --profile           break the wasm step of each --only case (default mlp-per-task) down into kernel time and per-op overhead
 *   --backends=wasm,wasm-plain,cpu --only=name,name --steps=N
 *
 * `wasm` uses the accelerators useBestBackend finds (the workspace's @mtl/backend-blas when its addon
 * is built); `wasm-plain` is wasm without them, for the comparison.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tf, useBestBackend, type BackendCandidate, type BackendChoice } from '../src/index.js';
import { CASES, type BenchCase } from './cases.js';
import { measure, median, openSession } from './measure.js';
import { PytorchServer, findTorchPython, type PytorchInfo } from './pytorch.js';
import { profileStep } from './profile.js';
import { parseArgs } from 'node:util';

/** One figure of results.json. */
export interface BenchRecord {
  name: string;
  backend: string;
  ms: number;
  gflops?: number;
  /** What accelerated the backend (e.g. "blas"), when something did. */
  accelerator?: string;
  pytorchMs?: number;
  pytorchGflops?: number;
  /** Median over the interleaved rounds of (our median / PyTorch's median) in that round. */
  ratioToPytorch?: number;
  /** Smallest and largest per-round ratio. */
  ratioSpread?: [number, number];
  rounds?: number;
}

/** Bench backends: a core candidate, or `wasm-plain` (wasm with accelerators off). */
type BenchBackend = BackendCandidate | 'wasm-plain';
const ROUNDS = 5;
/** The cases bench/reference/bench.py implements. */
const PYTORCH_CASES = new Set(['matmul512', 'mlp-per-task', 'lenet', 'mlp-rep-grad', 'branches-2']);

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
const backends = (option('backends') ?? 'wasm,cpu').split(',') as BenchBackend[];
const only = option('only')?.split(',');
const cases = CASES.filter((c) => !only || only.includes(c.name));

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

/**
 * The 2-core fp32 peak: cores x 2 FMA pipes x 8 fp32 lanes (AVX2) x 2 FLOPs per FMA x clock, from
 * the clock /proc/cpuinfo reports (undefined where it does not).
 */
function peakGflops(): { gflops: number; ghz: number } | undefined {
  try {
    const mhz = readFileSync('/proc/cpuinfo', 'utf8').match(/^cpu MHz\s*:\s*([\d.]+)/m)?.[1];
    if (!mhz) return undefined;
    const ghz = Number(mhz) / 1000;
    return { gflops: availableParallelism() * 2 * 8 * 2 * ghz, ghz };
  } catch {
    return undefined;
  }
}
const peak = peakGflops();

/**
 * The bench runs from the workspace sources, where core cannot resolve @mtl/backend-blas by name
 * (core does not depend on it): load the workspace copy by path, so `wasm` is what a user with the
 * package installed gets. It registers itself with core on import.
 */
async function loadWorkspaceAccelerators(): Promise<void> {
  const blas = join(root, 'packages', 'backend-blas', 'src', 'index.ts');
  if (existsSync(blas)) await import(pathToFileURL(blas).href);
}

function acceleratorLine(choice: BackendChoice): string {
  return choice.accelerators.map((a) => `accelerator ${a.name}: ${a.active ? '' : 'not used, '}${a.detail}`).join('; ') || 'no accelerator';
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

/**
 * Our steps and PyTorch's in alternating rounds (ours, theirs, ours, ...), each side warm, so load
 * from other processes hits both alike; the ratio is taken per round and its median reported.
 */
async function interleaved(bench: BenchCase, backend: string, server: PytorchServer): Promise<BenchRecord> {
  const perRound = Number(option('steps') ?? 4);
  const session = openSession(bench, stepsFor(backend).warmup);
  try {
    await server.sample(bench.name, 0, 3);
    const ours: number[] = [];
    const theirs: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      await settle();
      const o = session.sample(perRound);
      await settle();
      const t = await server.sample(bench.name, perRound);
      ours.push(...o);
      theirs.push(...t);
      ratios.push(median(o) / median(t));
    }
    const ms = median(ours);
    const pytorchMs = median(theirs);
    const record: BenchRecord = {
      name: bench.name,
      backend,
      ms: round(ms),
      pytorchMs: round(pytorchMs),
      ratioToPytorch: round(median(ratios)),
      ratioSpread: [round(Math.min(...ratios)), round(Math.max(...ratios))],
      rounds: ROUNDS,
    };
    if (bench.flops) {
      record.gflops = round(bench.flops / ms / 1e6);
      record.pytorchGflops = round(bench.flops / pytorchMs / 1e6);
    }
    return record;
  } finally {
    session.close();
  }
}

async function startPytorch(notes: string[]): Promise<PytorchServer | undefined> {
  const { python, tried } = findTorchPython();
  if (!python) {
    const note = `PyTorch comparison skipped: no python with torch (tried ${tried.join(', ')}). On Debian: apt-get install python3-torch libopenblas0-pthread`;
    notes.push(note);
    console.log(`\n${note}`);
    return undefined;
  }
  const server = await PytorchServer.start(python, root);
  const { blas } = server.info;
  if (/libblas\.so/.test(blas) && !/openblas|mkl/i.test(blas)) {
    notes.push(`PyTorch uses the reference BLAS (${blas}): install libopenblas0-pthread, or its figures are ~50x too slow`);
  }
  console.log(`PyTorch reference: ${server.info.python} bench/reference/bench.py --serve: torch ${server.info.torch}, ${server.info.threads} threads, BLAS loaded: ${blas}`);
  return server;
}

/**
 * A pause before each side's round. OpenBLAS's worker threads (ours and PyTorch's) and PyTorch's
 * OpenMP threads spin for up to ~0.1 s after their last product before they sleep; without the pause
 * the side that just ran keeps a core busy during the other side's round, and the per-round ratios
 * swing both ways (measured: spreads of 0.2-3.2x on one case).
 */
const SETTLE_MS = 300;
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, SETTLE_MS));

const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<number> {
  console.log(`@mtl/core benchmarks: batch 256, median of ${option('steps') ?? '20 (cpu: 5)'} steps; ${availableParallelism()} cores, Node ${process.version}`);
  if (peak) console.log(`2-core fp32 peak: ${round(peak.gflops)} GFLOP/s (${availableParallelism()} cores x 2 FMA x 8 lanes x 2 FLOP x ${round(peak.ghz)} GHz)`);
  const records: BenchRecord[] = [];
  const notes: string[] = [];
  await loadWorkspaceAccelerators();
  const server = flag('compare-pytorch') ? await startPytorch(notes) : undefined;
  const reference = server?.info;
  const sides: string[] = [];
  try {
    for (const backend of backends) {
      const plain = backend === 'wasm-plain';
      const choice = await useBestBackend({ backend: plain ? 'wasm' : backend, accelerators: !plain });
      const accelerator = choice.accelerators.filter((a) => a.active).map((a) => a.name).join('+');
      sides.push(`${backend}: ${acceleratorLine(choice)}`);
      console.log(`\n[${backend}] tfjs ${tf.version_core}, backend "${choice.tfjsBackend}"; ${acceleratorLine(choice)}`);
      for (const bench of cases) {
        const skip = bench.skipOn?.[choice.candidate];
        if (skip) {
          const note = `${bench.name} on ${backend}: skipped (${skip})`;
          notes.push(note);
          console.log(`  ${note}`);
          continue;
        }
        const paired = server && backend !== 'cpu' && PYTORCH_CASES.has(bench.name);
        const record = paired ? await interleaved(bench, backend, server) : run(bench, backend);
        if (accelerator) record.accelerator = accelerator;
        records.push(record);
        console.log(`  ${describeRecord(record)}`);
      }
    }
  } finally {
    server?.close();
  }
  notes.push(...sides);

  if (flag('profile')) {
    await useBestBackend({ backend: 'wasm' });
    // The cases named by --only (mlp-per-task when none is named).
    const named = only ? cases : CASES.filter((c) => c.name === 'mlp-per-task');
    for (const bench of named) profileStep(bench);
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

function describeRecord(r: BenchRecord): string {
  const share = (gflops: number) => (peak ? ` (${Math.round((100 * gflops) / peak.gflops)}% of peak)` : '');
  let line = `${r.name.padEnd(14)} ${r.ms.toFixed(2).padStart(9)} ms${r.gflops ? `  ${r.gflops} GFLOP/s${share(r.gflops)}` : ''}`;
  if (r.pytorchMs !== undefined) {
    line += ` | PyTorch ${r.pytorchMs.toFixed(2)} ms${r.pytorchGflops ? `  ${r.pytorchGflops} GFLOP/s${share(r.pytorchGflops)}` : ''}`;
    line += ` | ratio ${r.ratioToPytorch!.toFixed(2)}x (rounds ${r.ratioSpread![0].toFixed(2)}-${r.ratioSpread![1].toFixed(2)})`;
  }
  return line;
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
      const plain = base.backend === 'wasm-plain';
      await useBestBackend({ backend: plain ? 'wasm' : (base.backend as BackendCandidate), accelerators: !plain });
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

function markdown(records: BenchRecord[], notes: string[], reference: PytorchInfo | undefined): string {
  const names = [...new Set(records.map((r) => r.name))];
  const bes = [...new Set(records.map((r) => r.backend))];
  const cell = (name: string, be: string) => {
    const r = records.find((x) => x.name === name && x.backend === be);
    if (!r) return 'skipped';
    const ratio = r.ratioToPytorch ? ` (${r.ratioToPytorch.toFixed(2)}x, ${r.ratioSpread![0].toFixed(2)}-${r.ratioSpread![1].toFixed(2)})` : '';
    return `${r.ms.toFixed(1)}${ratio}`;
  };
  const theirs = (name: string) => records.find((r) => r.name === name && r.pytorchMs !== undefined)?.pytorchMs?.toFixed(1) ?? '-';
  const head = `| benchmark | ${bes.map((b) => `${b} ms${reference ? ' (x PyTorch, spread over rounds)' : ''}`).join(' | ')} |${reference ? ' PyTorch ms |' : ''}`;
  const rule = `|---|${bes.map(() => '---:').join('|')}|${reference ? '---:|' : ''}`;
  const rows = names.map((n) => `| ${n} | ${bes.map((b) => cell(n, b)).join(' | ')} |${reference ? ` ${theirs(n)} |` : ''}`);
  const products = records
    .filter((r) => r.gflops)
    .map((r) => `${r.name} on ${r.backend}: ${r.gflops} GFLOP/s${peak ? ` (${Math.round((100 * r.gflops!) / peak.gflops)}% of the ${round(peak.gflops)} GFLOP/s peak)` : ''}${r.pytorchGflops ? `; PyTorch ${r.pytorchGflops} GFLOP/s${peak ? ` (${Math.round((100 * r.pytorchGflops) / peak.gflops)}%)` : ''}` : ''}`);
  const about = [
    `Batch 256, median step time; ${availableParallelism()} cores, Node ${process.version}, tfjs ${tf.version_core}.`,
    ...(reference
      ? [`PyTorch ${reference.torch}, ${reference.threads} threads, BLAS: ${reference.blas} (${reference.python}); ${ROUNDS} alternating rounds of ${option('steps') ?? 4} steps per side, ratio = median over rounds of the per-round ratio of medians.`]
      : []),
    ...products,
    ...notes,
  ];
  return ['# @mtl/core benchmarks', '', ...about.map((a) => `- ${a}`), '', head, rule, ...rows, ''].join('\n');
}

process.exitCode = await main();
