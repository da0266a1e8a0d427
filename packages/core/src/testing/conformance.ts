import { tf } from '../tf.js';
import { ParamSnapshot } from '../parameters.js';
import { SeededRandom } from '../random.js';
import { adam, sgd } from '../optimizers.js';
import { hardSharingMlp } from '../models/builders.js';
import { Trainer } from '../training/trainer.js';
import type { Matrix, GradientAggregator, UpdateRule } from '../update-rules.js';
import { toyTwoTaskProblem } from './fixtures.js';
import { regressionTask } from '../tasks.js';

/** Thrown by the conformance checks, listing every check that failed. */
export class ConformanceError extends Error {
  override readonly name = 'ConformanceError';
  constructor(
    readonly subject: string,
    readonly failures: readonly string[],
  ) {
    super(`${subject} failed ${failures.length} conformance check(s):\n- ${failures.join('\n- ')}`);
  }
}

export interface ConformanceReport {
  readonly subject: string;
  readonly passed: readonly string[];
}

/**
 * Checks an {@link UpdateRule} the way @mtl checks its own: it trains (the loss goes down), leaves
 * no tensors behind, is deterministic for a seed, never moves frozen parameters, leaves untouched
 * parameters alone (a frozen shared parameter and the head of a model task the trainer does not
 * train keep their values **and** get no optimizer state: no moments, no step count), keeps
 * parameters finite when targets are 1000x larger, and its state survives a JSON round trip. Needs
 * an active backend. Throws {@link ConformanceError} listing every failed check.
 */
export function checkUpdateRuleConformance(makeRule: () => UpdateRule, options: { steps?: number; seed?: number } = {}): ConformanceReport {
  const steps = options.steps ?? 30;
  const seed = options.seed ?? 1;
  const problem = toyTwoTaskProblem({ seed, size: 128 });
  const name = makeRule().name;
  const failures: string[] = [];
  const passed: string[] = [];
  const check = (label: string, ok: boolean, detail: string) => (ok ? passed.push(label) : failures.push(`${label}: ${detail}`));

  const run = (frozen: readonly string[] = [], scaleTargets = 1, spareHead = false) => {
    // Adam for the extreme case: its step size is bounded, so only the rule can make things blow up.
    // The spare head belongs to a model task the trainer does not train: nothing may touch it.
    const modelTasks = spareHead ? [...problem.tasks, regressionTask(SPARE_TASK)] : problem.tasks;
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: modelTasks, trunk: [8], seed });
    const data = scaleTargets === 1 ? problem.train : scaled(problem, scaleTargets);
    const rule = makeRule();
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: scaleTargets === 1 ? sgd(0.02) : adam(0.01), rule, batchSize: 16, seed, frozen });
    const before = ParamSnapshot.capture(model.parameters);
    const lossBefore = trainer.evaluate(problem.validation)['loss']!;
    trainer.runSteps(data, 3);
    const tensors = tf.memory().numTensors;
    trainer.runSteps(data, steps);
    const leaked = tf.memory().numTensors - tensors;
    const lossAfter = trainer.evaluate(problem.validation)['loss']!;
    const after = ParamSnapshot.capture(model.parameters);
    const optimizerState = trainer.optimizer.snapshot();
    // Keys the optimizer holds any state for (a step count or a moment slot).
    const stepped = new Set([...Object.keys(optimizerState.steps), ...optimizerState.slots.keys.map((k) => k.slice(0, k.lastIndexOf('::')))]);
    const spareKeys = spareHead ? model.taskParameters(SPARE_TASK).map((p) => p.key) : [];
    const result = { before: before.flatten(), after: after.flatten(), keys: after.layout, leaked, lossBefore, lossAfter, state: rule.getState?.(), stepped, spareKeys };
    optimizerState.slots.dispose();
    before.dispose();
    after.dispose();
    trainer.dispose();
    trainer.optimizer.dispose();
    model.dispose();
    return result;
  };

  const attempt = (label: string, body: () => void) => {
    try {
      body();
    } catch (error) {
      failures.push(`${label}: threw ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  attempt('training run', () => {
    const a = run();
    check('trains', a.lossAfter < a.lossBefore, `validation loss went from ${a.lossBefore} to ${a.lossAfter}`);
    check('no tensor leaks', a.leaked === 0, `${a.leaked} tensors left after ${steps} steps`);
    const b = run();
    check('deterministic', a.after.every((v, i) => v === b.after[i]), 'two runs with the same seed gave different parameters');
    if (a.state !== undefined) {
      let ok = true;
      try {
        JSON.parse(JSON.stringify(a.state));
      } catch {
        ok = false;
      }
      check('state is JSON-serialisable', ok, 'getState() cannot be written to a checkpoint');
    }
  });
  attempt('frozen parameters', () => {
    const frozenKey = firstSharedEntry(problem, seed);
    const f = run([frozenKey.key], 1, true);
    const slice = (v: Float32Array, key: string) => {
      const e = f.keys.entry(key);
      return Array.from(v.subarray(e.offset, e.offset + e.size));
    };
    const unchanged = (key: string) => slice(f.before, key).every((v, i) => v === slice(f.after, key)[i]);
    check('respects frozen parameters', unchanged(frozenKey.key), `frozen parameter "${frozenKey.key}" moved`);
    const untouched = [frozenKey.key, ...f.spareKeys];
    const moved = untouched.filter((key) => !unchanged(key));
    const withState = untouched.filter((key) => f.stepped.has(key));
    check(
      UNTOUCHED_CHECK,
      moved.length === 0 && withState.length === 0,
      [moved.length ? `moved: ${moved.join(', ')}` : '', withState.length ? `optimizer state changed (steps or moments) for: ${withState.join(', ')}` : ''].filter(Boolean).join('; ') +
        ` (frozen "${frozenKey.key}" and the head of task "${SPARE_TASK}", which the trainer does not train)`,
    );
  });
  attempt('extreme targets', () => {
    const big = run([], 1000);
    check('finite on extreme targets', big.after.every(Number.isFinite), 'parameters became non-finite with targets x1000');
  });
  if (failures.length) throw new ConformanceError(`update rule "${name}"`, failures);
  return { subject: `update rule "${name}"`, passed };
}

/** A model task the conformance trainer does not train: its head must stay exactly as it was. */
const SPARE_TASK = 'untrained';

/** The label of the untouched-parameters check in a {@link ConformanceReport}. */
export const UNTOUCHED_CHECK = 'untouched parameters and their optimizer state do not change';

function firstSharedEntry(problem: ReturnType<typeof toyTwoTaskProblem>, seed: number) {
  const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed });
  const snapshot = ParamSnapshot.capture(model.sharedParameters);
  const entry = snapshot.layout.entries[0]!;
  snapshot.dispose();
  model.dispose();
  return entry;
}

function scaled(problem: ReturnType<typeof toyTwoTaskProblem>, factor: number) {
  const source = problem.train;
  return {
    ...source,
    gather(indices: ArrayLike<number>) {
      const raw = source.gather(indices);
      const targets = { ...raw.targets, value: (raw.targets['value'] as Float32Array).map((v) => v * factor) };
      return { ...raw, targets };
    },
  };
}

/**
 * Checks a {@link GradientAggregator} on seeded random Jacobians: outputs have the right sizes and
 * are finite (also with zero rows and rows of norms 1e-3 vs 1e3), it is pure (same inputs and
 * draws, same output), its state is JSON-serialisable, and with identical rows the direction is
 * parallel to that row.
 */
export function checkAggregatorConformance<S>(aggregator: GradientAggregator<S>, options: { tasks?: readonly number[]; dim?: number; seed?: number } = {}): ConformanceReport {
  const rng = new SeededRandom(options.seed ?? 7);
  const dim = options.dim ?? 12;
  const failures: string[] = [];
  const passed: string[] = [];
  const check = (label: string, ok: boolean, detail: string) => (ok ? passed.push(label) : failures.push(`${label}: ${detail}`));
  for (const T of options.tasks ?? [2, 3, 5]) {
    const cases: [string, Matrix][] = [
      ['random', randomMatrix(rng, T, dim, () => 1)],
      ['zero row', randomMatrix(rng, T, dim, (r) => (r === 0 ? 0 : 1))],
      ['norms 1e-3 vs 1e3', randomMatrix(rng, T, dim, (r) => (r % 2 === 0 ? 1e-3 : 1e3))],
    ];
    for (const [label, G] of cases) {
      try {
        const draws = Array.from({ length: 64 }, () => rng.next());
        const input = (k = 0) => ({ losses: Array.from({ length: T }, (_, i) => 1 + i), step: 0, epoch: 0, random: () => draws[k++ % draws.length]! });
        const first = aggregator.aggregate(G, input(), aggregator.initialState(T));
        const again = aggregator.aggregate(G, input(), aggregator.initialState(T));
        const tag = `T=${T} ${label}`;
        check(`${tag}: sizes`, first.direction.length === dim && first.weights.length === T, `direction ${first.direction.length} (want ${dim}), weights ${first.weights.length} (want ${T})`);
        check(`${tag}: finite`, Array.from(first.direction).every(Number.isFinite) && first.weights.every(Number.isFinite), 'non-finite direction or weights');
        check(`${tag}: pure`, Array.from(first.direction).every((v, i) => v === again.direction[i]), 'same inputs and draws gave different directions');
        let serialisable = true;
        try {
          JSON.parse(JSON.stringify(first.state));
        } catch {
          serialisable = false;
        }
        check(`${tag}: JSON state`, serialisable, 'state is not JSON-serialisable');
      } catch (error) {
        failures.push(`T=${T} ${label}: threw ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    const row = Array.from({ length: dim }, () => rng.normal());
    const equal: Matrix = { rows: T, cols: dim, data: Float64Array.from({ length: T * dim }, (_, i) => row[i % dim]!) };
    try {
      const d = aggregator.aggregate(equal, { losses: Array(T).fill(1) as number[], step: 0, epoch: 0, random: () => 0.5 }, aggregator.initialState(T)).direction;
      const dot = row.reduce((s, v, i) => s + v * d[i]!, 0);
      const cos = dot / (Math.hypot(...row) * Math.hypot(...Array.from(d)) || 1);
      check(`T=${T} equal rows: parallel to the row`, cos > 1 - 1e-6, `cosine ${cos}`);
    } catch (error) {
      failures.push(`T=${T} equal rows: threw ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (failures.length) throw new ConformanceError(`aggregator "${aggregator.name}"`, failures);
  return { subject: `aggregator "${aggregator.name}"`, passed };
}

function randomMatrix(rng: SeededRandom, rows: number, cols: number, scale: (row: number) => number): Matrix {
  const data = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = rng.normal() * scale(r);
  return { rows, cols, data };
}
