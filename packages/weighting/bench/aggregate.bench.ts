/**
 * 1. Aggregation time per step on plain matrices, for T = 10 tasks and P ∈ {1e4, 1e5, 1e6}
 *    shared parameters (fewer repetitions for the big ones); for the methods defined on G Gᵀ also
 *    the Gramian path at P = 1e6 (G Gᵀ and weightsᵀ G by the backend's matMul, the method on T²
 *    numbers), as `toUpdateRule(m, { gramian: true })` runs it.
 * 2. Full training-step overhead of each method relative to EW on the MultiMNIST LeNet model
 *    (see ./step.ts), with the share of the step spent in the method's own maths.
 * Prints both Markdown tables and writes them to bench/results.md (under 2 minutes on 2 cores).
 * Run: pnpm --filter @mtl/weighting bench
 */
import { writeFileSync } from 'node:fs';
import { SeededRandom, tf, useBestBackend, type Matrix } from '@mtl/core';
import { createAggregator, listMethods } from '../src/index.js';
import { runStepBench } from './step.js';

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

const header = `| method | ${taskCounts.flatMap((T) => sizes.map((P) => `T=${T}, P=${P.toExponential(0)}`)).join(' | ')} | Gramian path, T=10, P=1e6 |`;
const lines = [header, `|---|${taskCounts.flatMap(() => sizes.map(() => '---:')).join('|')}|---:|`];
const mats = new Map<string, Matrix>();
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

const table = `# Aggregation time per step (ms), Node ${process.version}, float32 Jacobian\n\n${lines.join('\n')}\n`;
console.log(`\n${table}`);

const batchSize = 64;
console.log(`\nTraining steps (hardSharingConv 36x36x1, left/right, batch ${batchSize}):`);
const { rows, backend } = await runStepBench({ batchSize, warmup: 2, steps: 7 });
const stepLines = [
  '| method | space | step (ms) | × EW | aggregation (ms) | aggregation share of step | overhead vs EW w/o aggregation |',
  '|---|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const ratio = r.stepMs / r.ewMs;
    const rest = (r.stepMs - r.aggregateMs) / r.ewMs;
    return `| ${r.method} | ${r.space} | ${r.stepMs.toFixed(1)} | ${ratio.toFixed(2)} | ${r.aggregateMs.toFixed(2)} | ${((100 * r.aggregateMs) / r.stepMs).toFixed(1)}% | ${rest.toFixed(2)} |`;
  }),
];
const stepTable = [
  `# Training-step time per method (median of 7 \`Trainer.runSteps(train, 1)\` after 2 warm-up steps)`,
  '',
  `Model: \`hardSharingConv({ inputShape: [36, 36, 1] })\` (LeNet-style, MultiMNIST shape), tasks \`left\`/\`right\` (10 classes each),`,
  `batch ${batchSize}, random inputs and labels, SGD; backend ${backend}; Node ${process.version}. Aggregators run on the`,
  'per-task Jacobian of the shared parameters (two backward passes; MoDo and SDMGrad on three batches) except `mgda-ub` (representation);',
  'loss weightings take one weighted backward pass. "aggregation" is the median time inside the method\'s own',
  '`aggregate` / `weigh` call; the last column is the step ratio to EW with that time removed. Each ratio is to an',
  'EW run measured just before the method (same procedure), so slow drifts in the machine load cancel.',
  '',
  ...stepLines,
  '',
].join('\n');
writeFileSync(new URL('./results.md', import.meta.url), `${table}\n${stepTable}`);
console.log(`\n${stepTable}`);
