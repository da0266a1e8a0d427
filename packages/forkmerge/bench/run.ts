/**
 * Wall time of one ForkMerge round (2 branches × Δt steps, merge, λ search) against Δt EW steps,
 * serially and with worker threads, and validation-search time against grid size.
 * Run: pnpm --filter @mtl/forkmerge bench
 */
import { availableParallelism } from 'node:os';
import { Trainer, adam, currentBackend, useBestBackend } from '@mtl/core';
import { forkMerge, type ForkMergeOptions } from '../src/index.js';
import { benchModel, benchProblem } from './problem.js';

await useBestBackend();
const STEPS = Number(process.env['BENCH_STEPS'] ?? 100);
const BATCH = 64;
const { tasks, data: train } = benchProblem(4096, 1);
const { data: validation } = benchProblem(1024, 2);
const setupModule = new URL('./problem.ts', import.meta.url);

function ewSteps(): number {
  const model = benchModel(tasks);
  const trainer = new Trainer({ model, tasks, optimizer: adam(1e-3), batchSize: BATCH, seed: 1 });
  trainer.runSteps(train, 20); // warm-up
  const start = performance.now();
  trainer.runSteps(train, STEPS);
  const ms = performance.now() - start;
  trainer.dispose();
  model.dispose();
  return ms;
}

/** Mean wall time of the rounds after the first (worker start-up and warm-up excluded). */
async function forkMergeRound(extra: Partial<ForkMergeOptions>): Promise<{ roundMs: number; trainMs: number; searchMs: number; totalMs: number }> {
  const model = benchModel(tasks);
  const stamps: number[] = [];
  const start = performance.now();
  const result = await forkMerge({
    model,
    tasks,
    train,
    validation,
    target: 'target',
    optimizer: { kind: 'adam', learningRate: 1e-3 },
    interval: STEPS,
    rounds: 3,
    batchSize: BATCH,
    onRound: () => stamps.push(performance.now()),
    ...extra,
  });
  const totalMs = performance.now() - start;
  model.dispose();
  const later = result.rounds.slice(1);
  const mean = (f: (r: (typeof later)[number]) => number) => later.reduce((s, r) => s + f(r), 0) / later.length;
  return { roundMs: (stamps[2]! - stamps[0]!) / 2, trainMs: mean((r) => r.trainMs), searchMs: mean((r) => r.searchMs), totalMs };
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
console.log(`backend ${currentBackend()?.candidate}, ${availableParallelism()} cores, Δt = ${STEPS} steps of batch ${BATCH}, MLP ${tasks.length} tasks`);
const ew = ewSteps();
console.log(`EW, ${STEPS} steps:                       ${fmt(ew)}`);
const serial = await forkMergeRound({});
console.log(`ForkMerge round, serial:              ${fmt(serial.roundMs)} (train ${fmt(serial.trainMs)}, search ${fmt(serial.searchMs)}) = ${(serial.roundMs / ew).toFixed(2)} × EW`);
const parallel = await forkMergeRound({ workers: { setupModule } });
console.log(`ForkMerge round, 2 workers:           ${fmt(parallel.roundMs)} (train ${fmt(parallel.trainMs)}, search ${fmt(parallel.searchMs)}) = ${(parallel.roundMs / ew).toFixed(2)} × EW; run incl. worker start ${fmt(parallel.totalMs)} vs serial ${fmt(serial.totalMs)}`);
for (const size of [3, 6, 11, 21]) {
  const grid = Array.from({ length: size }, (_, i) => i / (size - 1));
  const r = await forkMergeRound({ grid, interval: 5 });
  console.log(`λ search, grid of ${String(size).padStart(2)} on ${validation.size} examples: ${fmt(r.searchMs)}`);
}
const sub = await forkMergeRound({ interval: 5, validationSubsample: 256 });
console.log(`λ search, grid of  6 on 256 sampled examples: ${fmt(sub.searchMs)}`);
const binary = await forkMergeRound({ interval: 5, search: 'binary', binarySteps: 4 });
console.log(`λ search, binary (4 bisections) on ${validation.size} examples: ${fmt(binary.searchMs)}`);
