/**
 * 1. Aggregation time per step on plain matrices, for T = 10 tasks and P ∈ {1e4, 1e5, 1e6}
 *    shared parameters (fewer repetitions for the big ones); for the methods defined on G Gᵀ also
 *    the Gramian path at P = 1e6 (G Gᵀ and weightsᵀ G by the backend's matMul, the method on T²
 *    numbers), as `toUpdateRule(m, { gramian: true })` runs it.
 * 2. The training step of each method over EW on the MultiMNIST LeNet model next to the ratio its
 *    pass count predicts (src/pass-counts.ts) from forward/backward costs measured in the same run,
 *    the deviation, the time of the method's own maths and the passes core runs now (see ./step.ts).
 * Prints both Markdown tables and writes them to bench/results.md.
 * Run: pnpm --filter @mtl/weighting bench. Environment: BENCH_PART=step (part 2 only), BENCH_METHODS=a,b
 * (only those methods), BENCH_STEPS (measured steps and unit-cost rounds, default 7), BENCH_BATCH (64).
 */
import { writeFileSync } from 'node:fs';
import { SeededRandom, tf, useBestBackend, type Matrix } from '@mtl/core';
import { createAggregator, listMethods } from '../src/index.js';
import { describePasses } from '../src/pass-counts.js';
import { describeObserved, runStepBench, theoreticalRatio } from './step.js';

const rng = new SeededRandom(1);
const sizes = [1e4, 1e5, 1e6];
const taskCounts = [10];
await useBestBackend();
const methods = listMethods().map((m) => m.name).filter((n) => n !== 'scalarize');

function matrix(T: number, P: number): Matrix {
  const data = new Float32Array(T * P);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2 - 1;
  return { rows: T, cols: P, data };
}

const mats = new Map<string, Matrix>();
/** The Gramian path at T = 10, P = 1e6: J Jᵀ and wᵀ J on the backend, fromGramian on T² numbers. */
function gramianPath(name: string): string {
  const method = createAggregator(name, { seed: 1 });
  if (!method.fromGramian) return '—';
  const g = mats.get(`10/${1e6}`)!;
  const jacobian = tf.tensor2d(Float32Array.from(g.data), [g.rows, g.cols]);
  const losses = Array.from({ length: 10 }, () => 1);
  let state = method.initialState(10);
  const once = (): void => {
    const gram = tf.tidy(() => tf.matMul(jacobian, jacobian, false, true).dataSync());
    const r = method.fromGramian!({ rows: 10, cols: 10, data: Float64Array.from(gram) }, { losses, epoch: 1 }, state);
    state = r.state;
    // Keep the 1e6 numbers out of tf.tidy's return value (it would walk every entry).
    const direction = tf.tidy(() => tf.matMul(tf.tensor2d([...r.weights], [1, 10]), jacobian));
    direction.dataSync();
    direction.dispose();
  };
  once();
  const start = process.hrtime.bigint();
  once();
  jacobian.dispose();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  return ms < 1 ? ms.toFixed(3) : ms.toFixed(1);
}

/** Part 1: the aggregation-time table (skipped with BENCH_PART=step). */
function aggregationTable(): string {
  const header = `| method | ${taskCounts.flatMap((T) => sizes.map((P) => `T=${T}, P=${P.toExponential(0)}`)).join(' | ')} | Gramian path, T=10, P=1e6 |`;
  const lines = [header, `|---|${taskCounts.flatMap(() => sizes.map(() => '---:')).join('|')}|---:|`];
  for (const T of taskCounts) for (const P of sizes) mats.set(`${T}/${P}`, matrix(T, P));
  for (const name of methods) {
    const cells: string[] = [];
    for (const T of taskCounts) {
      for (const P of sizes) {
        const g = mats.get(`${T}/${P}`)!;
        const method = createAggregator(name, { seed: 1 });
        const losses = Array.from({ length: T }, () => 1);
        let state = method.initialState(T);
        const reps = P >= 1e6 ? 1 : P >= 1e5 ? 3 : 10;
        state = method.aggregate(g, { losses, epoch: 0 }, state).state; // warm-up
        const start = process.hrtime.bigint();
        for (let r = 0; r < reps; r++) state = method.aggregate(g, { losses, epoch: 1, step: r }, state).state;
        const ms = Number(process.hrtime.bigint() - start) / 1e6 / reps;
        cells.push(ms < 1 ? ms.toFixed(3) : ms.toFixed(1));
      }
    }
    cells.push(gramianPath(name));
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
    console.log(lines.at(-1));
  }
  return `# Aggregation time per step (ms), Node ${process.version}, float32 Jacobian\n\n${lines.join('\n')}\n`;
}
const stepOnly = process.env['BENCH_PART'] === 'step';
const table = stepOnly ? '' : aggregationTable();
if (!stepOnly) console.log(`\n${table}`);

const batchSize = Number(process.env['BENCH_BATCH'] ?? 64);
const steps = Number(process.env['BENCH_STEPS'] ?? 7);
const only = process.env['BENCH_METHODS']?.split(',').filter(Boolean);
console.log(`\nTraining steps (hardSharingConv 36x36x1, left/right, batch ${batchSize}):`);
const { rows, units, ewObserved, backend } = await runStepBench({ batchSize, warmup: 2, steps, rounds: steps, ...(only ? { methods: only } : {}) });
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)}%`;
const stepLines = [
  '| method | passes needed | theory × EW | measured × EW | deviation | aggregation (ms) | deviation w/o aggregation | core runs now | × EW from core\'s passes | |',
  '|---|---|---:|---:|---:|---:|---:|---|---:|---|',
  ...rows.map((r) => {
    const theory = theoreticalRatio(r.passes, units);
    const ratio = r.ratio;
    const dev = ratio / theory - 1;
    const devRest = (ratio - r.aggregateMs / r.ewMs) / theory - 1;
    const flag =
      Math.abs(dev) <= 0.1
        ? ''
        : Math.abs(devRest) <= 0.1
          ? 'off by > 10%: the aggregation explains it'
          : Math.abs(ratio / r.observedRatio - 1) <= 0.1
            ? "off by > 10%: core's pass count explains it"
            : 'off by > 10%: unexplained';
    return `| ${r.method} | ${describePasses(r.passes)} | ${theory.toFixed(2)} | ${ratio.toFixed(2)} | ${pct(dev)} | ${r.aggregateMs.toFixed(2)} | ${pct(devRest)} | ${describeObserved(r.observed)} | ${r.observedRatio.toFixed(2)} | ${flag} |`;
  }),
];
const stepTable = [
  `# Training-step time per method against its pass count (median of ${steps} paired \`Trainer.runSteps(train, 1)\` ratios after 2 warm-up steps)`,
  '',
  `Model: \`hardSharingConv({ inputShape: [36, 36, 1] })\` (LeNet-style, MultiMNIST shape), tasks \`left\`/\`right\` (10 classes each),`,
  `batch ${batchSize}, random inputs and labels, SGD; backend ${backend}; Node ${process.version}. EW is core's \`weightedSum()\` rule`,
  `(observed: ${describeObserved(ewObserved)}); each method's ratio is the median over ${steps} pairs of one EW step and one method step, both`,
  'trainers alive, so both see the same load.',
  '',
  `Unit costs measured in this run on the same model and batch (${steps} alternating rounds before the methods and ${steps} after, medians, × the EW step of`,
  `${units.ewMs.toFixed(1)} ms): F = ${units.forward.toFixed(3)} (forward, losses read back, no tape), B = ${units.backward.toFixed(3)} (backward of the summed loss),`,
  `heads' forward ${units.headForward.toFixed(3)}, heads' backward to z ${units.headBackward.toFixed(3)}; the rest of the EW step (optimizer, batch, checks)`,
  `${(1 - units.forward - units.backward).toFixed(3)}. Passes (src/pass-counts.ts): F forward, B summed backward, Bt one task's backward (trunk + its head),`,
  "Bh one head's backward to z, Bz the trunk's backward of a z-space direction. theory = 1 + cost(passes) − (F + B): the rest counted",
  'once. "deviation w/o aggregation" removes the median time of the method\'s own `aggregate` / `weigh` call. "core runs now": the',
  'passes observed during the measured steps (F here = trunk passes), priced the same way in the next column.',
  '',
  ...stepLines,
  '',
].join('\n');
writeFileSync(new URL('./results.md', import.meta.url), stepOnly ? stepTable : `${table}\n${stepTable}`);
console.log(`\n${stepTable}`);
