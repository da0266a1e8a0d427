import { tf } from '../tf.js';
import { MtlError, invalidOption, isArray, requirePositiveInteger } from '../errors.js';
import { unknownTask } from '../tasks.js';
import type { MultiTaskDataset } from '../data.js';
import type { MultiTaskModel } from './model.js';

export interface PredictOptions {
  /** Examples per forward pass. Default 256. */
  readonly batchSize?: number;
  /** Only these tasks' outputs. Default: every task of the model. */
  readonly tasks?: readonly string[];
}

/** Per task, one row of `outputSize` numbers per example (logits for classification tasks). */
export type Predictions = Record<string, number[][]>;

const PREDICT_KEYS = ['batchSize', 'tasks'];

/**
 * The model's outputs in evaluation mode (BatchNorm running statistics, no dropout), as plain
 * numbers: `predict(model, dataset)` over every example of a dataset, or `predict(model, x)` for
 * inputs given as a tensor `[n, ...inputShape]`, nested arrays, or a flat array of `n × inputSize`
 * numbers. No tensor is left behind.
 */
export function predict(model: MultiTaskModel, data: MultiTaskDataset | tf.Tensor | ArrayLike<number> | readonly unknown[], options: PredictOptions = {}): Predictions {
  for (const key of Object.keys(options)) if (!PREDICT_KEYS.includes(key)) invalidOption(key, (options as Record<string, unknown>)[key], `no such option of predict (options: ${PREDICT_KEYS.join(', ')})`);
  const batchSize = requirePositiveInteger('batchSize', options.batchSize ?? 256);
  const tasks = options.tasks ?? model.taskNames;
  if (!isArray(tasks)) invalidOption('tasks', tasks, 'an array of task names');
  for (const t of tasks) if (!model.taskNames.includes(t)) throw unknownTask(t, model.taskNames);
  const perExample = model.inputShape.reduce((a, b) => a * b, 1);
  const source = inputsOf(data, model.inputShape, perExample);
  const out: Predictions = Object.fromEntries(tasks.map((t) => [t, [] as number[][]]));
  try {
    for (let start = 0; start < source.size; start += batchSize) {
      const n = Math.min(batchSize, source.size - start);
      const outputs = tf.tidy(() => {
        const x = source.slice(start, n);
        const all = model.forward(x);
        return tasks.map((t) => tf.reshape(all[t]!, [n, -1]));
      });
      tasks.forEach((t, i) => {
        const rows = outputs[i]!.arraySync() as number[][];
        for (const row of rows) out[t]!.push(row);
      });
      tf.dispose(outputs);
    }
  } finally {
    source.dispose();
  }
  return out;
}

interface InputSource {
  readonly size: number;
  slice(start: number, count: number): tf.Tensor;
  dispose(): void;
}

function inputsOf(data: MultiTaskDataset | tf.Tensor | ArrayLike<number> | readonly unknown[], inputShape: readonly number[], perExample: number): InputSource {
  if (data instanceof tf.Tensor) {
    const expected = [data.shape[0], ...inputShape];
    if (data.rank !== inputShape.length + 1 || data.shape.slice(1).some((d, i) => d !== inputShape[i])) {
      throw new MtlError('SHAPE_MISMATCH', `predict: inputs have shape [${data.shape.join(', ')}], the model takes [n, ${inputShape.join(', ')}]`, { expected, actual: data.shape });
    }
    return { size: data.shape[0], slice: (start, count) => tf.slice(data, [start], [count]), dispose: () => undefined };
  }
  if (isDataset(data)) {
    if (data.inputShape.length !== inputShape.length || data.inputShape.some((d, i) => d !== inputShape[i])) {
      throw new MtlError('SHAPE_MISMATCH', `predict: the dataset's examples have shape [${data.inputShape.join(', ')}], the model takes [${inputShape.join(', ')}]`, {
        expected: inputShape,
        actual: data.inputShape,
      });
    }
    return {
      size: data.size,
      slice: (start, count) => tf.tensor(data.gather(Array.from({ length: count }, (_, i) => start + i)).x, [count, ...inputShape], 'float32'),
      dispose: () => undefined,
    };
  }
  const flat = flatten(data);
  if (flat.length % perExample !== 0 || flat.length === 0) {
    throw new MtlError('SHAPE_MISMATCH', `predict: ${flat.length} input numbers are not a whole number of examples of ${perExample} ([${inputShape.join(', ')}])`, {
      expected: perExample,
      actual: flat.length,
    });
  }
  const bad = flat.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new MtlError('INVALID_DATA', `predict: input number ${bad} is ${flat[bad]}`, { index: bad, value: flat[bad] });
  const size = flat.length / perExample;
  return { size, slice: (start, count) => tf.tensor(flat.subarray(start * perExample, (start + count) * perExample), [count, ...inputShape], 'float32'), dispose: () => undefined };
}

function isDataset(data: unknown): data is MultiTaskDataset {
  return typeof data === 'object' && data !== null && typeof (data as MultiTaskDataset).gather === 'function' && typeof (data as MultiTaskDataset).size === 'number';
}

function flatten(data: ArrayLike<number> | readonly unknown[]): Float32Array {
  if (data instanceof Float32Array) return data;
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'number') out.push(v);
    else if (isArray(v) || ArrayBuffer.isView(v)) for (const item of Array.from(v as ArrayLike<unknown>)) walk(item);
    else invalidOption('inputs', v, 'numbers, nested arrays of numbers, a tensor or a dataset');
  };
  walk(data);
  return Float32Array.from(out);
}
