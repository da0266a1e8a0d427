import { tf } from '@mtl/core';

/** Flattens each feature map to [batch, n] and concatenates them: the shared representation z. */
export function concatFeatures(features: readonly tf.Tensor[]): tf.Tensor {
  const flat = features.map((f) => (f.shape.length === 2 ? f : tf.reshape(f, [f.shape[0], -1])));
  return flat.length === 1 ? flat[0]! : tf.concat(flat, 1);
}

/** Cuts feature `index` (shape `shapes[index]` per example) back out of z. */
export function sliceFeature(z: tf.Tensor, shapes: readonly (readonly number[])[], index: number): tf.Tensor {
  let offset = 0;
  for (let i = 0; i < index; i++) offset += shapes[i]!.reduce((a, b) => a * b, 1);
  const size = shapes[index]!.reduce((a, b) => a * b, 1);
  const flat = shapes.length === 1 ? z : tf.slice(z, [0, offset], [-1, size]);
  return shapes[index]!.length === 1 ? flat : tf.reshape(flat, [z.shape[0], ...shapes[index]!]);
}
