/**
 * Aggregation time per step on plain matrices, for T ∈ {2, 5, 10} tasks and P ∈ {1e4, 1e5, 1e6}
 * shared parameters (fewer repetitions for the big ones). Prints a Markdown table and writes it to
 * bench/results.md. Run: pnpm --filter @mtl/weighting bench
 */
import { writeFileSync } from 'node:fs';
import { SeededRandom, type Matrix } from '@mtl/core';
import { createAggregator, listMethods } from '../src/index.js';

const rng = new SeededRandom(1);
const sizes = [1e4, 1e5, 1e6];
const taskCounts = [2, 5, 10];
const methods = listMethods().map((m) => m.name).filter((n) => n !== 'scalarize');

function matrix(T: number, P: number): Matrix {
  const data = new Float32Array(T * P);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() * 2 - 1;
  return { rows: T, cols: P, data };
}

const header = `| method | ${taskCounts.flatMap((T) => sizes.map((P) => `T=${T}, P=${P.toExponential(0)}`)).join(' | ')} |`;
const lines = [header, `|---|${taskCounts.flatMap(() => sizes.map(() => '---:')).join('|')}|`];
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
      const reps = P >= 1e6 ? 3 : P >= 1e5 ? 10 : 50;
      state = method.aggregate(g, { losses, epoch: 0 }, state).state; // warm-up
      const start = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) state = method.aggregate(g, { losses, epoch: 1, step: r }, state).state;
      const ms = Number(process.hrtime.bigint() - start) / 1e6 / reps;
      cells.push(ms < 1 ? ms.toFixed(3) : ms.toFixed(1));
    }
  }
  lines.push(`| ${name} | ${cells.join(' | ')} |`);
  console.log(lines.at(-1));
}
const table = `# Aggregation time per step (ms), Node ${process.version}, float32 Jacobian\n\n${lines.join('\n')}\n`;
writeFileSync(new URL('./results.md', import.meta.url), table);
console.log(`\n${table}`);
