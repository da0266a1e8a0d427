import { MtlError, SeededRandom, buildLayers, convLayer, denseLayer, tf } from '@mtl/core';
import type { Activation, Layer, LayerSpec, Parameter, ParameterFactory } from '@mtl/core';
import { invalidOption, isArray, requirePositiveInteger } from '@mtl/core/internal';

/**
 * One module of the backbone, as plain JSON so a derived architecture can be rebuilt from text.
 * A dense block flattens a non-vector input first (so conv blocks can be followed by dense ones).
 */
export type BlockSpec =
  | { readonly kind: 'dense'; readonly units: number; readonly activation?: Activation }
  | { readonly kind: 'conv'; readonly filters: number; readonly kernelSize: number; readonly pool?: number; readonly activation?: Activation }
  /** A stack of core layer specs as one module (stateless layers: dense, conv, maxPool, flatten, activation, globalAveragePool). */
  | { readonly kind: 'layers'; readonly layers: readonly LayerSpec[] };

/** Layer types with running state or a training mode, which CoNAL's models do not carry yet. */
const STATEFUL_LAYERS = ['batchNorm', 'residual', 'dropout'];

const ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid', 'linear'];

/** A module made from a {@link BlockSpec}: its parameters and its function of one input. */
export interface Block {
  readonly parameters: Layer['parameters'];
  apply(x: tf.Tensor): tf.Tensor;
}

/** Checks a backbone (ordered list of blocks) against the input shape; returns each block's output shape. */
export function backboneShapes(option: string, blocks: readonly BlockSpec[], inputShape: readonly number[]): number[][] {
  if (!isArray(blocks) || blocks.length === 0) invalidOption(option, blocks, 'a non-empty array of blocks ({ kind: "dense" | "conv", ... })');
  const shapes: number[][] = [];
  let shape = [...inputShape];
  blocks.forEach((spec, i) => {
    shape = blockOutputShape(`${option}[${i}]`, spec, shape);
    shapes.push(shape);
  });
  return shapes;
}

/** Output shape of one example after `spec`, validating the spec (unknown keys are errors). */
export function blockOutputShape(option: string, spec: BlockSpec, inputShape: readonly number[]): number[] {
  if (typeof spec !== 'object' || spec === null) invalidOption(option, spec, 'a block object');
  if (spec.kind === 'dense') {
    checkKeys(option, spec, ['kind', 'units', 'activation']);
    requirePositiveInteger(`${option}.units`, spec.units);
    checkActivation(option, spec.activation);
    return [spec.units];
  }
  if (spec.kind === 'conv') {
    checkKeys(option, spec, ['kind', 'filters', 'kernelSize', 'pool', 'activation']);
    requirePositiveInteger(`${option}.filters`, spec.filters);
    requirePositiveInteger(`${option}.kernelSize`, spec.kernelSize);
    const pool = requirePositiveInteger(`${option}.pool`, spec.pool ?? 1);
    checkActivation(option, spec.activation);
    if (inputShape.length !== 3) {
      throw new MtlError('SHAPE_MISMATCH', `${option}: a conv block needs [height, width, channels] input, got [${inputShape.join(', ')}]`, { option, inputShape });
    }
    const h = Math.floor((inputShape[0]! - spec.kernelSize + 1) / pool);
    const w = Math.floor((inputShape[1]! - spec.kernelSize + 1) / pool);
    if (h < 1 || w < 1) {
      throw new MtlError('SHAPE_MISMATCH', `${option}: kernel ${spec.kernelSize} and pool ${pool} do not fit a ${inputShape.join('x')} input`, { option, inputShape });
    }
    return [h, w, spec.filters];
  }
  if (spec.kind === 'layers') {
    checkKeys(option, spec, ['kind', 'layers']);
    if (!isArray(spec.layers) || spec.layers.length === 0) invalidOption(`${option}.layers`, spec.layers, 'a non-empty array of core layer specs');
    spec.layers.forEach((layer, i) => {
      if (STATEFUL_LAYERS.includes((layer as { type?: string })?.type ?? '')) {
        invalidOption(`${option}.layers[${i}].type`, (layer as { type?: string }).type, `a stateless layer type (not ${STATEFUL_LAYERS.join(', ')}: CoNAL models carry no buffers or training mode yet)`);
      }
    });
    return dryBuild(option, spec.layers, inputShape).outputShape;
  }
  return invalidOption(`${option}.kind`, (spec as { kind?: unknown }).kind, '"dense", "conv" or "layers"');
}

/** Builds a layer stack with throwaway parameters: its output shape and weight count, checked by core. */
function dryBuild(option: string, layers: readonly LayerSpec[], inputShape: readonly number[]): { outputShape: number[]; count: number } {
  let count = 0;
  const make = ((key: string, initial: tf.Tensor) => {
    count += initial.size;
    initial.dispose();
    return { key } as unknown as Parameter;
  }) as ParameterFactory;
  const { outputShape } = buildLayers({ make, buffer: noBuffers, rng: new SeededRandom(0) }, 'dry', inputShape, layers, undefined, `${option}.layers`);
  return { outputShape, count };
}

const noBuffers = (): never => {
  throw new MtlError('INVALID_OPTION', 'CoNAL blocks cannot hold layers with running statistics (BatchNorm) yet', { option: 'blocks' });
};

/** Number of trainable numbers in a block applied to `inputShape` (kernel + bias). */
export function blockParameterCount(spec: BlockSpec, inputShape: readonly number[]): number {
  if (spec.kind === 'dense') return size(inputShape) * spec.units + spec.units;
  if (spec.kind === 'layers') return dryBuild('block', spec.layers, inputShape).count;
  return spec.kernelSize * spec.kernelSize * inputShape[2]! * spec.filters + spec.filters;
}

/** Builds one copy of a block with its own parameters (keys under `key`, owned by `task` if given). */
export function buildBlock(make: ParameterFactory, rng: SeededRandom, key: string, spec: BlockSpec, inputShape: readonly number[], task?: string): Block {
  if (spec.kind === 'dense') {
    const inputs = size(inputShape);
    const layer = denseLayer(make, rng, key, inputs, spec.units, spec.activation ?? 'relu', task);
    return { parameters: layer.parameters, apply: (x) => layer.apply(x.shape.length > 2 ? tf.reshape(x, [x.shape[0], inputs]) : x) };
  }
  if (spec.kind === 'layers') {
    const built = buildLayers({ make, buffer: noBuffers, rng }, key, inputShape, spec.layers, task);
    return { parameters: built.layers.flatMap((l) => l.parameters), apply: (x) => built.layers.reduce((h, l) => l.apply(h), x) };
  }
  const layer = convLayer(make, rng, key, inputShape[2]!, { filters: spec.filters, kernelSize: spec.kernelSize, activation: spec.activation ?? 'relu', pool: spec.pool ?? 1 }, task);
  return { parameters: layer.parameters, apply: (x) => layer.apply(x) };
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkActivation(option: string, activation: unknown): void {
  if (activation !== undefined && !ACTIVATIONS.includes(activation as Activation)) invalidOption(`${option}.activation`, activation, `one of ${ACTIVATIONS.join(', ')}`);
}

export function checkKeys(option: string, value: object, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) invalidOption(`${option}.${key}`, (value as Record<string, unknown>)[key], `absent (known keys: ${allowed.join(', ')})`);
}
