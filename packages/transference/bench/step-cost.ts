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
 * side in this run; the problem, the interleaved timing and the probe are core's bench fixture
 * (packages/core/bench/step-costs.ts, shared with group-update's bench). Run: pnpm --filter @mtl/transference bench:steps (BENCH_ROUNDS: rounds per
 * figure, default 7; BENCH_TASKS: task counts, default 2,4). The group-update and weighting benches
 * have their own copies of this kind of measurement: method packages do not depend on each other.
 */
import { availableParallelism } from 'node:os';
import { currentBackend, isWeightParameter, useBestBackend, weightedSum, type UpdateRule } from '@mtl/core';
import { itMtl, withAffinity } from '../src/index.js';
import { BATCH, INPUT, ROUNDS, STEPS_PER_ROUND, TRUNK, measureUnitCosts, ratioToEw, restOf, type UnitCosts as FixtureCosts } from '../../core/bench/step-costs.js';

await useBestBackend();

/** F, B, U, plus P (one optimizer preview of every weight parameter) and Bt (one Jacobian row's backward). */
interface UnitCosts extends FixtureCosts<'preview' | 'row'> {
  readonly preview: number;
  /** One task's backward through the trunk and its head: cheaper than B with many small heads. */
  readonly taskBackward: number;
}

function unitCosts(T: number): UnitCosts {
  const u = measureUnitCosts(T, [
    [
      'preview',
      (ctx, grads) => {
        for (const t of ctx.optimizer.preview(ctx.model.parameters.filter(isWeightParameter), grads).values()) t.dispose();
      },
    ],
    // One Jacobian row on its own: a forward and one task's backward (the forward is priced by F).
    ['row', (ctx) => void ctx.taskGradients('parameters', { tasks: [ctx.tasks[0]!.name] })],
  ]);
  return { ...u, preview: u.extra.preview, taskBackward: u.extra.row - u.forward };
}

interface Method {
  readonly label: string;
  readonly rule: () => UpdateRule;
  readonly count: string;
  predicted(T: number, u: UnitCosts): number;
}

const jacobian = (T: number, u: UnitCosts) => u.forward + T * u.taskBackward;
const lookahead = (u: UnitCosts) => u.preview + u.forward;

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
    predicted: (T, u) => jacobian(T, u) + (T + 1) * lookahead(u) + u.update + restOf(u),
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
  console.log(`|   | (× the EW step: F = ${u.forward.toFixed(3)}, B = ${u.backward.toFixed(3)}, Bt = ${u.taskBackward.toFixed(3)}, U = ${u.update.toFixed(3)}, P = ${u.preview.toFixed(3)}, R = ${restOf(u).toFixed(3)}) | | | | | |`);
}
