import { tf } from '../tf.js';
import { SeededRandom } from '../random.js';
import { invalidOption } from '../errors.js';
import { ComposedModel, type Module, type MultiTaskModel } from '../models/model.js';
import { describeArchitecture } from '../models/describe.js';
import { convLayer, denseLayer, type Layer } from '../models/layers.js';
import { buildStages, outputLayer, resolveArchitecture, runLayers, sizeOf, type ArchitectureOptions } from './common.js';

/**
 * Multi-Task Attention Network (Liu, Johns, Davison, "End-to-End Multi-Task Learning with
 * Attention", CVPR 2019), as LibMTL's `MTAN` on a staged backbone: the backbone is shared; each task
 * has a soft-attention module per stage, a_t^i = σ(f2(relu(f1([s_i, h(g_t^{i−1})])))) (f1, f2: 1x1
 * convolutions, or dense layers for vector features; at stage 0 the input is s_0 alone) and its
 * attended feature g_t^i = a_t^i ⊙ s_i, where h (a 3x3 conv + max-pool, or a dense layer) brings
 * g_t^{i−1} to stage i's shape. The task's output reads g_t at the last stage. Difference from
 * LibMTL: no BatchNorm inside the attention modules and the attention reads each stage's output
 * (LibMTL reads the first block of each ResNet layer too). z concatenates every stage's flattened
 * output, so the attention modules (task-specific parameters) sit in the heads.
 */
export function mtan(options: ArchitectureOptions): MultiTaskModel {
  const a = resolveArchitecture('mtan', options, []);
  return new ComposedModel(
    a.inputShape,
    (make, buffer) => {
      const context = { make, buffer, rng: new SeededRandom(a.seed) };
      const shared = buildStages(context, 'shared', a.inputShape, a.stages, undefined);
      const shapes = shared.shapes;
      const trunk: Module = {
        parameters: shared.layers.flatMap((l) => l.parameters),
        buffers: shared.layers.flatMap((l) => l.buffers ?? []),
        apply: (x, _x, ctx) => {
          const outs: tf.Tensor[] = [];
          let h = x;
          for (const stage of shared.stages) {
            h = runLayers(stage, h, ctx);
            outs.push(tf.reshape(h, [h.shape[0], -1]));
          }
          return tf.concat(outs, 1);
        },
      };
      const offsets = shapes.map((_, i) => shapes.slice(0, i).reduce((n, s) => n + sizeOf(s), 0));
      const heads: Record<string, Module> = {};
      for (const task of a.tasks) {
        const t = task.name;
        const attention = shapes.map((shape, i) => attentionModule(context, `attention/${t}/stage${i}`, shape, i === 0 ? 0 : shape.at(-1)!, t));
        const transfers = shapes.slice(1).map((shape, i) => transferLayer(context, `attention/${t}/transfer${i + 1}`, shapes[i]!, shape, t));
        const out = outputLayer(context, task, shapes.at(-1)!);
        const parts: Layer[] = [...attention, ...transfers, out];
        heads[t] = {
          parameters: parts.flatMap((l) => l.parameters),
          apply: (z) => {
            const feature = (i: number) => tf.reshape(tf.slice(z, [0, offsets[i]!], [-1, sizeOf(shapes[i]!)]), [z.shape[0], ...shapes[i]!]);
            let g: tf.Tensor | undefined;
            shapes.forEach((_, i) => {
              const s = feature(i);
              const input = g === undefined ? s : tf.concat([s, transfers[i - 1]!.apply(g)], -1);
              g = tf.mul(attention[i]!.apply(input), s);
            });
            return out.apply(g!);
          },
        };
      }
      return { trunk, heads };
    },
    { seed: a.seed, architecture: describeArchitecture('mtan', { ...options, seed: a.seed }) },
  );
}

/** σ(f2(relu(f1(input)))) with the channels (or width) of the stage; `extra` channels are concatenated in. */
function attentionModule(context: Parameters<typeof buildStages>[0], key: string, shape: readonly number[], extra: number, task: string): Layer {
  const { make, rng } = context;
  const width = shape.at(-1)!;
  const inputs = width + extra;
  const [f1, f2] =
    shape.length === 3
      ? [convLayer(make, rng, `${key}/conv0`, inputs, { filters: width, kernelSize: 1, activation: 'relu' }, task), convLayer(make, rng, `${key}/conv1`, width, { filters: width, kernelSize: 1, activation: 'sigmoid' }, task)]
      : [denseLayer(make, rng, `${key}/dense0`, inputs, width, 'relu', task), denseLayer(make, rng, `${key}/dense1`, width, width, 'sigmoid', task)];
  return { parameters: [...f1.parameters, ...f2.parameters], apply: (x) => f2.apply(f1.apply(x)) };
}

/** Brings the previous stage's attended feature to this stage's shape (3x3 conv + pool, or dense). */
function transferLayer(context: Parameters<typeof buildStages>[0], key: string, from: readonly number[], to: readonly number[], task: string): Layer {
  const { make, rng } = context;
  if (to.length !== from.length) invalidOption('stages', key, 'stages whose features keep their rank (all images or all vectors) for MTAN');
  if (to.length === 1) return denseLayer(make, rng, `${key}/dense`, from[0]!, to[0]!, 'relu', task);
  const ratio = Math.floor(from[0]! / to[0]!);
  if (ratio < 1 || Math.floor(from[0]! / ratio) !== to[0] || Math.floor(from[1]! / ratio) !== to[1]) {
    invalidOption('stages', `${from.join('x')} → ${to.join('x')}`, 'MTAN stages that shrink the feature map by a whole factor');
  }
  return convLayer(make, rng, `${key}/conv`, from[2]!, { filters: to[2]!, kernelSize: 3, padding: 'same', activation: 'relu', pool: ratio }, task);
}
