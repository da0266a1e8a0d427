import { tf } from '../tf.js';
import { MtlError, describeValue, invalidOption, isArray, requirePositiveInteger } from '../errors.js';
import type { SeededRandom } from '../random.js';
import type { BufferFactory, ParameterFactory } from './model.js';
import {
  batchNormLayer,
  convLayer,
  convOutputSize,
  denseLayer,
  dropoutLayer,
  flattenLayer,
  globalAveragePoolLayer,
  residualBlock,
  activate,
  type Activation,
  type Layer,
  type LayerTasks,
} from './layers.js';

/**
 * A layer as plain JSON, so an architecture can be written next to its weights and rebuilt
 * (`saveModel` / `loadModel`). Shapes are per example (no batch axis); images are [h, w, c].
 */
export type LayerSpec =
  | { readonly type: 'dense'; readonly units: number; readonly activation?: Activation }
  | {
      readonly type: 'conv';
      readonly filters: number;
      readonly kernelSize: number;
      readonly stride?: number;
      readonly padding?: 'valid' | 'same';
      readonly activation?: Activation;
      readonly bias?: boolean;
      /** Max-pool window after the activation. */
      readonly pool?: number;
    }
  | { readonly type: 'maxPool'; readonly size: number }
  | { readonly type: 'batchNorm'; readonly momentum?: number; readonly epsilon?: number }
  | { readonly type: 'dropout'; readonly rate: number }
  | { readonly type: 'residual'; readonly filters: number; readonly stride?: number }
  | { readonly type: 'globalAveragePool' }
  | { readonly type: 'flatten' }
  | { readonly type: 'activation'; readonly activation: Activation };

const KEYS: Readonly<Record<LayerSpec['type'], readonly string[]>> = {
  dense: ['units', 'activation'],
  conv: ['filters', 'kernelSize', 'stride', 'padding', 'activation', 'bias', 'pool'],
  maxPool: ['size'],
  batchNorm: ['momentum', 'epsilon'],
  dropout: ['rate'],
  residual: ['filters', 'stride'],
  globalAveragePool: [],
  flatten: [],
  activation: ['activation'],
};

const ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid', 'linear'];

/** What building a layer stack needs: the model's factories and the seeded initialisation stream. */
export interface LayerBuildContext {
  readonly make: ParameterFactory;
  readonly buffer: BufferFactory;
  readonly rng: SeededRandom;
}

/**
 * Builds `specs` in order from an input of `inputShape` (per example), checking each layer fits the
 * shape it receives (SHAPE_MISMATCH / INVALID_OPTION naming `where[i]` otherwise). Parameter keys are
 * `${prefix}/${type}${i}/...`.
 */
export function buildLayers(
  context: LayerBuildContext,
  prefix: string,
  inputShape: readonly number[],
  specs: readonly LayerSpec[],
  tasks: LayerTasks,
  where = prefix,
): { layers: Layer[]; outputShape: number[] } {
  if (!isArray(specs)) invalidOption(`${where}`, specs, 'an array of layer specs');
  let shape = [...inputShape];
  const layers: Layer[] = [];
  specs.forEach((spec, i) => {
    const at = `${where}[${i}]`;
    checkSpec(spec, at);
    const key = `${prefix}/${spec.type}${i}`;
    const { make, buffer, rng } = context;
    switch (spec.type) {
      case 'dense': {
        requireRank(shape, 1, at, "add { type: 'flatten' } or { type: 'globalAveragePool' } first");
        const units = requirePositiveInteger(`${at}.units`, spec.units);
        layers.push(denseLayer(make, rng, key, shape[0]!, units, activation(spec.activation, 'relu', at), tasks));
        shape = [units];
        break;
      }
      case 'conv': {
        requireRank(shape, 3, at, 'a conv layer takes [height, width, channels] features');
        const filters = requirePositiveInteger(`${at}.filters`, spec.filters);
        const kernelSize = requirePositiveInteger(`${at}.kernelSize`, spec.kernelSize);
        const stride = requirePositiveInteger(`${at}.stride`, spec.stride ?? 1);
        const padding = spec.padding ?? 'valid';
        if (padding !== 'valid' && padding !== 'same') invalidOption(`${at}.padding`, padding, "'valid' or 'same'");
        const pool = requirePositiveInteger(`${at}.pool`, spec.pool ?? 1);
        let h = convOutputSize(shape[0]!, kernelSize, stride, padding);
        let w = convOutputSize(shape[1]!, kernelSize, stride, padding);
        h = Math.floor(h / pool);
        w = Math.floor(w / pool);
        if (h < 1 || w < 1) throw tooSmall(at, shape, [h, w]);
        const options = { filters, kernelSize, stride, padding, activation: activation(spec.activation, 'relu', at), pool, ...(spec.bias === false ? { bias: false } : {}) };
        layers.push(convLayer(make, rng, key, shape[2]!, options, tasks));
        shape = [h, w, filters];
        break;
      }
      case 'maxPool': {
        requireRank(shape, 3, at, 'pooling takes [height, width, channels] features');
        const size = requirePositiveInteger(`${at}.size`, spec.size);
        const [h, w] = [Math.floor(shape[0]! / size), Math.floor(shape[1]! / size)];
        if (h < 1 || w < 1) throw tooSmall(at, shape, [h, w]);
        layers.push({ parameters: [], apply: (x) => tf.maxPool(x as tf.Tensor4D, size, size, 'valid') });
        shape = [h, w, shape[2]!];
        break;
      }
      case 'batchNorm': {
        const options = { ...(spec.momentum !== undefined ? { momentum: spec.momentum } : {}), ...(spec.epsilon !== undefined ? { epsilon: spec.epsilon } : {}) };
        layers.push(batchNormLayer(make, buffer, key, shape.at(-1)!, options, tasks));
        break;
      }
      case 'dropout':
        layers.push(dropoutLayer(key, spec.rate));
        break;
      case 'residual': {
        requireRank(shape, 3, at, 'a residual block takes [height, width, channels] features');
        const filters = requirePositiveInteger(`${at}.filters`, spec.filters);
        const stride = requirePositiveInteger(`${at}.stride`, spec.stride ?? 1);
        layers.push(residualBlock(make, buffer, rng, key, shape[2]!, { filters, stride }, tasks));
        shape = [Math.ceil(shape[0]! / stride), Math.ceil(shape[1]! / stride), filters];
        break;
      }
      case 'globalAveragePool':
        requireRank(shape, 3, at, 'global average pooling takes [height, width, channels] features');
        layers.push(globalAveragePoolLayer());
        shape = [shape[2]!];
        break;
      case 'flatten':
        layers.push(flattenLayer());
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'activation': {
        const fn = activation(spec.activation, undefined, at);
        layers.push({ parameters: [], apply: (x) => activate(x, fn) });
        break;
      }
    }
  });
  return { layers, outputShape: shape };
}

function checkSpec(spec: LayerSpec, at: string): void {
  if (typeof spec !== 'object' || spec === null || !(spec.type in KEYS)) {
    invalidOption(`${at}.type`, (spec as { type?: unknown } | null)?.type, `one of ${Object.keys(KEYS).join(', ')}`);
  }
  const allowed = KEYS[spec.type];
  for (const key of Object.keys(spec)) {
    if (key !== 'type' && !allowed.includes(key)) invalidOption(`${at}.${key}`, (spec as unknown as Record<string, unknown>)[key], `no such option of a ${spec.type} layer (options: ${allowed.join(', ') || 'none'})`);
  }
}

function activation(value: Activation | undefined, fallback: Activation | undefined, at: string): Activation {
  const a = value ?? fallback;
  if (a === undefined || !ACTIVATIONS.includes(a)) invalidOption(`${at}.activation`, value, `one of ${ACTIVATIONS.join(', ')}`);
  return a;
}

function requireRank(shape: readonly number[], rank: number, at: string, hint: string): void {
  if (shape.length !== rank) {
    throw new MtlError('SHAPE_MISMATCH', `${at} receives features of shape [${shape.join(', ')}]; ${hint}`, { layer: at, actual: shape, expectedRank: rank });
  }
}

function tooSmall(at: string, shape: readonly number[], out: readonly number[]): MtlError {
  return new MtlError('SHAPE_MISMATCH', `${at} does not fit features of shape [${shape.join(', ')}] (its output would be ${out.join('x')})`, {
    layer: at,
    actual: shape,
    value: describeValue(out),
  });
}
