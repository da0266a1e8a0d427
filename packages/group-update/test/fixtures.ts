import { ComposedModel, SeededRandom, inMemoryDataset, regressionTask, tf, type MultiTaskDataset, type MultiTaskModel, type Task } from '@mtl/core';

/**
 * ŷ_t = h_t · w · x with scalars w (shared, `trunk/w`) and h_t (task t's head, `<t>/h`), all 1 at
 * the start: losses (h_t w x − y_t)² are easy to follow by hand.
 */
export function scalarModel(taskNames: readonly string[]): MultiTaskModel {
  return new ComposedModel([1], (make) => {
    const w = make('trunk/w', tf.tensor2d([[1]]));
    const heads = Object.fromEntries(
      taskNames.map((t) => {
        const h = make(`${t}/h`, tf.tensor2d([[1]]), t);
        return [t, { parameters: [h], apply: (z: tf.Tensor) => tf.matMul(z, h.variable) }];
      }),
    );
    return { trunk: { parameters: [w], apply: (x: tf.Tensor) => tf.matMul(x, w.variable) }, heads };
  });
}

/** One example x = 1 with the given targets. */
export function oneExample(targets: Readonly<Record<string, number>>): MultiTaskDataset {
  return inMemoryDataset({ x: [1], inputShape: [1], targets: Object.fromEntries(Object.entries(targets).map(([k, v]) => [k, [v]])) });
}

export const values = (model: MultiTaskModel): Record<string, number> =>
  Object.fromEntries(model.parameters.map((p) => [p.key, p.variable.dataSync()[0]!]));

/**
 * Two clusters of related regression tasks on x ~ N(0, I₈): a1, a2 regress on directions close to u,
 * b1, b2 on directions close to v ⊥ u. Through a one-unit linear trunk the clusters compete for the
 * single shared feature: a step for one cluster raises the other's loss, and helps its own.
 */
export function twoClusterProblem(seed = 3, size = 512): { tasks: Task[]; data: MultiTaskDataset; inputSize: number } {
  const rng = new SeededRandom(seed);
  const d = 8;
  const basis = (k: number) => Array.from({ length: d }, (_, i) => (i === k ? 1 : 0));
  const near = (base: number[]) => base.map((v) => v + 0.1 * rng.normal());
  const directions: Record<string, number[]> = { a1: near(basis(0)), a2: near(basis(0)), b1: near(basis(1)), b2: near(basis(1)) };
  const x = new Float32Array(size * d);
  const targets: Record<string, Float32Array> = Object.fromEntries(Object.keys(directions).map((t) => [t, new Float32Array(size)]));
  for (let n = 0; n < size; n++) {
    for (let i = 0; i < d; i++) x[n * d + i] = rng.normal();
    for (const [t, dir] of Object.entries(directions)) targets[t]![n] = dir.reduce((s, v, i) => s + v * x[n * d + i]!, 0) + 0.05 * rng.normal();
  }
  return { tasks: Object.keys(directions).map((t) => regressionTask(t)), data: inMemoryDataset({ x, inputShape: [d], targets }), inputSize: d };
}
