import { tf } from '../tf.js';
import { SeededRandom } from '../random.js';
import { requireFiniteNumber, requirePositiveInteger, invalidOption } from '../errors.js';
import { ComposedModel, type Module, type MultiTaskModel } from '../models/model.js';
import { describeArchitecture } from '../models/describe.js';
import type { Parameter } from '../parameters.js';
import { mixExperts, outputLayer, expertSlices, resolveArchitecture, runLayers, sizeOf, type ArchitectureOptions } from './common.js';
import { expertNets } from './experts.js';

export interface DselectKOptions extends ArchitectureOptions {
  /** Shared experts (each the whole backbone). Default 4. */
  readonly experts?: number;
  /** k: experts each task selects (`num_nonzeros`). Default 2. */
  readonly selected?: number;
  /** γ of the smooth-step function (and of the selector initialisation). Default 1. */
  readonly gamma?: number;
}

/**
 * DSelect-k (Hazimeh, Zhao, Chowdhery, Sathiamoorthy, Chen, Mazumder, Hong, Chi, "DSelect-k:
 * Differentiable Selection in the Mixture of Experts with Applications to Multi-Task Learning",
 * NeurIPS 2021), as LibMTL's `DSelect_k`: per task, k selectors each a binary code of the expert
 * index through the smooth step S_γ(t) (0 below −γ/2, 1 above γ/2, −2t³/γ³ + 3t/(2γ) + 1/2 between),
 * r_i(e) = Π_j (S(z_ij) if bit j of e else 1 − S(z_ij)), mixed by softmax(w): α_e = Σ_i softmax(w)_i r_i(e);
 * z and w are linear in the flattened input (init U(−γ/100, γ/100) and U(−0.05, 0.05)). Differences
 * from LibMTL: γ is used in the smooth step too (LibMTL's forward uses γ = 1; the paper and the
 * official code use γ), and the entropy regulariser LibMTL backpropagates inside `forward` is not applied.
 */
export function dselectK(options: DselectKOptions): MultiTaskModel {
  const a = resolveArchitecture('dselect-k', options, ['experts', 'selected', 'gamma']);
  const n = requirePositiveInteger('experts', options.experts ?? 4);
  const k = requirePositiveInteger('selected', options.selected ?? 2);
  const gamma = requireFiniteNumber('gamma', options.gamma ?? 1, { min: 1e-6 });
  if (n < 2) invalidOption('experts', n, 'at least 2 experts');
  const bits = Math.ceil(Math.log2(n));
  // Bit j (most significant first, as numpy's binary_repr) of expert e's index.
  const codeBits = Float32Array.from({ length: n * bits }, (_, i) => (Math.floor(i / bits) >> (bits - 1 - (i % bits))) & 1);
  const inputSize = sizeOf(a.inputShape);
  return new ComposedModel(
    a.inputShape,
    (make, buffer) => {
      const context = { make, buffer, rng: new SeededRandom(a.seed) };
      const shared = expertNets(context, 'experts', n, a, undefined);
      const trunk: Module = {
        parameters: shared.flatMap((e) => e.layers.flatMap((l) => l.parameters)),
        buffers: shared.flatMap((e) => e.layers.flatMap((l) => l.buffers ?? [])),
        apply: (x, _x, ctx) => tf.stack(shared.map((e) => runLayers(e.layers, x, ctx)), 1),
      };
      const uniform = (shape: number[], limit: number) => {
        const size = shape.reduce((p, d) => p * d, 1);
        return tf.tensor(Float32Array.from({ length: size }, () => (2 * context.rng.next() - 1) * limit), shape);
      };
      const heads: Record<string, Module> = {};
      for (const task of a.tasks) {
        const t = task.name;
        const zKernel = make(`selectors/${t}/z/kernel`, uniform([inputSize, k * bits], gamma / 100), t);
        const zBias = make(`selectors/${t}/z/bias`, uniform([k * bits], gamma / 100), t);
        const wKernel = make(`selectors/${t}/w/kernel`, uniform([inputSize, k], 0.05), t);
        const wBias = make(`selectors/${t}/w/bias`, uniform([k], 0.05), t);
        const own: Parameter[] = [zKernel, zBias, wKernel, wBias];
        const out = outputLayer(context, task, shared[0]!.shapes.at(-1)!);
        heads[t] = {
          parameters: [...own, ...out.parameters],
          apply: (z, x) => {
            const flat = tf.reshape(x, [x.shape[0], -1]);
            const logits = tf.reshape(tf.add(tf.matMul(flat, zKernel.variable), zBias.variable), [-1, k, 1, bits]);
            const s = smoothStep(logits, gamma);
            const codes = tf.tensor2d(codeBits, [n, bits]);
            const complement = tf.tensor2d(codeBits.map((b) => 1 - b), [n, bits]);
            // [batch, k, n]: Π over bits of S or 1 − S by the expert's code.
            const factors = tf.add(tf.mul(codes, s), tf.mul(complement, tf.sub(tf.onesLike(s), s)));
            // A product over the bit axis by hand: tfjs's Prod has no working gradient.
            const selectors = tf.squeeze(tf.split(factors, bits, 3).reduce((p, f) => tf.mul(p, f)), [3]);
            const w = tf.softmax(tf.add(tf.matMul(flat, wKernel.variable), wBias.variable));
            const alpha = tf.sum(tf.mul(tf.expandDims(w, 2), selectors), 1);
            return out.apply(mixExperts(expertSlices(z), alpha));
          },
        };
      }
      return { trunk, heads };
    },
    { seed: a.seed, architecture: describeArchitecture('dselect-k', { ...options, seed: a.seed }) },
  );
}

/** DSelect-k's smooth step: the cubic on [−γ/2, γ/2] (0 and 1 at its ends), constant outside. */
export function smoothStep(t: tf.Tensor, gamma: number): tf.Tensor {
  const c = tf.clipByValue(t, -gamma / 2, gamma / 2);
  return tf.add(tf.add(tf.mul(tf.mul(c, tf.mul(c, c)), -2 / gamma ** 3), tf.mul(c, 3 / (2 * gamma))), 0.5);
}
