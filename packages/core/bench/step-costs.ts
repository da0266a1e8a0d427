/**
 * The shared fixture of the method packages' step-cost benches (group-update's `bench/run.ts`,
 * transference's `bench/step-cost.ts`): a T-task regression problem on an MLP 64-128-128 with linear
 * heads (batch 128, Adam), a method's step time over EW's measured interleaved, and the unit costs a
 * pass count is priced with, measured inside EW steps. Method packages may not depend on each other,
 * so this lives with core's benches (not published) and they import it by path.
 */
import { SeededRandom, Trainer, adam, hardSharingMlp, inMemoryDataset, regressionTask, type MultiTaskDataset, type StepContext, type Task, type UpdateRule, type tf } from '../src/index.js';

export const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
export const STEPS_PER_ROUND = 4;
export const BATCH = 128;
export const INPUT = 64;
export const TRUNK = [128, 128];
const WARM = 5;

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

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

/** A warmed-up trainer on the T-task problem; no rule is EW (core's default weighted sum). */
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

/**
 * Step time of `rule` over EW's, measured interleaved (a few steps of each in turn, both trainers
 * alive) so that both see the same load on a shared machine: the median of the per-round ratios.
 */
export function ratioToEw(T: number, rule: UpdateRule): number {
  const ew = runner(T, undefined);
  const method = runner(T, rule);
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) ratios.push(median(method.run(STEPS_PER_ROUND)) / median(ew.run(STEPS_PER_ROUND)));
  ew.dispose();
  method.dispose();
  return median(ratios);
}

/** A part a bench times beyond EW's own, run inside the probe step after EW's update (`grads`: EW's gradients). */
export type ExtraPart = (ctx: StepContext, grads: ReadonlyMap<string, tf.Tensor>) => void;

/** F, B, U and each extra part as fractions of one EW step (medians over the probe's steps). */
export interface UnitCosts<K extends string> {
  readonly forward: number;
  readonly backward: number;
  readonly update: number;
  readonly extra: Readonly<Record<K, number>>;
}

/**
 * F, B and U over the EW step for T tasks, measured inside training steps by a probe rule that does
 * what EW does with its parts timed: `ctx.evaluateLosses()` (one forward, losses read back: F, an
 * extra pass the EW step does not have), `ctx.weightedLossGradients` (forward + backward: F + B) and
 * `ctx.applyGradients` (the optimizer update with its checks: U); then each `extra` part, in order,
 * timed too. The EW step is the probe's step minus F and the extras; the medians over the steps of
 * the per-step fractions.
 */
export function measureUnitCosts<K extends string>(T: number, extras: readonly (readonly [K, ExtraPart])[] = []): UnitCosts<K> {
  const { tasks, data } = problem(T);
  const model = hardSharingMlp({ inputSize: INPUT, tasks, trunk: TRUNK, seed: 1 });
  let parts = { f: 0, fb: 0, u: 0, extra: new Map<K, number>() };
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
      const extra = new Map<K, number>();
      for (const [name, part] of extras) {
        const start = now();
        part(ctx, grads);
        extra.set(name, now() - start);
      }
      parts = { f: t1 - t0, fb: t2 - t1, u: t3 - t2, extra };
      return { weights: ctx.tasks.map(() => 1) };
    },
  };
  const trainer = new Trainer({ model, tasks, optimizer: adam(1e-3), batchSize: BATCH, seed: 1, rule: probe });
  trainer.runSteps(data, WARM);
  const rounds: { forward: number; backward: number; update: number; extra: Map<K, number> }[] = [];
  for (let s = 0; s < ROUNDS * STEPS_PER_ROUND; s++) {
    const step = trainer.runSteps(data, 1)[0]!.milliseconds;
    const ew = step - parts.f - [...parts.extra.values()].reduce((a, b) => a + b, 0);
    rounds.push({
      forward: parts.f / ew,
      backward: (parts.fb - parts.f) / ew,
      update: parts.u / ew,
      extra: new Map([...parts.extra].map(([k, ms]) => [k, ms / ew])),
    });
  }
  trainer.dispose();
  model.dispose();
  return {
    forward: median(rounds.map((r) => r.forward)),
    backward: median(rounds.map((r) => r.backward)),
    update: median(rounds.map((r) => r.update)),
    extra: Object.fromEntries(extras.map(([k]) => [k, median(rounds.map((r) => r.extra.get(k)!))])) as Record<K, number>,
  };
}

/** R = 1 − F − B − U: the rest of the EW step (batch, bookkeeping), paid once a step. */
export const restOf = (u: UnitCosts<string>): number => 1 - u.forward - u.backward - u.update;
