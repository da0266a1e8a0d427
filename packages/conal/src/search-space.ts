import { ComposedModel, SeededRandom, denseLayer, requireBackend, tf, validateTasks } from '@mtl/core';
import type { Layer, ModelModules, Module, MultiTaskModel, Parameter, ParameterFactory, Task } from '@mtl/core';
import { invalidOption, isArray, requireNonNegativeInteger, requirePositiveInteger } from '@mtl/core/internal';
import { backboneShapes, blockParameterCount, buildBlock, checkKeys, size, type Block, type BlockSpec } from './blocks.js';
import { concatFeatures, sliceFeature } from './features.js';

export interface SearchSpaceOptions {
  /** Shape of one input example. */
  readonly inputShape: readonly number[];
  readonly tasks: readonly Task[];
  /** The backbone as an ordered list of modules f_S^(1..P−1); P = blocks.length + 1 branch points. */
  readonly blocks: readonly BlockSpec[];
  /** Hidden sizes (ReLU) of each task's decoder g_t before its linear output layer. Default []. */
  readonly head?: readonly number[];
  /**
   * The candidate branch points (1-based, ascending; default all of 1..P). CoNAL-Pro's stages use
   * two; task copies are built only for the modules some candidate path uses.
   */
  readonly candidates?: readonly number[];
  /** Seed of the initial weights. Default 0. */
  readonly seed?: number;
}

/** The validated, JSON-safe description of a search space (also the base of a derived architecture). */
export interface BackboneDescription {
  readonly inputShape: readonly number[];
  readonly blocks: readonly BlockSpec[];
  readonly head: readonly number[];
}

const SEARCH_SPACE_KEYS = ['inputShape', 'tasks', 'blocks', 'head', 'candidates', 'seed'];

/**
 * CoNAL's search space (§2.1): P − 1 all-shared modules f_S^(1..P−1), for every task t a copy
 * h_t^(1..P−1) of every module (purely specific: only task t's loss reaches it), a decoder g_t, and
 * the branch-point logits α_t ∈ R^P (`role: 'architecture'`, initialised equal: the uniform
 * distribution). Branch point p (1-based, the paper's numbering) feeds f_S(x, p), the output of the
 * first p − 1 shared modules, into h_t^(p..P−1); p = P uses the shared modules only. Task t's
 * encoder output is the softmax(α_t)-weighted sum of its P paths (the paper's o_t(x, α_t)).
 *
 * A core `ComposedModel`: the shared representation z is every branch-point feature f_S(x, 1..P)
 * flattened and concatenated, so `represent` runs the shared modules once, core's per-task
 * gradients w.r.t. the shared parameters are exact, and `head(t, z)` cuts task t's inputs back out.
 * α is in `parameters` and `architectureParameters` (so snapshots and checkpoints carry it), never
 * in `sharedParameters`, `taskParameters` or the default update. Like the authors' code, path p and
 * path p' < p share task t's copies of the later modules (one copy h_t per task, not one per path).
 */
export class ConalSearchSpace extends ComposedModel {
  /** P: the number of branch points (blocks + 1). */
  readonly branchPoints: number;
  readonly description: BackboneDescription;
  /** f_S^(1..P−1): each all-shared module's parameters, in network order (what conflict noticing groups by). */
  readonly sharedModules: readonly (readonly Parameter[])[];
  /** α_t per task, in task order: logits over the candidate branch points. */
  readonly alphaParameters: readonly Parameter[];
  /** The candidate branch points (1-based), in the order of α_t's entries. */
  readonly candidates: readonly number[];
  private readonly spaceOptions: SearchSpaceOptions;

  constructor(options: SearchSpaceOptions) {
    requireBackend('ConalSearchSpace');
    const { description, tasks, seed, shapes, candidates } = validateSearchSpace(options);
    const parts = { sharedModules: [] as Parameter[][], alphas: [] as Parameter[] };
    let built = false;
    super(description.inputShape, (make) => {
      // Only the first build (this model's) records its parameters; `clone` builds a separate model.
      const record = built ? { sharedModules: [], alphas: [] } : parts;
      built = true;
      return buildSearchSpace(make, description, tasks, seed, shapes, candidates, record.sharedModules, record.alphas);
    });
    this.spaceOptions = options;
    this.description = description;
    this.branchPoints = description.blocks.length + 1;
    this.candidates = candidates;
    this.sharedModules = parts.sharedModules;
    this.alphaParameters = parts.alphas;
  }

  /** softmax(α_t) for every task: the current distribution over `candidates`. */
  branchDistribution(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    this.taskNames.forEach((task, t) => {
      out[task] = tf.tidy(() => Array.from(tf.softmax(this.alphaParameters[t]!.variable).dataSync()));
    });
    return out;
  }

  /** Weights of the search space; α too when `architecture` is set. */
  parameterCount(options: { architecture?: boolean } = {}): number {
    return options.architecture ? this.parameters.reduce((s, p) => s + p.variable.size, 0) : countWeights(this);
  }

  /** Parameters of the all-shared (hard-sharing, branch point P for every task) network with the same blocks and decoders. */
  allSharedParameterCount(): number {
    return allSharedParameterCount(this.description, this.spaceOptions.tasks);
  }

  /** A search space with the same options and a copy of every value, α included. */
  override clone(): ConalSearchSpace {
    const copy = new ConalSearchSpace(this.spaceOptions);
    tf.tidy(() => copy.parameters.forEach((p, i) => p.variable.assign(this.parameters[i]!.variable)));
    return copy;
  }
}

/** Weights of a model (architecture parameters excluded). */
export function countWeights(model: Pick<MultiTaskModel, 'parameters'>): number {
  return model.parameters.filter((p) => p.role !== 'architecture').reduce((s, p) => s + p.variable.size, 0);
}

/** Parameter count of hard sharing over `description`: every block once, one decoder per task. */
export function allSharedParameterCount(description: BackboneDescription, tasks: readonly Pick<Task, 'outputSize'>[]): number {
  const shapes = backboneShapes('blocks', description.blocks, description.inputShape);
  const blocks = description.blocks.reduce((s, spec, k) => s + blockParameterCount(spec, k === 0 ? description.inputShape : shapes[k - 1]!), 0);
  return blocks + tasks.reduce((s, t) => s + decoderParameterCount(size(shapes.at(-1)!), description.head, t.outputSize), 0);
}

export function validateSearchSpace(options: SearchSpaceOptions): {
  description: BackboneDescription;
  tasks: readonly Task[];
  seed: number;
  shapes: number[][];
  candidates: number[];
} {
  if (typeof options !== 'object' || options === null) invalidOption('options', options, 'an options object');
  checkKeys('options', options, SEARCH_SPACE_KEYS);
  const inputShape = options.inputShape;
  if (!isArray(inputShape) || inputShape.length === 0) invalidOption('inputShape', inputShape, 'a non-empty array of positive integers');
  inputShape.forEach((d, i) => requirePositiveInteger(`inputShape[${i}]`, d));
  const tasks = validateTasks(options.tasks);
  const shapes = backboneShapes('blocks', options.blocks, inputShape);
  const head = options.head ?? [];
  if (!isArray(head)) invalidOption('head', head, 'an array of positive integers');
  head.forEach((h, i) => requirePositiveInteger(`head[${i}]`, h));
  const seed = requireNonNegativeInteger('seed', options.seed ?? 0);
  const P = shapes.length + 1;
  const candidates = options.candidates ?? Array.from({ length: P }, (_, i) => i + 1);
  if (!isArray(candidates) || candidates.length === 0) invalidOption('candidates', candidates, `a non-empty array of branch points in 1..${P}`);
  candidates.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 1 || c > P || (i > 0 && c <= candidates[i - 1]!)) {
      invalidOption(`candidates[${i}]`, c, `an integer in 1..${P}, larger than the previous candidate`);
    }
  });
  return {
    candidates: [...candidates],
    description: { inputShape: [...inputShape], blocks: options.blocks.map((b) => ({ ...b })), head: [...head] },
    tasks,
    seed,
    shapes,
  };
}

function buildSearchSpace(
  make: ParameterFactory,
  description: BackboneDescription,
  tasks: readonly Task[],
  seed: number,
  shapes: number[][],
  candidates: readonly number[],
  sharedModules: Parameter[][],
  alphas: Parameter[],
): ModelModules {
  const rng = new SeededRandom(seed);
  const { inputShape, blocks } = description;
  const inShapes = [inputShape, ...shapes.slice(0, -1)];
  const featureShapes = [inputShape, ...shapes];
  const P = blocks.length + 1;
  const firstOwn = candidates[0]! - 1;

  const shared: Block[] = blocks.map((spec, k) => buildBlock(make, rng, `shared/block${k}`, spec, inShapes[k]!, undefined));
  for (const block of shared) sharedModules.push([...block.parameters]);

  const heads: Record<string, Module> = {};
  for (const task of tasks) {
    const own: (Block | undefined)[] = blocks.map((spec, k) =>
      k < firstOwn ? undefined : buildBlock(make, rng, `tasks/${task.name}/block${k}`, spec, inShapes[k]!, task.name),
    );
    const decoder = buildDecoder(make, rng, `heads/${task.name}`, size(featureShapes[P - 1]!), description.head, task.outputSize, task.name);
    const alpha = make(`alpha/${task.name}`, tf.zeros([candidates.length]), task.name, { role: 'architecture' });
    alphas.push(alpha);
    const copies = own.filter((b): b is Block => b !== undefined);
    heads[task.name] = {
      parameters: [...copies.flatMap((b) => b.parameters), ...decoder.parameters],
      apply: (z) => {
      const weights = tf.softmax(alpha.variable);
      const paths = candidates.map((point, i) => {
        // Branch point `point`: shared modules 1..point−1, then this task's copies point..P−1.
        let h = sliceFeature(z, featureShapes, point - 1);
        for (let k = point - 1; k < blocks.length; k++) h = own[k]!.apply(h);
        return tf.mul(h, tf.slice(weights, [i], [1]));
      });
      return decoder.apply(paths.length === 1 ? paths[0]! : tf.addN(paths));
      },
    };
  }
  const trunk: Module = {
    parameters: shared.flatMap((b) => b.parameters),
    apply: (x) => {
      const features = [x];
      for (const block of shared) features.push(block.apply(features.at(-1)!));
      return concatFeatures(features);
    },
  };
  // Feature points: the branch points' inputs, f_S(x, p) for p = 1..P ('input', then each shared module).
  const points = ['input', ...blocks.map((_, k) => `shared/block${k}`)];
  const features = {
    points,
    compute: (x: tf.Tensor, _context: unknown, wanted: readonly string[]) => {
      const values = [x];
      for (const block of shared) values.push(block.apply(values.at(-1)!));
      return Object.fromEntries(wanted.map((name) => [name, values[points.indexOf(name)]!]));
    },
  };
  return { trunk, heads, features };
}

/** Decoder g_t: flatten, hidden ReLU layers, a linear output of the task's size. */
export function buildDecoder(make: ParameterFactory, rng: SeededRandom, prefix: string, inputs: number, hidden: readonly number[], outputs: number, task: string): Block {
  const layers: Layer[] = [];
  let width = inputs;
  hidden.forEach((units, i) => {
    layers.push(denseLayer(make, rng, `${prefix}/dense${i}`, width, units, 'relu', task));
    width = units;
  });
  layers.push(denseLayer(make, rng, `${prefix}/out`, width, outputs, 'linear', task));
  return {
    parameters: layers.flatMap((l) => l.parameters),
    apply: (h) => layers.reduce((a, l) => l.apply(a), h.shape.length > 2 ? tf.reshape(h, [h.shape[0], inputs]) : h),
  };
}

export function decoderParameterCount(inputs: number, hidden: readonly number[], outputs: number): number {
  let count = 0;
  let width = inputs;
  for (const units of [...hidden, outputs]) {
    count += width * units + units;
    width = units;
  }
  return count;
}
