import { tf } from '../tf.js';
import { invalidOption, isArray, requirePositiveInteger } from '../errors.js';
import { requireBackend } from '../backend.js';
import { checkKnownKeys, validateTaskOutputs, type TaskOutput } from '../models/describe.js';
import { buildLayers, type LayerBuildContext, type LayerSpec } from '../models/specs.js';
import { denseLayer, flattenLayer, type Layer, type LayerTasks } from '../models/layers.js';
import type { ApplyContext, Module } from '../models/model.js';
import type { Parameter } from '../parameters.js';

/**
 * Options every named architecture takes. The backbone is split into `stages` (LibMTL's ResNet
 * layers): cross-stitch units, LTB's branch choices, MTAN's attention and PLE's extraction levels act
 * between stages; expert architectures (MMoE, CGC, DSelect-k) use the whole backbone as one expert.
 */
export interface ArchitectureOptions {
  /** Shape of one example: [features] (MLP backbone) or [height, width, channels] (conv backbone). */
  readonly inputShape: readonly number[];
  readonly tasks: readonly TaskOutput[];
  /** The backbone as stages of layer specs. Default: {@link defaultStages}. */
  readonly stages?: readonly (readonly LayerSpec[])[];
  readonly seed?: number;
}

export const COMMON_KEYS = ['inputShape', 'tasks', 'stages', 'seed'];

/**
 * LibMTL-style small backbones: an MLP of two 16-unit ReLU stages for vector inputs, two conv
 * stages (3x3 'same' conv + BatchNorm + ReLU + 2x2 max-pool, 8 then 16 filters) for images.
 */
export function defaultStages(inputShape: readonly number[]): LayerSpec[][] {
  if (inputShape.length === 3) {
    return [8, 16].map((filters) => [
      { type: 'conv', filters, kernelSize: 3, padding: 'same', activation: 'linear', bias: false },
      { type: 'batchNorm' },
      { type: 'activation', activation: 'relu' },
      { type: 'maxPool', size: 2 },
    ]);
  }
  return [[{ type: 'dense', units: 16, activation: 'relu' }], [{ type: 'dense', units: 16, activation: 'relu' }]];
}

/** An MLP backbone: one dense stage per width. */
export function mlpStages(widths: readonly number[], activation: 'relu' | 'tanh' = 'relu'): LayerSpec[][] {
  return widths.map((units) => [{ type: 'dense', units, activation }]);
}

export interface ResolvedArchitecture {
  readonly inputShape: readonly number[];
  readonly tasks: readonly TaskOutput[];
  readonly taskNames: readonly string[];
  readonly stages: readonly (readonly LayerSpec[])[];
  readonly seed: number;
}

/** Validates the common options (and that no unknown key is present). */
export function resolveArchitecture(name: string, options: ArchitectureOptions, extraKeys: readonly string[]): ResolvedArchitecture {
  requireBackend(name);
  checkKnownKeys(name, options, [...COMMON_KEYS, ...extraKeys]);
  const shape = options.inputShape;
  if (!isArray(shape) || (shape.length !== 1 && shape.length !== 3)) invalidOption('inputShape', shape, '[features] or [height, width, channels]');
  shape.forEach((d, i) => requirePositiveInteger(`inputShape[${i}]`, d));
  const tasks = validateTaskOutputs(options.tasks);
  const stages = options.stages ?? defaultStages(shape);
  if (!isArray(stages) || stages.length === 0 || stages.some((s) => !isArray(s))) invalidOption('stages', stages, 'a non-empty array of stages, each an array of layer specs');
  return { inputShape: [...shape], tasks, taskNames: tasks.map((t) => t.name), stages, seed: options.seed ?? 0 };
}

/** One copy of the staged backbone: its layers per stage and the feature shape after each stage. */
export interface StagedNet {
  readonly stages: readonly (readonly Layer[])[];
  readonly shapes: readonly (readonly number[])[];
  readonly layers: readonly Layer[];
}

export function buildStages(context: LayerBuildContext, prefix: string, inputShape: readonly number[], stages: readonly (readonly LayerSpec[])[], tasks: LayerTasks): StagedNet {
  let shape = inputShape;
  const built: Layer[][] = [];
  const shapes: number[][] = [];
  stages.forEach((specs, i) => {
    const { layers, outputShape } = buildLayers(context, `${prefix}/stage${i}`, shape, specs, tasks, `stages[${i}]`);
    built.push(layers);
    shapes.push(outputShape);
    shape = outputShape;
  });
  return { stages: built, shapes, layers: built.flat() };
}

export function runLayers(layers: readonly Layer[], x: tf.Tensor, context: ApplyContext | undefined): tf.Tensor {
  return layers.reduce((h, layer) => layer.apply(h, context), x);
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** A task's linear output layer `out/<task>` on flattened features. */
export function outputLayer(context: LayerBuildContext, task: TaskOutput, shape: readonly number[]): Layer {
  const dense = denseLayer(context.make, context.rng, `out/${task.name}`, sizeOf(shape), task.outputSize, 'linear', task.name);
  const flatten = flattenLayer();
  return { parameters: dense.parameters, apply: (h) => dense.apply(shape.length > 1 ? flatten.apply(h) : h) };
}

/** A softmax gate `dense(inputs → n)` on flattened features (MMoE, CGC, PLE). */
export function gateLayer(context: LayerBuildContext, key: string, inputs: number, n: number, task: LayerTasks): Layer {
  const dense = denseLayer(context.make, context.rng, key, inputs, n, 'linear', task);
  return { parameters: dense.parameters, apply: (h) => tf.softmax(dense.apply(tf.reshape(h, [h.shape[0], -1]))) };
}

/** Σ_e w[:, e] · experts[e], for experts of any feature shape; `weights` is [batch, experts]. */
export function mixExperts(experts: readonly tf.Tensor[], weights: tf.Tensor): tf.Tensor {
  const stacked = tf.stack([...experts], 1);
  const w = tf.reshape(weights, [weights.shape[0], experts.length, ...stacked.shape.slice(2).map(() => 1)]);
  return tf.sum(tf.mul(stacked, w), 1);
}

/** Task t's slice of a [batch, T, ...] stack. */
export function taskSlice(z: tf.Tensor, t: number): tf.Tensor {
  const begin = z.shape.map((_, i) => (i === 1 ? t : 0));
  const size = z.shape.map((d, i) => (i === 1 ? 1 : d));
  return tf.squeeze(tf.slice(z, begin, size), [1]);
}

/** The experts of a [batch, experts, ...] stack, one tensor each. */
export function expertSlices(z: tf.Tensor): tf.Tensor[] {
  return Array.from({ length: z.shape[1]! }, (_, e) => taskSlice(z, e));
}

/**
 * One backbone copy per task whose stage inputs are mixed (cross-stitch, LTB): task t's input to
 * stage i ≥ 1 is Σ_j M_i[t][j] · (task j's stage i−1 output), with `mixing(i, context)` the T×T matrix
 * M_i. The representation z stacks the tasks' last-stage features [batch, T, ...].
 */
export function mixedColumnsTrunk(
  columns: readonly StagedNet[],
  mixingParameters: readonly Parameter[],
  mixing: (stage: number, context: ApplyContext | undefined) => tf.Tensor,
): Module {
  return {
    parameters: [...columns.flatMap((c) => c.layers.flatMap((l) => l.parameters)), ...mixingParameters],
    buffers: columns.flatMap((c) => c.layers.flatMap((l) => l.buffers ?? [])),
    apply: (x, _x, ctx) => {
      let outs = columns.map((c) => runLayers(c.stages[0]!, x, ctx));
      for (let i = 1; i < columns[0]!.stages.length; i++) {
        const m = mixing(i, ctx);
        const mixed = columns.map((_, t) => tf.addN(outs.map((o, j) => tf.mul(o, tf.reshape(tf.slice(m, [t, j], [1, 1]), [])))));
        outs = columns.map((c, t) => runLayers(c.stages[i]!, mixed[t]!, ctx));
      }
      return tf.stack(outs, 1);
    },
  };
}

/** Each task's output layer on its slice of a [batch, T, ...] representation. */
export function sliceHeads(context: LayerBuildContext, tasks: readonly TaskOutput[], lastShape: readonly number[]): Record<string, Module> {
  const heads: Record<string, Module> = {};
  tasks.forEach((task, t) => {
    const out = outputLayer(context, task, lastShape);
    heads[task.name] = { parameters: out.parameters, apply: (z) => out.apply(taskSlice(z, t)) };
  });
  return heads;
}
