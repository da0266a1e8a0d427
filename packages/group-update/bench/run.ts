/**
 * Step time of selective group updates against EW (core's weightedSum: one forward and one backward
 * of the summed loss) for T ∈ {2, 5, 9} tasks and 1..T fixed groups, next to the paper's pass count:
 * groups × (forward + backward) + one closing forward, each group also taking one optimizer update.
 * The prediction prices that count with costs measured on the same model and batch in this run, as
 * fractions of the EW step: F (a training-mode forward with the losses read back, no tape), B (forward
 * + backward of the summed loss, minus F), U (one optimizer update of every weight parameter):
 * g · (F + B + U) + F + R, with R = 1 − F − B − U the rest of the step (batch, bookkeeping), paid
 * once per batch. Printed with the deviation of the measured ratio from it, flagged past 10%, and
 * next to the same count with each group's pass and update priced by the group's size (a group's
 * backward and update touch the shared parameters and its own heads only; see predictedBySize).
 * The problem, the interleaved timing and the probe are core's bench fixture (packages/core/bench/
 * step-costs.ts, shared with transference's step-cost bench).
 * All figures are ratios measured side by side in this run. Run: pnpm --filter @mtl/group-update bench
 * (BENCH_ROUNDS: rounds per figure, default 7; BENCH_TASKS: task counts, default 2,5,9).
 */
import { availableParallelism } from 'node:os';
import { currentBackend, useBestBackend, type Parameter, type tf } from '@mtl/core';
import { selectiveGroupUpdate } from '../src/index.js';
import { BATCH, INPUT, ROUNDS, STEPS_PER_ROUND, TRUNK, measureUnitCosts, ratioToEw, restOf, type UnitCosts } from '../../core/bench/step-costs.js';

await useBestBackend();

/**
 * Beyond EW's F, B and U: a one-task group's forward + backward (`groupPass`) and update
 * (`groupUpdate`), as the selective update's fast path steps it (its loss alone, the shared
 * parameters and its own): a group's pass differentiates and steps fewer parameters than EW's.
 */
type GroupCosts = UnitCosts<'groupPass' | 'groupUpdate'>;

function unitCosts(T: number): GroupCosts {
  let parameters: Parameter[] = [];
  let one: ReadonlyMap<string, tf.Tensor> = new Map();
  return measureUnitCosts(T, [
    [
      'groupPass',
      (ctx) => {
        const shared = ctx.model.sharedParameters;
        parameters = [...shared, ...ctx.model.taskParameters(ctx.tasks[0]!.name).filter((p) => !shared.includes(p))];
        one = ctx.weightedLossGradients(ctx.tasks.map((_, i) => (i === 0 ? 1 : 0)), { parameters });
      },
    ],
    ['groupUpdate', (ctx) => ctx.applyGradients(one, { parameters })],
  ]);
}

/** Predicted step / EW for g groups: g · (F + B + U) + F + R, R = 1 − F − B − U paid once. */
const predicted = (g: number, u: GroupCosts): number => g * (u.forward + u.backward + u.update) + u.forward + restOf(u);

/**
 * The same count with each group's pass and update priced by its size: linear between a one-task
 * group's (measured) and all T tasks' (EW's F + B and U), for the round-robin groups of {@link partition}.
 */
function predictedBySize(T: number, groups: readonly (readonly string[])[], u: GroupCosts): number {
  const at = (size: number, one: number, all: number) => (T === 1 ? all : one + ((all - one) * (size - 1)) / (T - 1));
  const passes = groups.reduce((sum, g) => sum + at(g.length, u.extra.groupPass, u.forward + u.backward) + at(g.length, u.extra.groupUpdate, u.update), 0);
  return passes + u.forward + restOf(u);
}

/** g groups over T tasks, round-robin (sizes differ by at most one). */
const partition = (T: number, g: number): string[][] => Array.from({ length: g }, (_, k) => Array.from({ length: T }, (_, t) => t).filter((t) => t % g === k).map((t) => `t${t}`));

const taskCounts = (process.env['BENCH_TASKS'] ?? '2,5,9').split(',').map(Number);
console.log(`backend ${currentBackend()?.candidate}, ${availableParallelism()} cores, MLP ${INPUT}-${TRUNK.join('-')} + linear heads, batch ${BATCH}, ${ROUNDS} interleaved rounds of ${STEPS_PER_ROUND} steps per figure (median of the round ratios)`);
console.log('| T | groups | step / EW (measured) | predicted g·(F+B+U) + F + R | deviation | | priced by group size | deviation |');
console.log('|---|---|---|---|---|---|---|---|');
for (const T of taskCounts) {
  const u = unitCosts(T);
  for (let g = 1; g <= T; g++) {
    const groups = partition(T, g);
    const ratio = ratioToEw(T, selectiveGroupUpdate({ groups, order: 'forward' }));
    const theory = predicted(g, u);
    const bySize = predictedBySize(T, groups, u);
    const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)}%`;
    console.log(`| ${T} | ${g} | ${ratio.toFixed(2)} | ${theory.toFixed(2)} | ${pct(ratio / theory - 1)} | ${Math.abs(ratio / theory - 1) > 0.1 ? 'off by > 10%' : ''} | ${bySize.toFixed(2)} | ${pct(ratio / bySize - 1)} |`);
  }
  console.log(
    `|   | (× the EW step: F = ${u.forward.toFixed(3)}, B = ${u.backward.toFixed(3)}, U = ${u.update.toFixed(3)}, R = ${restOf(u).toFixed(3)}; a one-task group: F + B = ${u.extra.groupPass.toFixed(3)}, U = ${u.extra.groupUpdate.toFixed(3)}) | | | | | | |`,
  );
}
