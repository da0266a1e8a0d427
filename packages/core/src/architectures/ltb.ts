import { tf } from '../tf.js';
import { SeededRandom } from '../random.js';
import { requireFiniteNumber } from '../errors.js';
import { ComposedModel, type MultiTaskModel } from '../models/model.js';
import { describeArchitecture } from '../models/describe.js';
import { mixSeeds } from '../models/layers.js';
import { buildStages, mixedColumnsTrunk, resolveArchitecture, sliceHeads, type ArchitectureOptions } from './common.js';

export interface LtbOptions extends ArchitectureOptions {
  /** Gumbel-softmax temperature τ in training. Default 1. */
  readonly temperature?: number;
}

/**
 * Learning to Branch (Guo, Lee, Ulbricht, "Learning to Branch for Multi-Task Learning", ICML 2020),
 * as LibMTL's `LTB`: one copy of the backbone per task; the input of task t's stage i ≥ 1 is
 * Σ_j A[i][t][j] · (task j's stage i−1 output), A = one-hot hard Gumbel-softmax of the learnt logits
 * α[i][t] (straight-through gradient: the soft sample's). Evaluation takes the argmax branch without
 * noise. Differences from LibMTL: no epoch-based warm-up (all-ones A for the first 1% of epochs) and
 * a fixed temperature instead of τ = epochs / (20 √(epoch+1)); the noise comes from the pass's seed.
 * α starts at ones, as in LibMTL. All parameters are shared (they reach every task through A).
 */
export function ltb(options: LtbOptions): MultiTaskModel {
  const a = resolveArchitecture('ltb', options, ['temperature']);
  const tau = requireFiniteNumber('temperature', options.temperature ?? 1, { min: 1e-6 });
  const T = a.tasks.length;
  return new ComposedModel(
    a.inputShape,
    (make, buffer) => {
      const context = { make, buffer, rng: new SeededRandom(a.seed) };
      const columns = a.taskNames.map((t) => buildStages(context, `columns/${t}`, a.inputShape, a.stages, undefined));
      const logits = a.stages.slice(1).map((_, i) => make(`ltb/alpha${i}`, tf.ones([T, T])));
      const trunk = mixedColumnsTrunk(columns, logits, (i, ctx) => branchChoice(logits[i - 1]!.variable, tau, ctx?.training ? mixSeeds(ctx.seed, i) : undefined));
      const heads = sliceHeads(context, a.tasks, columns[0]!.shapes.at(-1)!);
      return { trunk, heads };
    },
    { seed: a.seed, architecture: describeArchitecture('ltb', { ...options, seed: a.seed }) },
  );
}

/**
 * Hard Gumbel-softmax over the last axis with the straight-through estimator (PyTorch's
 * `gumbel_softmax(hard=True)`): forward one-hot, backward the soft sample's gradient. Without a
 * seed (evaluation): one-hot of the argmax of the logits.
 */
function branchChoice(logits: tf.Tensor, tau: number, seed: number | undefined): tf.Tensor {
  const classes = logits.shape.at(-1)!;
  if (seed === undefined) return tf.cast(tf.oneHot(tf.argMax(logits, -1), classes), 'float32');
  const u = tf.randomUniform(logits.shape, 1e-10, 1, 'float32', seed);
  const gumbel = tf.neg(tf.log(tf.neg(tf.log(u))));
  const straightThrough = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const soft = args[0] as tf.Tensor;
    return { value: tf.cast(tf.oneHot(tf.argMax(soft, -1), classes), 'float32'), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor] };
  });
  return straightThrough(tf.softmax(tf.div(tf.add(logits, gumbel), tau)));
}
