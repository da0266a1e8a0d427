/**
 * Step time of the lookahead methods against EW (core's weightedSum: one forward and one backward of
 * the summed loss), next to their pass counts, for T ∈ {2, 4} tasks:
 *
 * - TAG's tracking, exact (`withAffinity(weightedSum(), { every: 1 })`): the EW step, plus the
 *   per-task Jacobian (one forward + T backward passes) and T lookaheads (an optimizer preview and a
 *   forward each): 1 + (F + T·Bt) + T·(P + F);
 * - TAG's tracking, first order (`firstOrder: true`): 1 + (F + T·Bt), no lookahead;
 * - IT-MTL (`itMtl()`, candidates sum + each task: C = T + 1): the Jacobian, C lookaheads, one
 *   update and the rest of the step: (F + T·Bt) + C·(P + F) + U + R.
 *
 * The counts are priced with costs measured on the same model and batch in this run, as fractions
 * of the EW step: F (a training-mode forward with the losses read back), B (forward + backward of
 * the summed loss, minus F), Bt (one Jacobian row, `ctx.taskGradients` for one task, minus F: one
 * task's backward through the trunk and its head, cheaper than B when many small heads make up much
 * of B's op count), U (one optimizer
 * update of every weight parameter), P (one optimizer preview: the update computed, not applied),
 * R = 1 − F − B − U (batch and bookkeeping, paid once a step). The deviation of the measured ratio
 * from the prediction is printed and flagged past 10%. All figures are ratios measured side by
 * side in this run. Run: pnpm --filter @mtl/transference bench:steps (BENCH_ROUNDS: rounds per
 * figure, default 7; BENCH_TASKS: task counts, default 2,4). The group-update and weighting benches
 * have their own copies of this kind of measurement: method packages do not depend on each other.
 */
import { availableParallelism } from 'node:os';
import {
  SeededRandom,
  Trainer,
  adam,
  currentBackend,
  hardSharingMlp,
  inMemoryDataset,
  isWeightParameter,
  regressionTask,
  useBestBackend,
  weightedSum,
  type MultiTaskDataset,
  type Task,
  type UpdateRule,
} from '@mtl/core';
import { itMtl, withAffinity } from '../src/index.js';

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
  // SGD-like learning rate small enough that lookahead losses stay finite on random targets.
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

/** Step time of `rule` over EW's, interleaved (both trainers alive, a few steps of each in turn): the median round ratio. */
function ratioToEw(T: number, rule: UpdateRule): number {
  const ew = runner(T, undefined);
  const method = runner(T, rule);
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) ratios.push(median(method.run(STEPS_PER_ROUND)) / median(ew.run(STEPS_PER_ROUND)));
  ew.dispose();
  method.dispose();
  return median(ratios);
}

interface UnitCosts {
  readonly forward: number;
  readonly backward: number;
  /** One task's backward through the trunk and its head (a Jacobian row): cheaper than B with many small heads. */
  readonly taskBackward: number;
  readonly update: number;
  readonly preview: number;
}

/**
 * F, B, U and P over the EW step, measured inside training steps by a probe rule that does what EW
 * does with its parts timed, plus one optimizer preview: the EW step is the probe's step minus F
 * and P (the extra forward and preview EW does not have).
 */
function unitCosts(T: number): UnitCosts {
  const { tasks, data } = problem(T);
  const model = hardSharingMlp({ inputSize: INPUT, tasks, trunk: TRUNK, seed: 1 });
  let parts = { f: 0, fb: 0, p: 0, u: 0, row: 0 };
  const now = () => performance.now();
  const probe: UpdateRule = {
    name: 'ew-probe',
    step(ctx) {
      const t0 = now();
      ctx.evaluateLosses();
      const t1 = now();
      const grads = ctx.weightedLossGradients(ctx.tasks.map(() => 1));
      const t2 = now();
      const preview = ctx.optimizer.preview(ctx.model.parameters.filter(isWeightParameter), grads);
      for (const t of preview.values()) t.dispose();
      const t3 = now();
      ctx.applyGradients(grads);
      const t4 = now();
      // One Jacobian row on its own: a forward and one task's backward (the forward is priced by F).
      ctx.taskGradients('parameters', { tasks: [ctx.tasks[0]!.name] });
      parts = { f: t1 - t0, fb: t2 - t1, p: t3 - t2, u: t4 - t3, row: now() - t4 };
      return { weights: ctx.tasks.map(() => 1) };
    },
  };
  const trainer = new Trainer({ model, tasks, optimizer: adam(1e-3), batchSize: BATCH, seed: 1, rule: probe });
  trainer.runSteps(data, WARM);
  const rounds: UnitCosts[] = [];
  for (let s = 0; s < ROUNDS * STEPS_PER_ROUND; s++) {
    const ew = trainer.runSteps(data, 1)[0]!.milliseconds - parts.f - parts.p - parts.row;
    rounds.push({ forward: parts.f / ew, backward: (parts.fb - parts.f) / ew, taskBackward: (parts.row - parts.f) / ew, update: parts.u / ew, preview: parts.p / ew });
  }
  trainer.dispose();
  model.dispose();
  const m = (key: keyof UnitCosts) => median(rounds.map((r) => r[key]));
  return { forward: m('forward'), backward: m('backward'), taskBackward: m('taskBackward'), update: m('update'), preview: m('preview') };
}

interface Method {
  readonly label: string;
  readonly rule: () => UpdateRule;
  readonly count: string;
  predicted(T: number, u: UnitCosts): number;
}

const jacobian = (T: number, u: UnitCosts) => u.forward + T * u.taskBackward;
const lookahead = (u: UnitCosts) => u.preview + u.forward;
const rest = (u: UnitCosts) => 1 - u.forward - u.backward - u.update;

const methods: Method[] = [
  {
    label: 'withAffinity(EW), exact, every step',
    rule: () => withAffinity(weightedSum(), { every: 1 }),
    count: '1 + (F + T·Bt) + T·(P + F)',
    predicted: (T, u) => 1 + jacobian(T, u) + T * lookahead(u),
  },
  {
    label: 'withAffinity(EW), first order, every step',
    rule: () => withAffinity(weightedSum(), { every: 1, firstOrder: true }),
    count: '1 + (F + T·Bt)',
    predicted: (T, u) => 1 + jacobian(T, u),
  },
  {
    label: 'itMtl() (sum + each task)',
    rule: () => itMtl(),
    count: '(F + T·Bt) + (T+1)·(P + F) + U + R',
    predicted: (T, u) => jacobian(T, u) + (T + 1) * lookahead(u) + u.update + rest(u),
  },
];

const taskCounts = (process.env['BENCH_TASKS'] ?? '2,4').split(',').map(Number);
console.log(`backend ${currentBackend()?.candidate}, ${availableParallelism()} cores, MLP ${INPUT}-${TRUNK.join('-')} + linear heads, batch ${BATCH}, ${ROUNDS} interleaved rounds of ${STEPS_PER_ROUND} steps per figure (median of the round ratios)`);
console.log('| T | method | pass count | step / EW (measured) | predicted | deviation | |');
console.log('|---|---|---|---|---|---|---|');
for (const T of taskCounts) {
  const u = unitCosts(T);
  for (const method of methods) {
    const ratio = ratioToEw(T, method.rule());
    const theory = method.predicted(T, u);
    const deviation = ratio / theory - 1;
    console.log(`| ${T} | ${method.label} | ${method.count} | ${ratio.toFixed(2)} | ${theory.toFixed(2)} | ${deviation >= 0 ? '+' : ''}${(100 * deviation).toFixed(0)}% | ${Math.abs(deviation) > 0.1 ? 'off by > 10%' : ''} |`);
  }
  console.log(`|   | (× the EW step: F = ${u.forward.toFixed(3)}, B = ${u.backward.toFixed(3)}, Bt = ${u.taskBackward.toFixed(3)}, U = ${u.update.toFixed(3)}, P = ${u.preview.toFixed(3)}, R = ${rest(u).toFixed(3)}) | | | | | |`);
}
