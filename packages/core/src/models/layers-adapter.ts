import { tf } from '../tf.js';
import { MtlError, invalidOption } from '../errors.js';
import { requireBackend } from '../backend.js';
import { unknownTask } from '../tasks.js';
import type { Parameter } from '../parameters.js';
import { checkKnownKeys, validateTaskOutputs, type TaskOutput } from './describe.js';
import type { ForwardOptions, MultiTaskModel } from './model.js';
import { fileSystemHandler } from './save.js';

/** What the adapter needs of a `tf.LayersModel` / `tf.Sequential` (no type import of the optional peer). */
export interface LayersModelLike {
  readonly name: string;
  readonly inputs?: readonly { readonly shape: readonly (number | null)[] }[];
  readonly trainableWeights: readonly LayerVariableLike[];
  readonly nonTrainableWeights: readonly LayerVariableLike[];
  apply(inputs: tf.Tensor, kwargs?: { training?: boolean }): unknown;
  getConfig(): unknown;
  getWeights(): tf.Tensor[];
  setWeights(weights: tf.Tensor[]): void;
  dispose(): unknown;
}

/** A tfjs-layers `LayerVariable`. */
export interface LayerVariableLike {
  readonly originalName: string;
  read(): tf.Tensor;
}

/** A layers model, or where to load one from (a directory of `model.json`, a URL, or a `tf.io.IOHandler`). */
export type LayersSource = LayersModelLike | string | tf.io.IOHandler;

export interface LayersModelOptions {
  /** The shared trunk: input → shared representation z. */
  readonly trunk: LayersSource;
  readonly tasks: readonly TaskOutput[];
  /**
   * Each task's head, z → its output ([batch, outputSize]). Default: none, the trunk's output is
   * `[batch, Σ outputSize]` split between the tasks in order.
   */
  readonly heads?: Readonly<Record<string, LayersSource>>;
}

const INSTALL = 'npm install @tensorflow/tfjs-layers@^4.22.0';

/** The part of `@tensorflow/tfjs-layers` the adapter uses. */
interface LayersModule {
  loadLayersModel(source: string | tf.io.IOHandler): Promise<unknown>;
}

/**
 * Imports `@tensorflow/tfjs-layers` (an optional peer of @mtl/core), or throws MISSING_DEPENDENCY
 * saying how to install it.
 */
export async function importLayers(specifier = '@tensorflow/tfjs-layers'): Promise<LayersModule> {
  try {
    return (await import(specifier)) as LayersModule;
  } catch (error) {
    throw new MtlError('MISSING_DEPENDENCY', `this needs @tensorflow/tfjs-layers, which is not installed: ${INSTALL} (same version as @tensorflow/tfjs-core)`, {
      dependency: '@tensorflow/tfjs-layers',
      install: INSTALL,
    }, { cause: error });
  }
}

/**
 * Bring your own backbone: a Keras-style `tf.LayersModel` / `tf.Sequential` (from
 * `@tensorflow/tfjs-layers`) as the trunk, and optionally as each task's head, trained by every
 * @mtl method. Its trainable weights become core parameters (`trunk/w<i>/<name>` shared by all tasks,
 * `heads/<task>/w<i>/<name>` task-specific) and its non-trainable weights (BatchNorm moving
 * statistics) core buffers, so snapshots, merges, checkpoints and gradient workers carry them.
 * Sources given as a path or URL are loaded with tfjs-layers (MISSING_DEPENDENCY with the install
 * command when it is absent). Differences from core's own layers: tfjs-layers' dropout draws its own
 * masks (not from the pass seed) and its BatchNorm moves its statistics at every training pass (Keras
 * momentum), once per task in per-task gradients. `saveModel` does not apply: save the layers models
 * with their own `save`.
 */
export async function layersModel(options: LayersModelOptions): Promise<MultiTaskModel & { readonly buffers: readonly Parameter[] }> {
  requireBackend('layersModel');
  checkKnownKeys('layersModel', options, ['trunk', 'tasks', 'heads']);
  const tasks = validateTaskOutputs(options.tasks);
  const trunk = await resolveSource(options.trunk, 'trunk');
  const heads: Record<string, LayersModelLike> = {};
  for (const [name, source] of Object.entries(options.heads ?? {})) {
    if (!tasks.some((t) => t.name === name)) throw unknownTask(name, tasks.map((t) => t.name));
    heads[name] = await resolveSource(source, `heads.${name}`);
  }
  if (options.heads && tasks.some((t) => !heads[t.name])) invalidOption('heads', Object.keys(heads), `a head for every task (${tasks.map((t) => t.name).join(', ')})`);
  return new LayersAdapterModel(trunk, tasks, options.heads ? heads : undefined);
}

async function resolveSource(source: LayersSource, option: string): Promise<LayersModelLike> {
  if (isLayersModel(source)) return source;
  const tfl = await importLayers();
  const handler = typeof source === 'string' && !/^[a-z]+:\/\//.test(source) ? fileSystemHandler(source) : source;
  try {
    return (await tfl.loadLayersModel(handler)) as LayersModelLike;
  } catch (error) {
    throw new MtlError('INVALID_DATA', `cannot load the layers model of "${option}": ${(error as Error).message}`, { option }, { cause: error });
  }
}

function isLayersModel(value: unknown): value is LayersModelLike {
  return typeof value === 'object' && value !== null && typeof (value as LayersModelLike).apply === 'function' && Array.isArray((value as LayersModelLike).trainableWeights);
}

/** A {@link MultiTaskModel} over tfjs-layers models (see {@link layersModel}). */
class LayersAdapterModel implements MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly inputShape: readonly number[];
  readonly parameters: readonly Parameter[];
  readonly sharedParameters: readonly Parameter[];
  readonly buffers: readonly Parameter[];
  private readonly own = new Map<string, readonly Parameter[]>();
  private disposed = false;

  constructor(
    private readonly trunk: LayersModelLike,
    private readonly tasks: readonly TaskOutput[],
    private readonly heads: Readonly<Record<string, LayersModelLike>> | undefined,
  ) {
    this.taskNames = tasks.map((t) => t.name);
    const shape = trunk.inputs?.[0]?.shape.slice(1);
    if (!shape || shape.some((d) => d === null)) invalidOption('trunk', trunk.name, 'a layers model with a fixed input shape (give the first layer an inputShape)');
    this.inputShape = shape as number[];
    const shared = weightsOf(trunk.trainableWeights, 'trunk', undefined);
    const buffers = weightsOf(trunk.nonTrainableWeights, 'trunk/state', undefined);
    const taskParams: Parameter[] = [];
    for (const t of this.taskNames) {
      const head = heads?.[t];
      const params = head ? weightsOf(head.trainableWeights, `heads/${t}`, t) : [];
      if (head) buffers.push(...weightsOf(head.nonTrainableWeights, `heads/${t}/state`, t));
      this.own.set(t, params);
      taskParams.push(...params);
    }
    this.sharedParameters = shared;
    this.parameters = [...shared, ...taskParams];
    this.buffers = buffers;
  }

  taskParameters(task: string): readonly Parameter[] {
    this.assertAlive();
    const own = this.own.get(task);
    if (!own) throw unknownTask(task, this.taskNames);
    return own;
  }

  headParameters(task: string): readonly Parameter[] {
    return this.taskParameters(task);
  }

  represent(x: tf.Tensor, options?: ForwardOptions): tf.Tensor {
    this.assertAlive();
    return this.trunk.apply(x, { training: options?.training ?? false }) as tf.Tensor;
  }

  head(task: string, z: tf.Tensor, _x: tf.Tensor, options?: ForwardOptions): tf.Tensor {
    this.taskParameters(task);
    const head = this.heads?.[task];
    if (head) return head.apply(z, { training: options?.training ?? false }) as tf.Tensor;
    const index = this.taskNames.indexOf(task);
    const offset = this.tasks.slice(0, index).reduce((n, t) => n + t.outputSize, 0);
    const total = this.tasks.reduce((n, t) => n + t.outputSize, 0);
    const flat = tf.reshape(z, [z.shape[0], -1]);
    if (flat.shape[1] !== total) {
      throw new MtlError('SHAPE_MISMATCH', `the trunk's output has ${flat.shape[1]} numbers per example; without heads it must have the tasks' ${total} outputs`, {
        expected: total,
        actual: flat.shape[1],
      });
    }
    return tf.slice(flat, [0, offset], [-1, this.tasks[index]!.outputSize]);
  }

  forward(x: tf.Tensor, options?: ForwardOptions): Record<string, tf.Tensor> {
    const z = this.represent(x, options);
    return Object.fromEntries(this.taskNames.map((t) => [t, this.head(t, z, x, options)]));
  }

  clone(): MultiTaskModel {
    this.assertAlive();
    const copy = (m: LayersModelLike): LayersModelLike => {
      const cls = m.constructor as unknown as { fromConfig(cls: unknown, config: unknown): LayersModelLike };
      const made = cls.fromConfig(cls, m.getConfig());
      const weights = m.getWeights();
      made.setWeights(weights);
      return made;
    };
    const heads = this.heads ? Object.fromEntries(Object.entries(this.heads).map(([t, h]) => [t, copy(h)])) : undefined;
    return new LayersAdapterModel(copy(this.trunk), this.tasks, heads);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.trunk.dispose();
    for (const h of Object.values(this.heads ?? {})) h.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new MtlError('DISPOSED', 'this model was disposed');
  }
}

function weightsOf(weights: readonly LayerVariableLike[], prefix: string, task: string | undefined): Parameter[] {
  return weights.map((w, i) => {
    const variable = w.read() as tf.Variable;
    const name = w.originalName.split('/').pop() ?? 'weight';
    return task === undefined ? { key: `${prefix}/w${i}/${name}`, variable } : { key: `${prefix}/w${i}/${name}`, variable, task };
  });
}
