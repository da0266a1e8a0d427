import { ComposedModel, SeededRandom, TrainingStepContext, inMemoryDataset, regressionTask, tf, toBatch, type Batch, type MultiTaskDataset, type MultiTaskModel, type Optimizer, type Task } from '@mtl/core';

export { backend } from './setup.js';

/**
 * ŷ_t = h_t · w · x with scalars w (shared, `trunk/w`) and h_t (task t's head): the losses
 * mean_n (h_t w x_n − y_tn)² are easy to differentiate by hand.
 */
export function scalarModel(heads: Readonly<Record<string, number>>, w = 1): MultiTaskModel {
  return new ComposedModel([1], (make) => {
    const shared = make('trunk/w', tf.tensor2d([[w]]));
    const modules = Object.fromEntries(
      Object.entries(heads).map(([t, h]) => {
        const p = make(`${t}/h`, tf.tensor2d([[h]]), t);
        return [t, { parameters: [p], apply: (z: tf.Tensor) => tf.matMul(z, p.variable) }];
      }),
    );
    return { trunk: { parameters: [shared], apply: (x: tf.Tensor) => tf.matMul(x, shared.variable) }, heads: modules };
  });
}

/**
 * A linear trunk z = W x (W: 8 → 4, small seeded init) and linear heads that all start at the same
 * vector, on x ~ N(0, I₈). Cluster A (a1, a2) regresses on directions near u, cluster B (b1, b2) on
 * directions near −u: within a cluster the tasks want the same trunk, across clusters opposite ones.
 * Per-task gradients are 2 h (Wᵀh − w_t)ᵀ, so ⟨g_i, g_j⟩ ≈ 4|h|² w_i·w_j: positive within, negative across.
 */
export function conflictingClusters(seed = 3, size = 256): { tasks: Task[]; data: MultiTaskDataset; model: () => MultiTaskModel } {
  const rng = new SeededRandom(seed);
  const d = 8;
  const k = 4;
  const u = Array.from({ length: d }, () => rng.normal());
  const near = (sign: number) => u.map((v) => sign * v + 0.3 * rng.normal());
  const directions: Record<string, number[]> = { a1: near(1), a2: near(1), b1: near(-1), b2: near(-1) };
  const x = new Float32Array(size * d);
  const targets: Record<string, Float32Array> = Object.fromEntries(Object.keys(directions).map((t) => [t, new Float32Array(size)]));
  for (let n = 0; n < size; n++) {
    for (let i = 0; i < d; i++) x[n * d + i] = rng.normal();
    for (const [t, dir] of Object.entries(directions)) targets[t]![n] = dir.reduce((s, v, i) => s + v * x[n * d + i]!, 0) + 0.05 * rng.normal();
  }
  const trunk = Array.from({ length: d * k }, () => 0.05 * rng.normal());
  const head = Array.from({ length: k }, () => 0.5);
  const model = () =>
    new ComposedModel([d], (make) => {
      const W = make('trunk/W', tf.tensor2d(trunk, [d, k]));
      const heads = Object.fromEntries(
        Object.keys(directions).map((t) => {
          const h = make(`${t}/h`, tf.tensor2d(head, [k, 1]), t);
          return [t, { parameters: [h], apply: (z: tf.Tensor) => tf.matMul(z, h.variable) }];
        }),
      );
      return { trunk: { parameters: [W], apply: (input: tf.Tensor) => tf.matMul(input, W.variable) }, heads };
    });
  return { tasks: Object.keys(directions).map((t) => regressionTask(t)), data: inMemoryDataset({ x, inputShape: [d], targets }), model };
}

/** A step context on `indices` of `data`, as the trainer builds one (call inside tf.tidy; dispose the batch). */
export function contextOn(
  model: MultiTaskModel,
  tasks: readonly Task[],
  data: MultiTaskDataset,
  optimizer: Optimizer,
  indices: number[],
  step = 0,
  frozen?: ReadonlySet<string>,
): { ctx: TrainingStepContext; batch: Batch } {
  const batch = toBatch(data.gather(Int32Array.from(indices)), model.inputShape, tasks);
  const ctx = new TrainingStepContext({ step, epoch: 0, model, tasks, batch, optimizer, random: new SeededRandom(step + 1), ...(frozen ? { frozen } : {}) });
  return { ctx, batch };
}

/** Every parameter's values, by key. */
export function parameterValues(model: MultiTaskModel): Record<string, number[]> {
  return Object.fromEntries(model.parameters.map((p) => [p.key, Array.from(p.variable.dataSync())]));
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
