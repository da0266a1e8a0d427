import { tf } from './tf.js';
import { MtlError, invalidOption, isArray, requirePositiveInteger } from './errors.js';
import { checkOptions, positiveInt, required } from './options.js';

/** How a task's targets look per example: class labels or real vectors. */
export type TargetSpec =
  | { readonly kind: 'class'; readonly classes: number }
  | { readonly kind: 'binary' }
  | { readonly kind: 'real'; readonly shape: readonly number[] };

/**
 * A metric that averages over examples, so batch values combine into an exact dataset value:
 * `evaluate` returns the **sum** over the batch; the caller divides by the number of examples.
 */
export interface Metric {
  readonly higherIsBetter: boolean;
  evaluate(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar;
}

export interface Task {
  readonly name: string;
  /** Size of the head's output per example (classes, 1 for binary, vector size for regression). */
  readonly outputSize: number;
  readonly target: TargetSpec;
  /** Mean loss over the batch. */
  loss(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar;
  readonly metrics: Readonly<Record<string, Metric>>;
}

const RESERVED_NAMES = new Set(['loss', 'total', '__proto__', 'constructor']);

export function validateTaskName(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name) || RESERVED_NAMES.has(name)) {
    invalidOption('task.name', name, 'a non-empty name of letters, digits, "_", "." or "-" (not "loss" or "total")');
  }
  return name;
}

/** Checks a task list: non-empty, unique valid names. */
export function validateTasks(tasks: readonly Task[]): readonly Task[] {
  if (!isArray(tasks) || tasks.length === 0) invalidOption('tasks', tasks, 'a non-empty array of tasks');
  const seen = new Set<string>();
  for (const task of tasks) {
    validateTaskName(task.name);
    if (seen.has(task.name)) invalidOption('tasks', task.name, 'tasks with unique names');
    seen.add(task.name);
  }
  return tasks;
}

export function findTask(tasks: readonly Task[], name: string): Task {
  const task = tasks.find((t) => t.name === name);
  if (!task) throw unknownTask(name, tasks.map((t) => t.name));
  return task;
}

export function unknownTask(name: string, known: readonly string[]): MtlError {
  return new MtlError('UNKNOWN_TASK', `unknown task "${name}"; known tasks: ${known.join(', ')}`, { task: name, known });
}

/** Softmax cross-entropy on integer labels; metrics: accuracy. */
export function classificationTask(name: string, options: { classes: number }): Task {
  validateTaskName(name);
  checkOptions(options, { classes: required(positiveInt) }, `classificationTask("${name}")`, `${name}.`);
  const classes = requirePositiveInteger(`${name}.classes`, options.classes);
  if (classes < 2) invalidOption(`${name}.classes`, classes, 'at least 2');
  return {
    name,
    outputSize: classes,
    target: { kind: 'class', classes },
    loss: (logits, labels) =>
      tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(oneHot(labels, classes), tf.logSoftmax(logits)), -1))) as tf.Scalar),
    metrics: {
      accuracy: {
        higherIsBetter: true,
        evaluate: (logits, labels) => tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), tf.cast(labels, 'int32')), 'float32'))),
      },
    },
  };
}

/** Sigmoid binary cross-entropy on 0/1 targets (one logit); metrics: accuracy. */
export function binaryTask(name: string): Task {
  validateTaskName(name);
  return {
    name,
    outputSize: 1,
    target: { kind: 'binary' },
    loss: (logits, targets) =>
      tf.tidy(() => {
        const z = tf.reshape(logits, [-1]);
        const y = tf.cast(tf.reshape(targets, [-1]), 'float32');
        // max(z,0) - z*y + log(1 + exp(-|z|)): stable for large |z|.
        return tf.mean(tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z))))));
      }),
    metrics: {
      accuracy: {
        higherIsBetter: true,
        evaluate: (logits, targets) =>
          tf.tidy(() =>
            tf.sum(tf.cast(tf.equal(tf.greater(tf.reshape(logits, [-1]), 0), tf.greater(tf.reshape(targets, [-1]), 0.5)), 'float32')),
          ),
      },
    },
  };
}

/** Mean squared error on real targets of `size` numbers; metrics: mse, mae. */
export function regressionTask(name: string, options: { size?: number } = {}): Task {
  validateTaskName(name);
  checkOptions(options, { size: positiveInt }, `regressionTask("${name}")`, `${name}.`);
  const size = requirePositiveInteger(`${name}.size`, options.size ?? 1);
  const perExample = (pred: tf.Tensor, target: tf.Tensor, f: (d: tf.Tensor) => tf.Tensor) =>
    tf.mean(f(tf.sub(tf.reshape(pred, [-1, size]), tf.reshape(target, [-1, size]))), -1);
  return {
    name,
    outputSize: size,
    target: { kind: 'real', shape: [size] },
    loss: (pred, target) => tf.tidy(() => tf.mean(perExample(pred, target, tf.square))),
    metrics: {
      mse: { higherIsBetter: false, evaluate: (p, t) => tf.tidy(() => tf.sum(perExample(p, t, tf.square))) },
      mae: { higherIsBetter: false, evaluate: (p, t) => tf.tidy(() => tf.sum(perExample(p, t, tf.abs))) },
    },
  };
}

function oneHot(labels: tf.Tensor, classes: number): tf.Tensor {
  return tf.oneHot(tf.cast(tf.reshape(labels, [-1]), 'int32'), classes);
}
