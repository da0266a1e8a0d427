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
 * All figures are ratios measured side by side in this run. Run: pnpm --filter @mtl/group-update bench
 * (BENCH_ROUNDS: rounds per figure, default 7; BENCH_TASKS: task counts, default 2,5,9).
 */
import { availableParallelism } from 'node:os';
import { SeededRandom, Trainer, adam, currentBackend, hardSharingMlp, inMemoryDataset, regressionTask, useBestBackend, type MultiTaskDataset, type Task, type UpdateRule } from '@mtl/core';
import { selectiveGroupUpdate } from '../src/index.js';

await useBestBackend();
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const STEPS_PER_ROUND = 4;
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

/** Unit costs as fractions of one EW step (medians over the probe's steps). */
interface UnitCosts {
  readonly forward: number;
  readonly backward: number;
  readonly update: number;
  /**
   * A one-task group's forward + backward and update (its loss alone, the shared parameters and
   * its own): a group's pass differentiates and steps fewer parameters than EW's.
   */
  readonly groupPass: number;
  readonly groupUpdate: number;
}

/**
 * F, B and U over the EW step for T tasks, measured inside training steps by a probe rule that does
 * what EW does with its parts timed: `ctx.evaluateLosses()` (one forward, losses read back: F, an
 * extra pass the EW step does not have), `ctx.weightedLossGradients` (forward + backward: F + B) and
 * `ctx.applyGradients` (the optimizer update with its checks: U). The EW step is the probe's step
 * minus F; the medians over the steps of the per-step fractions. (The weighting bench has its own
 * copy of this kind of measurement: method packages do not depend on each other.)
 */
function unitCosts(T: number): UnitCosts {
  const { tasks, data } = problem(T);
  const model = hardSharingMlp({ inputSize: INPUT, tasks, trunk: TRUNK, seed: 1 });
  let parts = { f: 0, fb: 0, u: 0, fb1: 0, u1: 0 };
  const now = () => performance.now();
  const probe: UpdateRule = {
    name: 'ew-probe',
    step(ctx) {
      const t0 = now();
      ctx.evaluateLosses();
      const t1 = now();
      const grads = ctx.weightedLossGradients(ctx.tasks.map(() => 1));
      const t2 = now();
      ctx.applyGradients(grads);
      const t3 = now();
      // The same for a one-task group, as the selective update's fast path steps it.
      const shared = ctx.model.sharedParameters;
      const parameters = [...shared, ...ctx.model.taskParameters(ctx.tasks[0]!.name).filter((p) => !shared.includes(p))];
      const one = ctx.weightedLossGradients(ctx.tasks.map((_, i) => (i === 0 ? 1 : 0)), { parameters });
      const t4 = now();
      ctx.applyGradients(one, { parameters });
      parts = { f: t1 - t0, fb: t2 - t1, u: t3 - t2, fb1: t4 - t3, u1: now() - t4 };
      return { weights: ctx.tasks.map(() => 1) };
    },
  };
  const trainer = new Trainer({ model, tasks, optimizer: adam(1e-3), batchSize: BATCH, seed: 1, rule: probe });
  trainer.runSteps(data, WARM);
  const rounds: UnitCosts[] = [];
  for (let s = 0; s < ROUNDS * STEPS_PER_ROUND; s++) {
    const ew = trainer.runSteps(data, 1)[0]!.milliseconds - parts.f - parts.fb1 - parts.u1;
    rounds.push({ forward: parts.f / ew, backward: (parts.fb - parts.f) / ew, update: parts.u / ew, groupPass: parts.fb1 / ew, groupUpdate: parts.u1 / ew });
  }
  trainer.dispose();
  model.dispose();
  const med = (key: keyof UnitCosts) => median(rounds.map((r) => r[key]));
  return { forward: med('forward'), backward: med('backward'), update: med('update'), groupPass: med('groupPass'), groupUpdate: med('groupUpdate') };
}

/** Predicted step / EW for g groups: g · (F + B + U) + F + R, R = 1 − F − B − U paid once. */
const predicted = (g: number, u: UnitCosts): number => g * (u.forward + u.backward + u.update) + u.forward + (1 - u.forward - u.backward - u.update);

/**
 * The same count with each group's pass and update priced by its size: linear between a one-task
 * group's (measured) and all T tasks' (EW's F + B and U), for the round-robin groups of {@link partition}.
 */
function predictedBySize(T: number, groups: readonly (readonly string[])[], u: UnitCosts): number {
  const at = (size: number, one: number, all: number) => (T === 1 ? all : one + ((all - one) * (size - 1)) / (T - 1));
  const passes = groups.reduce((sum, g) => sum + at(g.length, u.groupPass, u.forward + u.backward) + at(g.length, u.groupUpdate, u.update), 0);
  return passes + u.forward + (1 - u.forward - u.backward - u.update);
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
    `|   | (× the EW step: F = ${u.forward.toFixed(3)}, B = ${u.backward.toFixed(3)}, U = ${u.update.toFixed(3)}, R = ${(1 - u.forward - u.backward - u.update).toFixed(3)}; a one-task group: F + B = ${u.groupPass.toFixed(3)}, U = ${u.groupUpdate.toFixed(3)}) | | | | | | |`,
  );
}
