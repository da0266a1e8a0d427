import { tf } from '../tf.js';
import { invalidOption, requireFiniteNumber, requirePositiveInteger } from '../errors.js';
import type { SeededRandom } from '../random.js';
import type { ApplyContext, BufferFactory, Module, ParameterFactory } from './model.js';
import type { Parameter } from '../parameters.js';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'linear';

/** The tasks using a layer's parameters: one task name, a list of tasks, or undefined (all tasks). */
export type LayerTasks = string | readonly string[] | undefined;

export function activate(x: tf.Tensor, activation: Activation): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.relu(x);
    case 'tanh':
      return tf.tanh(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'linear':
      return x;
  }
}

/**
 * Uniform initialisation from our seeded stream rather than tfjs's, so that weights are identical
 * on every backend for a given seed. Scale: He for ReLU, Glorot otherwise.
 */
export function initialWeights(rng: SeededRandom, shape: number[], fanIn: number, fanOut: number, activation: Activation): tf.Tensor {
  const limit = activation === 'relu' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = (2 * rng.next() - 1) * limit;
  return tf.tensor(values, shape, 'float32');
}

export interface Layer {
  readonly parameters: readonly Parameter[];
  /** Non-trainable state (BatchNorm running statistics). */
  readonly buffers?: readonly Parameter[];
  /** `context` absent: evaluation mode. */
  apply(x: tf.Tensor, context?: ApplyContext): tf.Tensor;
}

export function denseLayer(make: ParameterFactory, rng: SeededRandom, key: string, inputs: number, units: number, activation: Activation, task?: LayerTasks): Layer {
  const kernel = make(`${key}/kernel`, initialWeights(rng, [inputs, units], inputs, units, activation), task);
  const bias = make(`${key}/bias`, tf.zeros([units]), task);
  return {
    parameters: [kernel, bias],
    apply: (x) => activate(tf.add(tf.matMul(x, kernel.variable), bias.variable), activation),
  };
}

export interface ConvLayerOptions {
  readonly filters: number;
  readonly kernelSize: number;
  readonly activation?: Activation;
  /** Max-pool window (and stride) after the activation; 1 or absent: none. */
  readonly pool?: number;
  /** Stride of the convolution. Default 1. */
  readonly stride?: number;
  /** 'valid' (default, as LeNet) or 'same' (output size ⌈input / stride⌉, as tfjs/Keras). */
  readonly padding?: 'valid' | 'same';
  /** Add a bias. Default true (false before a BatchNorm, whose shift makes it redundant). */
  readonly bias?: boolean;
}

export function convLayer(make: ParameterFactory, rng: SeededRandom, key: string, inChannels: number, options: ConvLayerOptions, task?: LayerTasks): Layer {
  const { filters, kernelSize } = options;
  const activation = options.activation ?? 'relu';
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 'valid';
  if (padding !== 'valid' && padding !== 'same') invalidOption(`${key}.padding`, padding, "'valid' or 'same'");
  requirePositiveInteger(`${key}.stride`, stride);
  const fanIn = kernelSize * kernelSize * inChannels;
  const kernel = make(`${key}/kernel`, initialWeights(rng, [kernelSize, kernelSize, inChannels, filters], fanIn, kernelSize * kernelSize * filters, activation), task);
  const bias = options.bias === false ? undefined : make(`${key}/bias`, tf.zeros([filters]), task);
  return {
    parameters: bias ? [kernel, bias] : [kernel],
    apply: (x) => {
      const conv = tf.conv2d(x as tf.Tensor4D, kernel.variable as tf.Tensor4D, stride, padding);
      const y = activate(bias ? tf.add(conv, bias.variable) : conv, activation);
      return options.pool && options.pool > 1 ? tf.maxPool(y as tf.Tensor4D, options.pool, options.pool, 'valid') : y;
    },
  };
}

/** Spatial size after a convolution or pooling window. */
export function convOutputSize(size: number, kernelSize: number, stride: number, padding: 'valid' | 'same'): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - kernelSize) / stride) + 1;
}

export interface BatchNormOptions {
  /** Weight of the new batch in the running statistics (PyTorch's convention). Default 0.1. */
  readonly momentum?: number;
  /** Added to the variance. Default 1e-5 (PyTorch's). */
  readonly epsilon?: number;
}

/**
 * Batch normalisation over the last axis (features of a dense layer, channels of an image), as
 * PyTorch's `BatchNorm1d/2d`: training normalises with the batch's mean and biased variance and
 * moves the running statistics by `momentum` (the running variance takes the unbiased batch
 * variance); evaluation normalises with the running statistics. γ and β are parameters, the running
 * mean and variance buffers. The running statistics move at most once per model input (see
 * `ApplyContext.inputId`): per-task passes over one batch update them once, as one PyTorch forward.
 */
export function batchNormLayer(make: ParameterFactory, buffer: BufferFactory, key: string, features: number, options: BatchNormOptions = {}, task?: LayerTasks): Layer {
  const momentum = requireFiniteNumber(`${key}.momentum`, options.momentum ?? 0.1, { min: 0, max: 1 });
  const epsilon = requireFiniteNumber(`${key}.epsilon`, options.epsilon ?? 1e-5, { min: 0 });
  const gamma = make(`${key}/gamma`, tf.ones([features]), task);
  const beta = make(`${key}/beta`, tf.zeros([features]), task);
  const mean = buffer(`${key}/movingMean`, tf.zeros([features]), task);
  const variance = buffer(`${key}/movingVariance`, tf.ones([features]), task);
  let lastInput = -1;
  return {
    parameters: [gamma, beta],
    buffers: [mean, variance],
    apply: (x, context) => {
      if (!context?.training) return tf.batchNorm(x, mean.variable, variance.variable, beta.variable, gamma.variable, epsilon);
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      const moments = tf.moments(x, axes);
      if (context.inputId !== lastInput) {
        lastInput = context.inputId;
        const count = x.size / features;
        tf.tidy(() => {
          const unbiased = count > 1 ? tf.mul(moments.variance, count / (count - 1)) : moments.variance;
          mean.variable.assign(tf.add(tf.mul(mean.variable, 1 - momentum), tf.mul(moments.mean, momentum)));
          variance.variable.assign(tf.add(tf.mul(variance.variable, 1 - momentum), tf.mul(unbiased, momentum)));
        });
      }
      return tf.batchNorm(x, moments.mean, moments.variance, beta.variable, gamma.variable, epsilon);
    },
  };
}

/**
 * Inverted dropout: in training, each unit is zeroed with probability `rate` and the rest scaled by
 * 1 / (1 − rate); identity in evaluation. The mask is drawn from the pass's seed mixed with the
 * layer's key, so equal seeds give equal masks on every backend.
 */
export function dropoutLayer(key: string, rate: number): Layer {
  requireFiniteNumber(`${key}.rate`, rate, { min: 0, max: 1 });
  if (rate >= 1) invalidOption(`${key}.rate`, rate, 'a drop probability below 1');
  const salt = hashString(key);
  return {
    parameters: [],
    apply: (x, context) => {
      if (!context?.training || rate === 0) return x;
      const seed = mixSeeds(context.seed, salt);
      const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', seed), rate), 'float32');
      return tf.mul(x, tf.mul(keep, 1 / (1 - rate)));
    },
  };
}

/** Mean over the spatial axes: [batch, h, w, c] → [batch, c]. */
export function globalAveragePoolLayer(): Layer {
  return { parameters: [], apply: (x) => tf.mean(x, [1, 2]) };
}

export interface ResidualBlockOptions {
  readonly filters: number;
  /** Stride of the first convolution (and of the projection shortcut). Default 1. */
  readonly stride?: number;
  readonly batchNorm?: BatchNormOptions;
}

/**
 * ResNet's basic block (He et al., CVPR 2016): conv3x3(stride) → BN → ReLU → conv3x3 → BN, plus
 * the input (through a 1x1 conv + BN projection when the stride or channel count changes), then ReLU.
 * Convolutions use 'same' padding and no bias, as torchvision's.
 */
export function residualBlock(make: ParameterFactory, buffer: BufferFactory, rng: SeededRandom, key: string, inChannels: number, options: ResidualBlockOptions, task?: LayerTasks): Layer {
  const filters = requirePositiveInteger(`${key}.filters`, options.filters);
  const stride = requirePositiveInteger(`${key}.stride`, options.stride ?? 1);
  const conv1 = convLayer(make, rng, `${key}/conv1`, inChannels, { filters, kernelSize: 3, stride, padding: 'same', activation: 'linear', bias: false }, task);
  const bn1 = batchNormLayer(make, buffer, `${key}/bn1`, filters, options.batchNorm, task);
  const conv2 = convLayer(make, rng, `${key}/conv2`, filters, { filters, kernelSize: 3, padding: 'same', activation: 'linear', bias: false }, task);
  const bn2 = batchNormLayer(make, buffer, `${key}/bn2`, filters, options.batchNorm, task);
  const project = stride !== 1 || inChannels !== filters;
  const shortcut = project
    ? [
        convLayer(make, rng, `${key}/shortcut`, inChannels, { filters, kernelSize: 1, stride, padding: 'same', activation: 'linear', bias: false }, task),
        batchNormLayer(make, buffer, `${key}/shortcutBn`, filters, options.batchNorm, task),
      ]
    : [];
  const parts = [conv1, bn1, conv2, bn2, ...shortcut];
  return {
    parameters: parts.flatMap((l) => l.parameters),
    buffers: parts.flatMap((l) => l.buffers ?? []),
    apply: (x, context) => {
      const main = bn2.apply(conv2.apply(tf.relu(bn1.apply(conv1.apply(x, context), context)), context), context);
      const skip = shortcut.reduce((h, l) => l.apply(h, context), x);
      return tf.relu(tf.add(main, skip));
    },
  };
}

/** Layers applied in order, as a module (the input `x` of the model is ignored). */
export function sequential(layers: readonly Layer[]): Module {
  return {
    parameters: layers.flatMap((l) => l.parameters),
    buffers: layers.flatMap((l) => l.buffers ?? []),
    apply: (input, _x, context) => layers.reduce((h, layer) => layer.apply(h, context), input),
  };
}

export function flattenLayer(): Layer {
  return { parameters: [], apply: (x) => tf.reshape(x, [x.shape[0], -1]) };
}

/** FNV-1a of a string, as a 31-bit seed salt. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) & 0x7fffffff;
}

/** A 31-bit seed from two (murmur3's finaliser), so nearby seeds give unrelated masks. */
export function mixSeeds(a: number, b: number): number {
  let h = (Math.imul(a | 0, 0x9e3779b1) ^ b) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) & 0x7fffffff;
}
