import { tf } from './tf.js';
import { MtlError, invalidOption, requirePositiveInteger } from './errors.js';
import type { SeededRandom } from './random.js';
import { anyValue, arrayOf, checkOptions, objectOption, required } from './options.js';
import { findNonFinite, nonFiniteInput } from './data-checks.js';
import type { Task } from './tasks.js';

export type TargetValues = Float32Array | Int32Array;

/** Examples gathered into plain arrays: what a dataset hands the trainer. */
export interface RawBatch {
  readonly size: number;
  /** `size * prod(inputShape)` numbers, row-major. */
  readonly x: Float32Array;
  readonly targets: Readonly<Record<string, TargetValues>>;
}

/**
 * A multi-task dataset: any source that can gather examples by index. `@mtl/datasets` provides
 * generated and file-backed ones; {@link inMemoryDataset} wraps arrays.
 */
export interface MultiTaskDataset {
  readonly size: number;
  readonly inputShape: readonly number[];
  /** Numbers per example of each task's target (1 for a label or a scalar). */
  readonly targetSizes: Readonly<Record<string, number>>;
  gather(indices: ArrayLike<number>): RawBatch;
}

/** A batch as tensors. The trainer disposes it after the step. */
export interface Batch {
  readonly size: number;
  readonly x: tf.Tensor;
  readonly targets: Readonly<Record<string, tf.Tensor>>;
}

export interface InMemoryDatasetInput {
  readonly x: Float32Array | readonly number[];
  readonly inputShape: readonly number[];
  readonly targets: Readonly<Record<string, TargetValues | readonly number[]>>;
}

/** Arrays as a dataset; checks sizes and that every value is finite. */
export function inMemoryDataset(input: InMemoryDatasetInput): MultiTaskDataset {
  checkOptions(input, { x: required(anyValue), inputShape: required(arrayOf(anyValue)), targets: required(objectOption) }, 'inMemoryDataset');
  const inputShape = [...input.inputShape];
  inputShape.forEach((d, i) => requirePositiveInteger(`inputShape[${i}]`, d));
  const perExample = inputShape.reduce((a, b) => a * b, 1);
  const x = input.x instanceof Float32Array ? input.x : Float32Array.from(input.x);
  if (x.length === 0) throw new MtlError('EMPTY_DATA', 'the dataset has no examples', {});
  if (x.length % perExample !== 0) {
    throw new MtlError('SHAPE_MISMATCH', `x has ${x.length} numbers, not a multiple of an example's ${perExample} ([${inputShape.join(', ')}])`, {
      what: 'x',
      length: x.length,
      inputShape,
    });
  }
  const size = x.length / perExample;
  const firstBad = x.findIndex((v) => !Number.isFinite(v));
  if (firstBad >= 0) {
    throw new MtlError('INVALID_DATA', `x has a non-finite value (${x[firstBad]}) in example ${Math.floor(firstBad / perExample)}`, {
      what: 'x',
      example: Math.floor(firstBad / perExample),
      value: x[firstBad],
    });
  }
  const targets: Record<string, TargetValues> = {};
  const targetSizes: Record<string, number> = {};
  const names = Object.keys(input.targets);
  if (names.length === 0) throw new MtlError('MISSING_TARGET', 'the dataset has no targets for any task', {});
  for (const name of names) {
    const raw = input.targets[name]!;
    const values = raw instanceof Float32Array || raw instanceof Int32Array ? raw : Float32Array.from(raw);
    if (values.length === 0 || values.length % size !== 0) {
      throw new MtlError('SHAPE_MISMATCH', `targets of task "${name}" have ${values.length} numbers for ${size} examples`, {
        task: name,
        length: values.length,
        examples: size,
      });
    }
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new MtlError('INVALID_DATA', `targets of task "${name}" have a non-finite value at example ${Math.floor(bad / (values.length / size))}`, {
        task: name,
        example: Math.floor(bad / (values.length / size)),
      });
    }
    targets[name] = values;
    targetSizes[name] = values.length / size;
  }
  return {
    size,
    inputShape,
    targetSizes,
    gather(indices) {
      const n = indices.length;
      const bx = new Float32Array(n * perExample);
      const bt: Record<string, TargetValues> = {};
      for (const name of names) {
        const k = targetSizes[name]!;
        const src = targets[name]!;
        bt[name] = src instanceof Int32Array ? new Int32Array(n * k) : new Float32Array(n * k);
      }
      for (let i = 0; i < n; i++) {
        const j = indices[i]!;
        bx.set(x.subarray(j * perExample, (j + 1) * perExample), i * perExample);
        for (const name of names) {
          const k = targetSizes[name]!;
          bt[name]!.set(targets[name]!.subarray(j * k, (j + 1) * k), i * k);
        }
      }
      return { size: n, x: bx, targets: bt };
    },
  };
}

/**
 * Checks that a dataset fits a model's input and the tasks: input shape, a target for every task,
 * and targets that match each task (labels are integers in range). Scans the data once.
 */
export function validateDataset(dataset: MultiTaskDataset, tasks: readonly Task[], inputShape: readonly number[], what = 'dataset'): void {
  if (!dataset || dataset.size < 1) throw new MtlError('EMPTY_DATA', `${what} has no examples`, { what });
  if (dataset.inputShape.length !== inputShape.length || dataset.inputShape.some((d, i) => d !== inputShape[i])) {
    throw new MtlError('SHAPE_MISMATCH', `${what} examples have shape [${dataset.inputShape.join(', ')}], the model expects [${inputShape.join(', ')}]`, {
      what,
      expected: inputShape,
      actual: dataset.inputShape,
    });
  }
  for (const task of tasks) {
    const size = dataset.targetSizes[task.name];
    if (size === undefined) {
      throw new MtlError('MISSING_TARGET', `${what} has no targets for task "${task.name}" (it has: ${Object.keys(dataset.targetSizes).join(', ')})`, {
        what,
        task: task.name,
      });
    }
    const expected = task.target.kind === 'real' ? task.target.shape.reduce((a, b) => a * b, 1) : 1;
    if (size !== expected) {
      throw new MtlError('SHAPE_MISMATCH', `${what}: task "${task.name}" needs ${expected} target number(s) per example, the data has ${size}`, {
        what,
        task: task.name,
        expected,
        actual: size,
      });
    }
  }
  // Inputs and label ranges: scan in chunks so huge datasets stay memory-bounded.
  const chunk = 4096;
  const perExample = inputShape.reduce((a, b) => a * b, 1);
  for (let start = 0; start < dataset.size; start += chunk) {
    const indices = Array.from({ length: Math.min(chunk, dataset.size - start) }, (_, i) => start + i);
    const raw = dataset.gather(indices);
    checkGathered(raw, indices.length, inputShape, tasks, what);
    const bad = findNonFinite(raw.x);
    if (bad >= 0) throw nonFiniteInput(what, start + Math.floor(bad / perExample), raw.x[bad]!);
    for (const task of tasks) checkTargets(task, raw.targets[task.name]!, start, what);
  }
}

/**
 * Checks what a dataset's `gather` returned for `count` indices: a batch of `count` examples, `x`
 * with `count × prod(inputShape)` numbers and, for each task, `count ×` its target size numbers.
 * Costs a few comparisons per batch (no scan of the values), so the trainer runs it on every batch:
 * a custom dataset with a wrong length is a typed error naming it, not a tfjs shape error mid-step.
 */
export function checkGathered(raw: RawBatch, count: number, inputShape: readonly number[], tasks: readonly Task[], what: string): void {
  const perExample = inputShape.reduce((a, b) => a * b, 1);
  const mismatch = (field: string, expected: number, actual: unknown): never => {
    throw new MtlError('SHAPE_MISMATCH', `${what}: gather() of ${count} examples returned ${field} with ${describeLength(actual)}, expected ${expected}`, {
      what,
      field,
      expected,
      actual: typeof actual === 'number' ? actual : undefined,
    });
  };
  if (!raw || typeof raw !== 'object') {
    throw new MtlError('INVALID_DATA', `${what}: gather() returned ${raw === null ? 'null' : typeof raw}, not { size, x, targets }`, { what });
  }
  if (raw.size !== count) mismatch('size', count, raw.size);
  if (!isNumberArray(raw.x)) throw new MtlError('INVALID_DATA', `${what}: gather() returned x that is not a Float32Array or array of numbers`, { what, field: 'x' });
  if (raw.x.length !== count * perExample) mismatch(`x (examples of shape [${inputShape.join(', ')}])`, count * perExample, raw.x.length);
  for (const task of tasks) {
    const values = raw.targets?.[task.name];
    if (!values) throw new MtlError('MISSING_TARGET', `${what}: gather() returned no targets for task "${task.name}"`, { what, task: task.name });
    if (!isNumberArray(values)) throw new MtlError('INVALID_DATA', `${what}: gather() returned targets of task "${task.name}" that are not a typed array of numbers`, { what, task: task.name });
    const expected = count * targetSize(task);
    if (values.length !== expected) mismatch(`targets of task "${task.name}"`, expected, values.length);
  }
}

/** Numbers per example of a task's target (1 for labels). */
function targetSize(task: Task): number {
  return task.target.kind === 'real' ? task.target.shape.reduce((a, b) => a * b, 1) : 1;
}

function isNumberArray(value: unknown): value is ArrayLike<number> {
  return ArrayBuffer.isView(value) || Array.isArray(value);
}

function describeLength(value: unknown): string {
  return typeof value === 'number' ? `${value} numbers` : `${value === undefined ? 'no' : 'invalid'} length`;
}


function checkTargets(task: Task, values: TargetValues, offset: number, what: string): void {
  const spec = task.target;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const ok =
      spec.kind === 'class'
        ? Number.isInteger(v) && v >= 0 && v < spec.classes
        : spec.kind === 'binary'
          ? v === 0 || v === 1
          : Number.isFinite(v);
    if (!ok) {
      const expected = spec.kind === 'class' ? `an integer label in [0, ${spec.classes})` : spec.kind === 'binary' ? '0 or 1' : 'a finite number';
      throw new MtlError('INVALID_DATA', `${what}: task "${task.name}" target ${v} at example ${offset + i} is not ${expected}`, {
        what,
        task: task.name,
        example: offset + i,
        value: v,
      });
    }
  }
}

/** Turns gathered arrays into tensors shaped for the model. */
export function toBatch(raw: RawBatch, inputShape: readonly number[], tasks: readonly Task[]): Batch {
  return tf.tidy(() => {
    const x = tf.tensor(raw.x, [raw.size, ...inputShape], 'float32');
    const targets: Record<string, tf.Tensor> = {};
    for (const task of tasks) {
      const values = raw.targets[task.name];
      if (!values) throw new MtlError('MISSING_TARGET', `batch has no targets for task "${task.name}"`, { task: task.name });
      const perExample = values.length / raw.size;
      targets[task.name] =
        task.target.kind === 'class' ? tf.tensor1d(Int32Array.from(values), 'int32') : tf.tensor(values, perExample === 1 ? [raw.size] : [raw.size, perExample], 'float32');
    }
    return { size: raw.size, x, targets };
  });
}

export function disposeBatch(batch: Batch): void {
  batch.x.dispose();
  for (const t of Object.values(batch.targets)) t.dispose();
}

/**
 * An endless stream of shuffled mini-batches: a fresh seeded permutation each epoch. Its position
 * (epoch, index in the epoch) and the RNG state are all a checkpoint needs to resume it.
 */
export class BatchSchedule {
  private order: Int32Array;
  private position = 0;

  constructor(
    readonly size: number,
    readonly batchSize: number,
    private readonly rng: SeededRandom,
    private readonly options: { shuffle?: boolean; dropLast?: boolean } = {},
  ) {
    requirePositiveInteger('batchSize', batchSize);
    if (size < 1) throw new MtlError('EMPTY_DATA', 'cannot batch an empty dataset', {});
    if (options.dropLast && batchSize > size) invalidOption('batchSize', batchSize, `at most the dataset size (${size}) when dropLast is set`);
    this.order = this.newOrder();
  }

  get batchesPerEpoch(): number {
    return this.options.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  /** Indices of the next batch, its index within the epoch, and whether it ends the epoch. */
  next(): { indices: Int32Array; batchIndex: number; endsEpoch: boolean } {
    const batchIndex = Math.floor(this.position / this.batchSize);
    const end = Math.min(this.position + this.batchSize, this.size);
    const indices = this.order.slice(this.position, end);
    this.position = end;
    const remaining = this.size - this.position;
    const endsEpoch = remaining === 0 || (this.options.dropLast === true && remaining < this.batchSize);
    if (endsEpoch) {
      this.position = 0;
      this.order = this.newOrder();
    }
    return { indices, batchIndex, endsEpoch };
  }

  private newOrder(): Int32Array {
    if (this.options.shuffle === false) return Int32Array.from({ length: this.size }, (_, i) => i);
    return this.rng.permutation(this.size);
  }

  /**
   * Throws CHECKPOINT unless `state` is a schedule state for a dataset of `size` examples: `order` a
   * permutation of 0..size-1 and `position` inside it (an index out of range would train on zero rows).
   */
  static checkState(state: unknown, size: number): asserts state is { position: number; order: readonly number[] } {
    const s = state as { position?: unknown; order?: unknown } | null;
    const fail = (problem: string, details: Record<string, unknown> = {}): never => {
      throw new MtlError('CHECKPOINT', `the checkpoint's batch order ${problem}`, { size, ...details });
    };
    if (!s || typeof s !== 'object' || !Array.isArray(s.order)) return fail('is missing');
    const order = s.order as unknown[];
    if (order.length !== size) fail(`has ${order.length} entries, the dataset ${size} examples`, { expected: size, actual: order.length });
    const seen = new Uint8Array(size);
    order.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= size || seen[v]) fail(`is not a permutation of the ${size} examples (entry ${i} is ${JSON.stringify(v)})`, { entry: i, value: v });
      seen[v as number] = 1;
    });
    if (typeof s.position !== 'number' || !Number.isInteger(s.position) || s.position < 0 || s.position >= size) fail(`position ${JSON.stringify(s.position)} is outside [0, ${size})`, { position: s.position });
  }

  getState(): { position: number; order: number[] } {
    return { position: this.position, order: Array.from(this.order) };
  }

  setState(state: { position: number; order: readonly number[] }): void {
    BatchSchedule.checkState(state, this.size);
    this.order = Int32Array.from(state.order);
    this.position = state.position;
  }
}
