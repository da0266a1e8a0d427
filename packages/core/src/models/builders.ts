import { tf } from '../tf.js';
import { invalidOption, isArray, requirePositiveInteger } from '../errors.js';
import { requireBackend } from '../backend.js';
import { SeededRandom } from '../random.js';
import { checkKnownKeys, describeArchitecture, validateTaskOutputs, type TaskOutput } from './describe.js';
import { ComposedModel, type Module, type MultiTaskModel, type ParameterFactory } from './model.js';
import { convLayer, denseLayer, flattenLayer, sequential, type Activation, type Layer } from './layers.js';

export interface MlpOptions {
  readonly inputSize: number;
  readonly tasks: readonly TaskOutput[];
  /** Hidden sizes of the shared trunk. Default [64]. */
  readonly trunk?: readonly number[];
  /** Hidden sizes of each task's head before its output layer. Default []. */
  readonly head?: readonly number[];
  readonly activation?: Activation;
  readonly seed?: number;
}

/** Hard parameter sharing: an MLP trunk shared by all tasks, one small MLP head per task. */
export function hardSharingMlp(options: MlpOptions): MultiTaskModel {
  requireBackend('hardSharingMlp');
  checkKnownKeys('hardSharingMlp', options, ['inputSize', 'tasks', 'trunk', 'head', 'activation', 'seed']);
  const inputSize = requirePositiveInteger('inputSize', options.inputSize);
  const tasks = validateTaskOutputs(options.tasks);
  const trunkSizes = hiddenSizes('trunk', options.trunk ?? [64]);
  const headSizes = hiddenSizes('head', options.head ?? []);
  const activation = options.activation ?? 'relu';
  const seed = options.seed ?? 0;
  return new ComposedModel([inputSize], (make) => {
    const rng = new SeededRandom(seed);
    const trunk = sequential(denseStack(make, rng, 'trunk', inputSize, trunkSizes, activation));
    const z = trunkSizes.at(-1) ?? inputSize;
    return { trunk, heads: taskHeads(make, rng, tasks, z, headSizes, activation) };
  }, { seed, architecture: describeArchitecture('hard-sharing-mlp', { ...options, seed }) });
}

export interface ConvOptions {
  /** [height, width, channels] of one image. */
  readonly inputShape: readonly [number, number, number];
  readonly tasks: readonly TaskOutput[];
  /** Convolution blocks (valid padding, stride 1, ReLU, optional max-pool). Default: LeNet's 10 and 20 filters of 5x5, each pooled 2x2. */
  readonly conv?: readonly { filters: number; kernelSize: number; pool?: number }[];
  /** Dense layers after the convolutions, still shared. Default [50]. */
  readonly dense?: readonly number[];
  readonly head?: readonly number[];
  readonly seed?: number;
}

/** Hard parameter sharing with a small conv trunk (LeNet-style, as in the MultiMNIST papers). */
export function hardSharingConv(options: ConvOptions): MultiTaskModel {
  requireBackend('hardSharingConv');
  checkKnownKeys('hardSharingConv', options, ['inputShape', 'tasks', 'conv', 'dense', 'head', 'seed']);
  const shape = options.inputShape;
  if (!isArray(shape) || shape.length !== 3) invalidOption('inputShape', shape, '[height, width, channels]');
  shape.forEach((d, i) => requirePositiveInteger(`inputShape[${i}]`, d));
  const tasks = validateTaskOutputs(options.tasks);
  const blocks = options.conv ?? [
    { filters: 10, kernelSize: 5, pool: 2 },
    { filters: 20, kernelSize: 5, pool: 2 },
  ];
  const denseSizes = hiddenSizes('dense', options.dense ?? [50]);
  const headSizes = hiddenSizes('head', options.head ?? []);
  const seed = options.seed ?? 0;

  let [h, w, c] = shape;
  blocks.forEach((b, i) => {
    requirePositiveInteger(`conv[${i}].filters`, b.filters);
    requirePositiveInteger(`conv[${i}].kernelSize`, b.kernelSize);
    const pool = b.pool ?? 1;
    h = Math.floor((h - b.kernelSize + 1) / pool);
    w = Math.floor((w - b.kernelSize + 1) / pool);
    c = b.filters;
    if (h < 1 || w < 1) invalidOption(`conv[${i}]`, b, `a block that fits the ${shape.join('x')} input (feature map would be ${h}x${w})`);
  });
  const flatSize = h * w * c;

  return new ComposedModel([...shape], (make) => {
    const rng = new SeededRandom(seed);
    let channels = shape[2];
    const layers: Layer[] = blocks.map((b, i) => {
      const layer = convLayer(make, rng, `trunk/conv${i}`, channels, b);
      channels = b.filters;
      return layer;
    });
    layers.push(flattenLayer());
    layers.push(...denseStack(make, rng, 'trunk/dense', flatSize, denseSizes, 'relu'));
    const z = denseSizes.at(-1) ?? flatSize;
    return { trunk: sequential(layers), heads: taskHeads(make, rng, tasks, z, headSizes, 'relu') };
  }, { seed, architecture: describeArchitecture('hard-sharing-conv', { ...options, seed }) });
}

export interface MmoeOptions {
  readonly inputSize: number;
  readonly tasks: readonly TaskOutput[];
  /** Number of experts. Default 4. */
  readonly experts?: number;
  /** Hidden sizes of each expert; the last is the expert output size. Default [32]. */
  readonly expertUnits?: readonly number[];
  /** Hidden sizes of each task tower. Default [16]. */
  readonly tower?: readonly number[];
  readonly seed?: number;
}

/**
 * Multi-gate mixture of experts (Ma et al., KDD 2018). The shared representation is the stack of
 * expert outputs [batch, experts, units]; each task's head owns a softmax gate over the experts
 * (computed from the input) and a tower.
 */
export function mmoe(options: MmoeOptions): MultiTaskModel {
  requireBackend('mmoe');
  checkKnownKeys('mmoe', options, ['inputSize', 'tasks', 'experts', 'expertUnits', 'tower', 'seed']);
  const inputSize = requirePositiveInteger('inputSize', options.inputSize);
  const tasks = validateTaskOutputs(options.tasks);
  const experts = requirePositiveInteger('experts', options.experts ?? 4);
  const expertSizes = hiddenSizes('expertUnits', options.expertUnits ?? [32]);
  if (expertSizes.length === 0) invalidOption('expertUnits', options.expertUnits, 'at least one size');
  const towerSizes = hiddenSizes('tower', options.tower ?? [16]);
  const seed = options.seed ?? 0;
  const units = expertSizes.at(-1)!;

  return new ComposedModel([inputSize], (make) => {
    const rng = new SeededRandom(seed);
    const expertNets = Array.from({ length: experts }, (_, e) =>
      sequential(denseStack(make, rng, `experts/${e}`, inputSize, expertSizes, 'relu')),
    );
    const trunk: Module = {
      parameters: expertNets.flatMap((n) => n.parameters),
      apply: (x) => tf.stack(expertNets.map((n) => n.apply(x, x)), 1),
    };
    const heads: Record<string, Module> = {};
    for (const task of tasks) {
      const gate = denseLayer(make, rng, `heads/${task.name}/gate`, inputSize, experts, 'linear', task.name);
      const tower = sequential([
        ...denseStack(make, rng, `heads/${task.name}/tower`, units, towerSizes, 'relu', task.name),
        denseLayer(make, rng, `heads/${task.name}/out`, towerSizes.at(-1) ?? units, task.outputSize, 'linear', task.name),
      ]);
      heads[task.name] = {
        parameters: [...gate.parameters, ...tower.parameters],
        apply: (z, x) => {
          const weights = tf.expandDims(tf.softmax(gate.apply(x)), 2);
          return tower.apply(tf.sum(tf.mul(weights, z), 1), x);
        },
      };
    }
    return { trunk, heads };
  }, { seed, architecture: describeArchitecture('mmoe', { ...options, seed }) });
}

function denseStack(make: ParameterFactory, rng: SeededRandom, prefix: string, inputs: number, sizes: readonly number[], activation: Activation, task?: string): Layer[] {
  let width = inputs;
  return sizes.map((units, i) => {
    const layer = denseLayer(make, rng, `${prefix}${prefix.endsWith('dense') ? '' : '/dense'}${i}`, width, units, activation, task);
    width = units;
    return layer;
  });
}

function taskHeads(make: ParameterFactory, rng: SeededRandom, tasks: readonly TaskOutput[], inputs: number, hidden: readonly number[], activation: Activation): Record<string, Module> {
  const heads: Record<string, Module> = {};
  for (const task of tasks) {
    const layers = denseStack(make, rng, `heads/${task.name}`, inputs, hidden, activation, task.name);
    layers.push(denseLayer(make, rng, `heads/${task.name}/out`, hidden.at(-1) ?? inputs, task.outputSize, 'linear', task.name));
    heads[task.name] = sequential(layers);
  }
  return heads;
}

function hiddenSizes(option: string, sizes: readonly number[]): readonly number[] {
  if (!isArray(sizes)) invalidOption(option, sizes, 'an array of positive integers');
  sizes.forEach((s, i) => requirePositiveInteger(`${option}[${i}]`, s));
  return sizes;
}
