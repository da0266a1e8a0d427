import { tf } from '@mtl/core';

/**
 * Scales gradients so their global L2 norm is at most `maxNorm`, as PyTorch's `clip_grad_norm_`
 * (the authors clip every weight step at 5): factor maxNorm / (norm + 1e-6) when that is below 1.
 * Returns new tensors (call inside `tf.tidy`) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  const values = [...grads.values()];
  if (values.length === 0 || !Number.isFinite(maxNorm)) return { grads: new Map(grads), norm: Number.NaN };
  const norm = Math.sqrt(tf.addN(values.map((g) => tf.sum(tf.square(g)))).dataSync()[0]!);
  const factor = maxNorm / (norm + 1e-6);
  if (!(factor < 1)) return { grads: new Map(grads), norm };
  const out = new Map<string, tf.Tensor>();
  for (const [key, g] of grads) out.set(key, tf.mul(g, factor));
  return { grads: out, norm };
}
