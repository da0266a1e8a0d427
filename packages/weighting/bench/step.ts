/**
 * Part 2: the full training-step cost of each registered method relative to EW, on the LeNet-style
 * MultiMNIST model (core's `hardSharingConv`, input 36x36x1, two 10-class heads `left`/`right`),
 * random inputs and labels (this package must not depend on @mtl/datasets; the step cost does not
 * depend on the pixel values), next to the cost its pass count predicts (src/pass-counts.ts).
 *
 * - EW reference: core's `weightedSum()` rule (the trainer's default), one forward and one backward
 *   of the summed loss. Each method gets a fresh model with the same seed, warm-up steps, then the
 *   median of single `Trainer.runSteps(train, 1)` calls; an EW run measured just before it (same
 *   procedure) is its denominator, so slow drifts of the machine's load cancel.
 * - Unit costs, measured on the same model and batch in alternating rounds with EW steps, as
 *   fractions of the EW step: F (a training-mode forward with the losses read back, no tape),
 *   B (forward + backward of the summed loss, minus F), the heads' forward from a fixed z and their
 *   backward to z (T separate tapes, as representation-space gradients take them). The trunk's
 *   backward is B minus the heads' backward.
 * - Theoretical step / EW = 1 + cost(passes) − (F + B): the method's passes priced with those units,
 *   the rest of the step (optimizer update, batch assembly, checks) counted once, as EW pays it.
 * - What core runs now: the passes observed during the method's steps (trunk and head calls of the
 *   model, and the gradient tapes, classified by what ran inside them), priced the same way. While
 *   core takes parameter-space Jacobians with one forward per task, per-task methods sit above their
 *   theoretical count by about (T − 1) forwards; this column says so from the run itself.
 * - The aggregation time: the median time inside the method's own `aggregate` / `weigh` call.
 */
import {
  Trainer,
  classificationTask,
  currentBackend,
  hardSharingConv,
  inMemoryDataset,
  SeededRandom,
  sgd,
  tf,
  useBestBackend,
  type GradientSpace,
  type MultiTaskModel,
  type Task,
  type UpdateRule,
} from '@mtl/core';
import { createAggregator, createWeighting, listMethods, toUpdateRule, type Aggregator, type Weighting } from '../src/index.js';
import { passCount, type StepPasses } from '../src/pass-counts.js';

export interface StepRow {
  readonly method: string;
  readonly space: GradientSpace;
  /** Step / EW: the median of the ratios of steps taken in pairs (EW, then the method). */
  readonly ratio: number;
  /** Median wall time of one training step (ms). */
  readonly stepMs: number;
  /** Median time inside the method's aggregate/weigh call (ms). */
  readonly aggregateMs: number;
  /** Median EW step (core's weightedSum) in the same pairs. */
  readonly ewMs: number;
  /** The passes the method needs (src/pass-counts.ts). */
  readonly passes: StepPasses;
  /** The passes observed per step during the measured steps. */
  readonly observed: ObservedPasses;
  /** Step / EW predicted from the observed passes (priced like the theoretical count). */
  readonly observedRatio: number;
}

/** Unit costs as fractions of one EW step (core's weightedSum), medians over alternating rounds. */
export interface UnitCosts {
  readonly ewMs: number;
  /** Whole-model forward, losses read back, no tape. */
  readonly forward: number;
  /** Backward of the summed loss through the whole model. */
  readonly backward: number;
  /** Forward of all T heads from a fixed z. */
  readonly headForward: number;
  /** Backward of all T heads down to z, one tape per task. */
  readonly headBackward: number;
  readonly numTasks: number;
  /** Backward kernels (by name) of one trunk backward and of one head backward, to read observed passes. */
  readonly trunkKernels: ReadonlyMap<string, number>;
  readonly headKernels: ReadonlyMap<string, number>;
}

export interface StepBenchOptions {
  readonly batchSize?: number;
  readonly warmup?: number;
  readonly steps?: number;
  /** Rounds of the unit-cost measurement. */
  readonly rounds?: number;
  /** Only these methods (default: every registered one the two-task model can run). */
  readonly methods?: readonly string[];
  readonly log?: (line: string) => void;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const time = (fn: () => void): number => {
  const t0 = now();
  fn();
  return now() - t0;
};

/**
 * Prices a pass count in EW-step units. A task backward runs the trunk and one head, a head
 * backward one head: each head is costed at 1/T of the measured backward of all heads.
 */
export function passCost(p: StepPasses, u: UnitCosts): number {
  const head = u.headBackward / u.numTasks;
  const trunk = u.backward - u.headBackward;
  return p.forwards * u.forward + p.summedBackwards * u.backward + p.taskBackwards * (trunk + head) + p.headBackwards * head + p.trunkBackwards * trunk;
}

/** Theoretical step / EW: the passes priced, the rest of the step (1 − F − B of EW) counted once. */
export function theoreticalRatio(p: StepPasses, u: UnitCosts): number {
  return 1 + passCost(p, u) - (u.forward + u.backward);
}

/** Passes observed per step: trunk and head forwards, and the backward work in trunk and head units. */
export interface ObservedPasses {
  readonly trunkForwards: number;
  readonly headForwards: number;
  /** Trunk backwards (Bz) that the backward kernels run amount to (least squares on the kernel profile). */
  readonly trunkBackwards: number;
  /** Head backwards (Bh), likewise. */
  readonly headBackwards: number;
}

/** Observed passes priced like {@link passCost}: a trunk-only forward is F minus the heads' forward. */
export function observedRatio(o: ObservedPasses, u: UnitCosts): number {
  const forwards = o.trunkForwards * (u.forward - u.headForward) + (o.headForwards * u.headForward) / u.numTasks;
  const backwards = passCost({ forwards: 0, summedBackwards: 0, taskBackwards: 0, headBackwards: o.headBackwards, trunkBackwards: o.trunkBackwards }, u);
  return 1 + forwards + backwards - (u.forward + u.backward);
}

/** Short notation of observed passes, in the units of {@link StepPasses} (B = Bz + T·Bh, Bt = Bz + Bh). */
export function describeObserved(o: ObservedPasses): string {
  const n = (x: number) => (Math.abs(x - Math.round(x)) < 0.05 ? String(Math.round(x)) : x.toFixed(1));
  return [`${n(o.trunkForwards)}F`, o.trunkBackwards >= 0.05 ? `${n(o.trunkBackwards)}Bz` : '', o.headBackwards >= 0.05 ? `${n(o.headBackwards)}Bh` : ''].filter(Boolean).join(' + ');
}

type KernelCounts = Map<string, number>;

/**
 * Counts the backward kernels that run, by kernel name: every node tfjs records on a gradient tape
 * gets its gradient wrapped with a counter (whichever code walks the tape: `tf.variableGrads`, or
 * core's kept tape of one forward, so the count does not depend on how core takes its passes).
 */
function tapeCounter(): { take(): KernelCounts; stop(): void } {
  let counts: KernelCounts = new Map();
  type Node = { kernelName: string; gradient?: (dys: unknown) => unknown };
  const engine = tf.engine() as unknown as { addTapeNode: (...args: unknown[]) => void; state: { activeTape: Node[] | null } };
  const addTapeNode = engine.addTapeNode;
  engine.addTapeNode = (...args) => {
    addTapeNode.apply(engine, args);
    const node = engine.state.activeTape?.at(-1);
    const gradient = node?.gradient;
    if (node && gradient) {
      node.gradient = (dys) => {
        counts.set(node.kernelName, (counts.get(node.kernelName) ?? 0) + 1);
        return gradient(dys);
      };
    }
  };
  return {
    take() {
      const out = counts;
      counts = new Map();
      return out;
    },
    stop() {
      delete (engine as Partial<typeof engine>).addTapeNode;
    },
  };
}

/**
 * How many trunk and head backwards the kernel counts amount to: for each kernel that only one of the
 * two profiles has (trunk: convolutions, pooling; head: the loss's kernels), its count over the
 * profile's; the median over those kernels, so that a few kernels of other work (the weighted sum of
 * the losses: a multiply and a sum) do not move it.
 */
function decompose(counts: ReadonlyMap<string, number>, trunk: ReadonlyMap<string, number>, head: ReadonlyMap<string, number>): { trunk: number; head: number } {
  const estimate = (own: ReadonlyMap<string, number>, other: ReadonlyMap<string, number>): number => {
    const ratios = [...own].filter(([k, c]) => c > 0 && !other.has(k)).map(([k, c]) => (counts.get(k) ?? 0) / c);
    return ratios.length ? median(ratios) : Number.NaN;
  };
  return { trunk: estimate(trunk, head), head: estimate(head, trunk) };
}

/**
 * Counts the passes of the steps run through `run` on `model`: trunk passes (`represent`,
 * `forward`), head passes (`head`, also those inside `forward`) and the backward kernels of the
 * shared `tape` counter while `run`'s function runs (see {@link tapeCounter}), read as trunk and
 * head backwards against the unit costs' kernel profiles.
 */
function countPasses(model: MultiTaskModel, tape: ReturnType<typeof tapeCounter>): { run(fn: () => void): void; observed(units: UnitCosts): ObservedPasses; stop(): void } {
  const counts = { runs: 0, trunkForwards: 0, headForwards: 0 };
  const kernels: KernelCounts = new Map();
  const target = model as { -readonly [K in keyof MultiTaskModel]: MultiTaskModel[K] };
  const represent = model.represent.bind(model);
  const forward = model.forward.bind(model);
  const head = model.head.bind(model);
  // Own properties shadow the class's methods; internal `this.head` calls in `forward` see them too.
  target.represent = (...args) => {
    counts.trunkForwards++;
    return represent(...args);
  };
  target.forward = (...args) => {
    counts.trunkForwards++;
    return forward(...args);
  };
  target.head = (...args) => {
    counts.headForwards++;
    return head(...args);
  };
  return {
    run(fn) {
      tape.take(); // another model's kernels
      fn();
      for (const [k, c] of tape.take()) kernels.set(k, (kernels.get(k) ?? 0) + c);
      counts.runs++;
    },
    observed(units) {
      const n = Math.max(1, counts.runs);
      const perRun = new Map([...kernels].map(([k, c]) => [k, c / n] as const));
      const backward = decompose(perRun, units.trunkKernels, units.headKernels);
      return { trunkForwards: counts.trunkForwards / n, headForwards: counts.headForwards / n, trunkBackwards: backward.trunk, headBackwards: backward.head };
    },
    stop() {
      delete (target as Partial<typeof target>).represent;
      delete (target as Partial<typeof target>).forward;
      delete (target as Partial<typeof target>).head;
    },
  };
}

/** Wraps a method so the time spent in its own maths is recorded per call. */
function timed(name: string, sink: number[]): ReturnType<typeof toUpdateRule> {
  const kind = listMethods().find((m) => m.name === name)!.kind;
  if (kind === 'weighting') {
    const w = createWeighting(name, { seed: 1 });
    const wrapped: Weighting<unknown> = {
      ...w,
      weigh(input, state) {
        const t0 = now();
        const out = w.weigh(input, state);
        sink.push(now() - t0);
        return out;
      },
    };
    return toUpdateRule(wrapped);
  }
  const a = createAggregator(name, { seed: 1 });
  const wrapped: Aggregator<unknown> = {
    ...a,
    aggregate(jacobian, input, state) {
      const t0 = now();
      const out = a.aggregate(jacobian, input, state);
      sink.push(now() - t0);
      return out;
    },
    ...(a.aggregateSamples
      ? {
          aggregateSamples(jacobians, input, state) {
            const t0 = now();
            const out = a.aggregateSamples!(jacobians, input, state);
            sink.push(now() - t0);
            return out;
          },
        }
      : {}),
  };
  return toUpdateRule(wrapped);
}

/**
 * F, B and the heads' forward/backward as fractions of an EW step, each round timing one of each
 * in turn (median of `reps` calls) so that all see the same load; the medians of the round ratios.
 */
interface UnitRound {
  readonly ew: number;
  readonly f: number;
  readonly b: number;
  readonly hf: number;
  readonly hb: number;
}

/** Unit costs from rounds (medians of the per-round fractions). */
function pooledUnits(rounds: readonly UnitRound[], profiles: Pick<UnitCosts, 'trunkKernels' | 'headKernels'>, numTasks: number): UnitCosts {
  return {
    ...profiles,
    ewMs: median(rounds.map((r) => r.ew)),
    forward: median(rounds.map((r) => r.f)),
    backward: median(rounds.map((r) => r.b)),
    headForward: median(rounds.map((r) => r.hf)),
    headBackward: Math.max(0, median(rounds.map((r) => r.hb))),
    numTasks,
  };
}

function measureUnitCosts(
  model: MultiTaskModel,
  tasks: readonly Task[],
  trainer: Trainer,
  train: ReturnType<typeof inMemoryDataset>,
  x: tf.Tensor,
  labels: Record<string, tf.Tensor>,
  rounds: number,
): { rounds: UnitRound[]; profiles: Pick<UnitCosts, 'trunkKernels' | 'headKernels'> } {
  const pass = { training: true, seed: 1 };
  const losses = (out: Record<string, tf.Tensor>) => tasks.map((t) => t.loss(out[t.name]!, labels[t.name]!));
  const weights = model.parameters.filter((p) => p.variable.trainable).map((p) => p.variable);
  const z = tf.tidy(() => model.represent(x, pass));
  const forward = () => tf.tidy(() => void tf.stack(losses(model.forward(x, pass))).dataSync());
  const forwardBackward = () =>
    tf.tidy(() => {
      let values: tf.Tensor | undefined;
      tf.variableGrads(() => {
        values = tf.keep(tf.stack(losses(model.forward(x, pass))));
        return tf.sum<tf.Scalar>(values);
      }, weights);
      values!.dataSync();
      values!.dispose();
    });
  const heads = () => tf.tidy(() => void tf.stack(tasks.map((t) => t.loss(model.head(t.name, z, x, pass), labels[t.name]!))).dataSync());
  const headBackwards = () =>
    tf.tidy(() => {
      const values = tasks.map((t) => {
        const own = (model.headParameters ? model.headParameters(t.name) : model.taskParameters(t.name)).map((p) => p.variable);
        return tf.engine().gradients(() => t.loss(model.head(t.name, z, x, pass), labels[t.name]!), [z, ...own], undefined, true).value;
      });
      tf.stack(values).dataSync();
    });
  const reps = 3;
  const med = (fn: () => void) => median(Array.from({ length: reps }, () => time(fn)));
  for (const fn of [forward, forwardBackward, heads, headBackwards]) fn(); // warm-up
  const rows: UnitRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const ew = med(() => trainer.runSteps(train, 1));
    const f = med(forward);
    const fb = med(forwardBackward);
    const hf = med(heads);
    const hb = med(headBackwards);
    rows.push({ ew, f: f / ew, b: (fb - f) / ew, hf: hf / ew, hb: (hb - hf) / ew });
  }
  // Kernel profiles of one trunk backward (a direction at z pulled back to the shared parameters) and of one head backward.
  const tape = tapeCounter();
  tf.tidy(() => void tf.engine().gradients(() => model.represent(x, pass), model.sharedParameters.map((p) => p.variable), tf.onesLike(z), true));
  const trunkKernels = tape.take();
  headBackwards();
  const headKernels = new Map([...tape.take()].map(([k, c]) => [k, c / tasks.length] as const));
  tape.stop();
  z.dispose();
  return { rounds: rows, profiles: { trunkKernels, headKernels } };
}

export async function runStepBench(options: StepBenchOptions = {}): Promise<{ rows: StepRow[]; units: UnitCosts; ewObserved: ObservedPasses; backend: string }> {
  const batchSize = options.batchSize ?? 256;
  const warmup = options.warmup ?? 2;
  const steps = options.steps ?? 7;
  const rounds = options.rounds ?? 7;
  const log = options.log ?? ((line: string) => console.log(line));
  await useBestBackend();
  const tasks = [classificationTask('left', { classes: 10 }), classificationTask('right', { classes: 10 })];
  const rng = new SeededRandom(7);
  // Three batches' worth, so that MoDo's and SDMGrad's extra batches are other examples.
  const n = batchSize * 3;
  const x = new Float32Array(n * 36 * 36);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const label = (): Int32Array => Int32Array.from({ length: n }, () => Math.floor(rng.next() * 10));
  const targets = { left: label(), right: label() };
  const train = inMemoryDataset({ x, inputShape: [36, 36, 1], targets });
  // Krum needs T ≥ 3: this model has two tasks.
  const methods = options.methods ?? listMethods().map((m) => m.name).filter((name) => name !== 'scalarize' && name !== 'krum');

  const setup = (rule: UpdateRule | undefined) => {
    const model = hardSharingConv({ inputShape: [36, 36, 1], tasks, seed: 1 });
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.01), batchSize, seed: 1, ...(rule ? { rule } : {}) });
    return { model, trainer };
  };

  /** Unit-cost rounds, once before the methods and once after (the load drifts over a run). */
  const unitRounds = () => {
    const { model, trainer } = setup(undefined);
    trainer.runSteps(train, warmup);
    const xs = tf.tensor4d(x.subarray(0, batchSize * 36 * 36), [batchSize, 36, 36, 1]);
    const labels = Object.fromEntries(tasks.map((t) => [t.name, tf.tensor1d(targets[t.name as 'left' | 'right'].subarray(0, batchSize), 'int32')]));
    try {
      return measureUnitCosts(model, tasks, trainer, train, xs, labels, rounds);
    } finally {
      tf.dispose([xs, ...Object.values(labels)]);
      trainer.dispose();
      model.dispose();
    }
  };
  const before = unitRounds();
  const logUnits = (what: string, u: UnitCosts) =>
    log(
      `  unit costs ${what} (× EW step ${u.ewMs.toFixed(1)} ms): F ${u.forward.toFixed(3)}, B ${u.backward.toFixed(3)}, heads' forward ${u.headForward.toFixed(3)}, heads' backward ${u.headBackward.toFixed(3)}, rest ${(1 - u.forward - u.backward).toFixed(3)}`,
    );
  // Only the kernel profiles are needed while the methods run; the costs are priced at the end.
  const profileUnits = pooledUnits(before.rounds, before.profiles, tasks.length);
  logUnits('before', profileUnits);

  const measured: Omit<StepRow, 'observedRatio'>[] = [];
  /**
   * EW (core's weightedSum) and `rule` side by side, both trainers alive: after warm-up, `steps`
   * pairs of one EW step then one method step; the median of the pair ratios, so both see the same
   * load. Also the passes per step observed on each.
   */
  const compare = (rule: UpdateRule, sink: number[]): { ratio: number; ewMs: number; ms: number; observed: ObservedPasses; ewObserved: ObservedPasses } => {
    const ew = setup(undefined);
    const run = setup(rule);
    ew.trainer.runSteps(train, warmup);
    run.trainer.runSteps(train, warmup);
    sink.length = 0;
    const tape = tapeCounter();
    const ewCounter = countPasses(ew.model, tape);
    const counter = countPasses(run.model, tape);
    const ewTimes: number[] = [];
    const times: number[] = [];
    try {
      for (let s = 0; s < steps; s++) {
        ewCounter.run(() => ewTimes.push(time(() => ew.trainer.runSteps(train, 1))));
        counter.run(() => times.push(time(() => run.trainer.runSteps(train, 1))));
      }
    } finally {
      ewCounter.stop();
      counter.stop();
      tape.stop();
    }
    for (const { model, trainer } of [ew, run]) {
      trainer.dispose();
      model.dispose();
    }
    return {
      ratio: median(times.map((t, i) => t / ewTimes[i]!)),
      ewMs: median(ewTimes),
      ms: median(times),
      observed: counter.observed(profileUnits),
      ewObserved: ewCounter.observed(profileUnits),
    };
  };
  let ewObserved: ObservedPasses | undefined;
  for (const method of methods) {
    const agg = createAggregator(method);
    const space: GradientSpace = agg.space ?? 'parameters';
    const sink: number[] = [];
    const run = compare(timed(method, sink), sink);
    ewObserved ??= run.ewObserved;
    const row: Omit<StepRow, 'observedRatio'> = {
      method,
      space,
      ratio: run.ratio,
      stepMs: run.ms,
      aggregateMs: median(sink),
      ewMs: run.ewMs,
      passes: passCount(method, tasks.length),
      observed: run.observed,
    };
    measured.push(row);
    log(`  ${method}: × EW ${row.ratio.toFixed(2)} (step ${row.stepMs.toFixed(1)} ms, EW ${row.ewMs.toFixed(1)}), aggregation ${row.aggregateMs.toFixed(2)} ms, core runs ${describeObserved(run.observed)} (${tf.memory().numTensors} tensors live)`);
  }
  const after = unitRounds();
  logUnits('after', pooledUnits(after.rounds, before.profiles, tasks.length));
  const units = pooledUnits([...before.rounds, ...after.rounds], before.profiles, tasks.length);
  const rows = measured.map((r) => ({ ...r, observedRatio: observedRatio(r.observed, units) }));
  return { rows, units, ewObserved: ewObserved!, backend: currentBackend()?.candidate ?? tf.getBackend() };
}
