import { tf } from '../tf.js';
import type { SeededRandom } from '../random.js';
import type { Module, ParameterFactory } from './model.js';
import type { Parameter } from '../parameters.js';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'linear';

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
  apply(x: tf.Tensor): tf.Tensor;
}

export function denseLayer(make: ParameterFactory, rng: SeededRandom, key: string, inputs: number, units: number, activation: Activation, task?: string): Layer {
  const kernel = make(`${key}/kernel`, initialWeights(rng, [inputs, units], inputs, units, activation), task);
  const bias = make(`${key}/bias`, tf.zeros([units]), task);
  return {
    parameters: [kernel, bias],
    apply: (x) => activate(tf.add(tf.matMul(x, kernel.variable), bias.variable), activation),
  };
}

export function convLayer(
  make: ParameterFactory,
  rng: SeededRandom,
  key: string,
  inChannels: number,
  options: { filters: number; kernelSize: number; activation?: Activation; pool?: number },
  task?: string,
): Layer {
  const { filters, kernelSize } = options;
  const activation = options.activation ?? 'relu';
  const fanIn = kernelSize * kernelSize * inChannels;
  const kernel = make(`${key}/kernel`, initialWeights(rng, [kernelSize, kernelSize, inChannels, filters], fanIn, kernelSize * kernelSize * filters, activation), task);
  const bias = make(`${key}/bias`, tf.zeros([filters]), task);
  return {
    parameters: [kernel, bias],
    apply: (x) => {
      const y = activate(tf.add(tf.conv2d(x as tf.Tensor4D, kernel.variable as tf.Tensor4D, 1, 'valid'), bias.variable), activation);
      return options.pool && options.pool > 1 ? tf.maxPool(y as tf.Tensor4D, options.pool, options.pool, 'valid') : y;
    },
  };
}

/** Layers applied in order, as a module (the input `x` of the model is ignored). */
export function sequential(layers: readonly Layer[]): Module {
  return {
    parameters: layers.flatMap((l) => l.parameters),
    apply: (input) => layers.reduce((h, layer) => layer.apply(h), input),
  };
}

export function flattenLayer(): Layer {
  return { parameters: [], apply: (x) => tf.reshape(x, [x.shape[0], -1]) };
}
