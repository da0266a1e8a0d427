/**
 * The core benchmarks: one training step (or product) each, on whatever backend is active.
 * Shapes follow issue 5 (batch 256, MultiMNIST-like inputs, two 10-class tasks); the PyTorch
 * reference in bench/reference/bench.py builds the same models and steps.
 */
import {
  SeededRandom,
  classificationTask,
  computeTaskGradients,
  createGradientWorkersSync,
  hardSharingConv,
  hardSharingMlp,
  sgd,
  sharedGradientsFromDirection,
  tf,
  type Batch,
  type GradientSpace,
  type MultiTaskModel,
  type Task,
} from '../src/index.js';

export const BATCH = 256;

export interface BenchCase {
  readonly name: string;
  readonly description: string;
  /** Floating-point operations of one run, when well defined (products). */
  readonly flops?: number;
  /** Backends on which a step is too slow to measure in a bench run. */
  readonly skipOn?: Readonly<Record<string, string>>;
  /** Builds models and data; returns one step (synchronous: it reads a result back) and a cleanup. */
  setup(): { step: () => void; dispose: () => void };
}

const tasks: readonly Task[] = [classificationTask('left', { classes: 10 }), classificationTask('right', { classes: 10 })];
/** Four 10-class tasks: more independent backward passes per step. */
const fourTasks: readonly Task[] = ['t0', 't1', 't2', 't3'].map((name) => classificationTask(name, { classes: 10 }));

function randomBatch(inputShape: number[], seed: number, batchTasks: readonly Task[] = tasks): Batch {
  const rng = new SeededRandom(seed);
  const size = inputShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: BATCH * size }, () => rng.next());
  const label = () => Int32Array.from({ length: BATCH }, () => rng.int(10));
  return { size: BATCH, x: tf.tensor(x, [BATCH, ...inputShape]), targets: Object.fromEntries(batchTasks.map((t) => [t.name, tf.tensor1d(label(), 'int32')])) };
}

function disposeAll(batch: Batch, models: MultiTaskModel[]): void {
  tf.dispose([batch.x, ...Object.values(batch.targets)]);
  for (const m of models) m.dispose();
}

/**
 * The step of gradient-manipulation methods (MGDA, PCGrad, ...): per-task gradients of the shared
 * parameters (one backward per task) or of the shared representation, combined (here: summed) and
 * applied with SGD, together with each head's own gradient.
 */
function perTaskStep(model: MultiTaskModel, batch: Batch, space: GradientSpace, compute: typeof computeTaskGradients = computeTaskGradients, stepTasks: readonly Task[] = tasks): () => void {
  const optimizer = sgd(0.01);
  return () => {
    tf.tidy(() => {
      const g = compute(model, stepTasks, batch, space);
      const grads = new Map(sharedGradientsFromDirection(model, batch, g, tf.sum<tf.Tensor1D>(g.jacobian, 0)));
      for (const own of g.taskSpecific.values()) for (const [key, t] of own) grads.set(key, t);
      optimizer.apply(model.parameters, grads);
      g.losses.dataSync();
    });
  };
}

/** One SGD step on the summed task losses: a single backward pass. */
function summedLossStep(model: MultiTaskModel, batch: Batch): () => void {
  const optimizer = sgd(0.01);
  return () => {
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => {
        const z = model.represent(batch.x);
        return tf.addN<tf.Scalar>(tasks.map((t) => t.loss(model.head(t.name, z, batch.x), batch.targets[t.name]!)));
      }, model.parameters.map((p) => p.variable));
      optimizer.apply(model.parameters, new Map(model.parameters.map((p) => [p.key, grads[p.variable.name]!])));
      value.dataSync();
    });
  };
}

const mlp = (mlpTasks: readonly Task[] = tasks) => hardSharingMlp({ inputSize: 784, tasks: mlpTasks, trunk: [256, 128], seed: 1 });

/** The gradient workers' setup module is this file: its default export rebuilds the MLP in a worker. */
export default function workerSetup(args: unknown) {
  const mlpTasks = args === 4 ? fourTasks : tasks;
  return { model: mlp(mlpTasks), tasks: mlpTasks };
}

/** The per-task step with the tasks' backward passes shared between the main thread and one worker. */
function twoCoreCase(mlpTasks: readonly Task[], seed: number): { step: () => void; dispose: () => void } {
  const model = mlp(mlpTasks);
  const batch = randomBatch([784], seed, mlpTasks);
  const workers = createGradientWorkersSync({ setupModule: new URL(import.meta.url), setupArgs: mlpTasks.length, model, tasks: mlpTasks, workers: 1 });
  const step = perTaskStep(model, batch, 'parameters', (m, t, b) => workers.compute(m, t, b), mlpTasks);
  return {
    step,
    dispose: () => {
      void workers.close();
      disposeAll(batch, [model]);
    },
  };
}
const lenet = () => hardSharingConv({ inputShape: [36, 36, 1], tasks, seed: 1 });

export const CASES: readonly BenchCase[] = [
  {
    name: 'matmul512',
    description: '512x512 by 512x512 float32 product',
    flops: 2 * 512 ** 3,
    setup() {
      const rng = new SeededRandom(1);
      const [a, b] = [0, 1].map(() => tf.tensor(Float32Array.from({ length: 512 * 512 }, () => rng.next()), [512, 512]));
      return {
        step: () => tf.tidy(() => void tf.matMul(a!, b!).dataSync()),
        dispose: () => tf.dispose([a!, b!]),
      };
    },
  },
  {
    name: 'mlp-per-task',
    description: 'MLP 784-256-128 + 2 heads: per-task parameter gradients + SGD',
    setup() {
      const model = mlp();
      const batch = randomBatch([784], 2);
      return { step: perTaskStep(model, batch, 'parameters'), dispose: () => disposeAll(batch, [model]) };
    },
  },
  {
    name: 'mlp-per-task-2cores',
    description: 'mlp-per-task with one task backward pass in a worker thread (createGradientWorkers, 1 worker)',
    setup: () => twoCoreCase(tasks, 2),
  },
  {
    name: 'mlp-per-task-4',
    description: 'MLP 784-256-128 + 4 heads: per-task parameter gradients + SGD',
    setup() {
      const model = mlp(fourTasks);
      const batch = randomBatch([784], 6, fourTasks);
      return { step: perTaskStep(model, batch, 'parameters', computeTaskGradients, fourTasks), dispose: () => disposeAll(batch, [model]) };
    },
  },
  {
    name: 'mlp-per-task-4-2cores',
    description: 'mlp-per-task-4 with two of the four backward passes in a worker thread',
    setup: () => twoCoreCase(fourTasks, 6),
  },
  {
    name: 'lenet',
    description: 'LeNet (conv 5x5x10, pool, conv 5x5x20, pool, dense 50) on 36x36x1 + 2 heads: per-task parameter gradients + SGD',
    skipOn: { cpu: 'a step takes about a minute on the pure-JS backend' },
    setup() {
      const model = lenet();
      const batch = randomBatch([36, 36, 1], 3);
      return { step: perTaskStep(model, batch, 'parameters'), dispose: () => disposeAll(batch, [model]) };
    },
  },
  {
    name: 'mlp-rep-grad',
    description: 'MLP 784-256-128 + 2 heads: per-task gradients w.r.t. the shared representation + SGD',
    setup() {
      const model = mlp();
      const batch = randomBatch([784], 4);
      return { step: perTaskStep(model, batch, 'representation'), dispose: () => disposeAll(batch, [model]) };
    },
  },
  {
    name: 'branches-2',
    description: 'ForkMerge-like: two clones of the MLP each take one summed-loss SGD step (serially)',
    setup() {
      const base = mlp();
      const branches = [base.clone(), base.clone()];
      const batch = randomBatch([784], 5);
      const steps = branches.map((m) => summedLossStep(m, batch));
      return {
        step: () => steps.forEach((s) => s()),
        dispose: () => disposeAll(batch, [base, ...branches]),
      };
    },
  },
];
