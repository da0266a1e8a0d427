/**
 * Part 2: the full training-step overhead of each registered method relative to EW, on the
 * LeNet-style MultiMNIST model (core's `hardSharingConv`, input 36x36x1, two 10-class heads
 * `left`/`right`), batch 256, random inputs and labels (this package must not depend on
 * @mtl/datasets; the step cost does not depend on the pixel values). Each method gets a fresh model
 * with the same seed, warm-up steps, then the median of single `Trainer.runSteps(train, 1)` calls.
 * The aggregation-only time is measured by timing the method's own `aggregate` / `weigh` calls
 * inside those steps.
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
} from '@mtl/core';
import { createAggregator, createWeighting, listMethods, toUpdateRule, type Aggregator, type Weighting } from '../src/index.js';

export interface StepRow {
  readonly method: string;
  readonly space: GradientSpace;
  /** Median wall time of one training step (ms). */
  readonly stepMs: number;
  /** Median time inside the method's aggregate/weigh call (ms). */
  readonly aggregateMs: number;
  /** Median EW step measured just before this method (the machine's load drifts: ratios use it). */
  readonly ewMs: number;
}

export interface StepBenchOptions {
  readonly batchSize?: number;
  readonly warmup?: number;
  readonly steps?: number;
  readonly log?: (line: string) => void;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const now = (): number => Number(process.hrtime.bigint()) / 1e6;

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

export async function runStepBench(options: StepBenchOptions = {}): Promise<{ rows: StepRow[]; backend: string }> {
  const batchSize = options.batchSize ?? 256;
  const warmup = options.warmup ?? 2;
  const steps = options.steps ?? 7;
  const log = options.log ?? ((line: string) => console.log(line));
  await useBestBackend();
  const tasks = [classificationTask('left', { classes: 10 }), classificationTask('right', { classes: 10 })];
  const rng = new SeededRandom(7);
  const n = batchSize * 2;
  const x = new Float32Array(n * 36 * 36);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const label = (): Int32Array => Int32Array.from({ length: n }, () => Math.floor(rng.next() * 10));
  const train = inMemoryDataset({ x, inputShape: [36, 36, 1], targets: { left: label(), right: label() } });
  // Krum needs T ≥ 3: this model has two tasks.
  const methods = listMethods().map((m) => m.name).filter((name) => name !== 'scalarize' && name !== 'krum');
  const rows: StepRow[] = [];
  const measure = (method: string, sink: number[]): number => {
    const model = hardSharingConv({ inputShape: [36, 36, 1], tasks, seed: 1 });
    const trainer = new Trainer({ model, tasks, optimizer: sgd(0.01), rule: timed(method, sink), batchSize, seed: 1 });
    trainer.runSteps(train, warmup);
    sink.length = 0;
    const times: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t0 = now();
      trainer.runSteps(train, 1);
      times.push(now() - t0);
    }
    model.dispose();
    return median(times);
  };
  for (const method of methods) {
    const agg = createAggregator(method);
    const space: GradientSpace = agg.space ?? 'parameters';
    const sink: number[] = [];
    const ewMs = measure('ew', []);
    const stepMs = measure(method, sink);
    const row = { method, space, stepMs, aggregateMs: median(sink), ewMs };
    rows.push(row);
    log(`  ${method}: step ${row.stepMs.toFixed(1)} ms, aggregation ${row.aggregateMs.toFixed(2)} ms (${tf.memory().numTensors} tensors live)`);
  }
  return { rows, backend: currentBackend()?.candidate ?? tf.getBackend() };
}
