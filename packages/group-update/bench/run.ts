/**
 * Step time of selective group updates against EW (one backward of the summed loss) for T ∈ {2, 5, 9}
 * tasks and 1..T fixed groups, next to the paper's pass count: groups × (forward + backward) + one
 * forward, i.e. a predicted ratio of g + F / S_EW, with F the measured time of one forward pass and
 * S_EW the measured EW step (forward + backward + optimizer step). All figures are ratios measured
 * side by side in this run. Run: pnpm --filter @mtl/group-update bench
 */
import { availableParallelism } from 'node:os';
import { SeededRandom, Trainer, adam, currentBackend, hardSharingMlp, inMemoryDataset, regressionTask, tf, useBestBackend, type MultiTaskDataset, type Task, type UpdateRule } from '@mtl/core';
import { selectiveGroupUpdate } from '../src/index.js';

await useBestBackend();
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const STEPS_PER_ROUND = 4;
const STEPS = ROUNDS * STEPS_PER_ROUND;
const WARM = 5;
const BATCH = 128;
const INPUT = 64;
const TRUNK = [128, 128];

function problem(T: number): { tasks: Task[]; data: MultiTaskDataset } {
  const rng = new SeededRandom(T);
  const n = 1024;
  const x = Float32Array.from({ length: n * INPUT }, () => rng.normal());
  const tasks = Array.from({ length: T }, (_, t) => regressionTask(`t${t}`));
  const targets = Object.fromEntries(tasks.map((task) => [task.name, Float32Array.from({ length: n }, () => rng.normal())]));
  return { tasks, data: inMemoryDataset({ x, inputShape: [INPUT], targets }) };
}

interface Runner {
  run(steps: number): number[];
  dispose(): void;
}

function runner(T: number, rule: UpdateRule | undefined): Runner {
  const { tasks, data } = problem(T);
  const model = hardSharingMlp({ inputSize: INPUT, tasks, trunk: TRUNK, seed: 1 });
  const trainer = new Trainer({ model, tasks, optimizer: adam(1e-3), batchSize: BATCH, seed: 1, ...(rule ? { rule } : {}) });
  trainer.runSteps(data, WARM);
  return {
    run: (steps) => trainer.runSteps(data, steps).map((s) => s.milliseconds),
    dispose: () => {
      trainer.dispose();
      model.dispose();
    },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/**
 * Step time of `rule` over EW's, measured interleaved (a few steps of each in turn, both trainers
 * alive) so that both see the same load on a shared machine: the median of the per-round ratios.
 */
function ratioToEw(T: number, rule: UpdateRule): number {
  const ew = runner(T, undefined);
  const method = runner(T, rule);
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) ratios.push(median(method.run(STEPS_PER_ROUND)) / median(ew.run(STEPS_PER_ROUND)));
  ew.dispose();
  method.dispose();
  return median(ratios);
}

/** EW's median step time, for the forward-pass ratio. */
function ewMs(T: number): number {
  const ew = runner(T, undefined);
  const ms = median(ew.run(ROUNDS * STEPS_PER_ROUND));
  ew.dispose();
  return ms;
}

/** Median milliseconds of one forward pass with the task losses read back (what the closing forward costs). */
function forwardMs(T: number): number {
  const { tasks, data } = problem(T);
  const model = hardSharingMlp({ inputSize: INPUT, tasks, trunk: TRUNK, seed: 1 });
  const raw = data.gather(Int32Array.from({ length: BATCH }, (_, i) => i));
  const x = tf.tensor2d(raw.x, [BATCH, INPUT]);
  const ys = Object.fromEntries(tasks.map((t) => [t.name, tf.tensor2d(raw.targets[t.name] as Float32Array, [BATCH, 1])]));
  const once = () => {
    const started = performance.now();
    tf.tidy(() => {
      const out = model.forward(x);
      tf.stack(tasks.map((t) => t.loss(out[t.name]!, ys[t.name]!))).dataSync();
    });
    return performance.now() - started;
  };
  for (let i = 0; i < WARM; i++) once();
  const times = Array.from({ length: STEPS }, once).sort((a, b) => a - b);
  tf.dispose([x, ...Object.values(ys)]);
  model.dispose();
  return times[times.length >> 1]!;
}

/** g groups over T tasks, round-robin (sizes differ by at most one). */
const partition = (T: number, g: number): string[][] => Array.from({ length: g }, (_, k) => Array.from({ length: T }, (_, t) => t).filter((t) => t % g === k).map((t) => `t${t}`));

console.log(`backend ${currentBackend()?.candidate}, ${availableParallelism()} cores, MLP ${INPUT}-${TRUNK.join('-')} + linear heads, batch ${BATCH}, ${ROUNDS} interleaved rounds of ${STEPS_PER_ROUND} steps per figure (median of the round ratios)`);
console.log('| T | groups | step / EW (measured) | predicted g + F/S_EW | passes (g·(F+B) + F) |');
console.log('|---|---|---|---|---|');
for (const T of [2, 5, 9]) {
  const forward = forwardMs(T) / ewMs(T);
  for (let g = 1; g <= T; g++) {
    const ratio = ratioToEw(T, selectiveGroupUpdate({ groups: partition(T, g), order: 'forward' }));
    console.log(`| ${T} | ${g} | ${ratio.toFixed(2)} | ${(g + forward).toFixed(2)} | ${g}·(F+B) + F |`);
  }
  console.log(`|   | (one forward F = ${forward.toFixed(2)} × the EW step) | | | |`);
}
