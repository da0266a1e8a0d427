import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../tf.js';
import { MtlError } from '../errors.js';
import { modelState } from '../parameters.js';
import type { ArchitectureSpec, MultiTaskModel } from './model.js';
import { createArchitecture } from './registry.js';

/** `modelTopology.format` of what {@link saveModel} writes. */
export const MODEL_FORMAT = 'mtl-model@1';

/** What `model.json`'s `modelTopology` holds: the architecture and how the weights map onto it. */
export interface SavedTopology {
  readonly format: typeof MODEL_FORMAT;
  readonly architecture: ArchitectureSpec;
  readonly taskNames: readonly string[];
  readonly inputShape: readonly number[];
  /** Keys of the parameters, then of the buffers, in weight order. */
  readonly parameters: readonly { readonly key: string; readonly tasks?: readonly string[] | undefined; readonly role?: string | undefined }[];
  readonly buffers: readonly string[];
}

/** Largest weight file, as tfjs's converter shards (4 MiB). */
const SHARD_BYTES = 4 * 1024 * 1024;

/**
 * Saves `model` for inference in tfjs's standard format: `model.json` (its `modelTopology` is the
 * architecture description, `weightsManifest` the weights) and weight shards `group1-shardKofN.bin`
 * of at most 4 MiB. `destination` is a directory (Node) or any `tf.io.IOHandler` (e.g.
 * `tf.io.browserDownloads()`, `tf.io.withSaveHandler`). The model must come from a named
 * architecture (`createArchitecture`, `treeModel` or a builder): INVALID_OPTION otherwise.
 */
export async function saveModel(model: MultiTaskModel, destination: string | tf.io.IOHandler): Promise<tf.io.SaveResult> {
  const architecture = model.architecture;
  if (!architecture) {
    throw new MtlError('INVALID_OPTION', 'saveModel needs a model built by a named architecture (createArchitecture, treeModel or a builder); this one has no `architecture` description', {
      option: 'model',
    });
  }
  const state = modelState(model);
  const named = state.map((p) => ({ name: p.key, tensor: p.variable }));
  const { data, specs } = await tf.io.encodeWeights(named);
  const topology: SavedTopology = {
    format: MODEL_FORMAT,
    architecture,
    taskNames: model.taskNames,
    inputShape: model.inputShape,
    parameters: model.parameters.map((p) => ({ key: p.key, ...(p.tasks ? { tasks: p.tasks } : p.task !== undefined ? { tasks: [p.task] } : {}), ...(p.role ? { role: p.role } : {}) })),
    buffers: (model.buffers ?? []).map((b) => b.key),
  };
  const handler = typeof destination === 'string' ? fileSystemHandler(destination) : destination;
  if (!handler.save) throw new MtlError('INVALID_OPTION', 'the IO handler given to saveModel cannot save', { option: 'destination' });
  return handler.save({
    modelTopology: topology,
    format: 'mtl-model',
    generatedBy: '@mtl/core',
    convertedBy: null,
    weightSpecs: specs,
    weightData: data,
  });
}

/**
 * Loads what {@link saveModel} wrote: rebuilds the architecture by name and assigns every
 * parameter and buffer (SHAPE_MISMATCH / INVALID_DATA naming the weight when they do not fit).
 * `source` is a directory (Node) or a `tf.io.IOHandler` (in a browser: `tf.io.browserHTTPRequest(url)`).
 */
export async function loadModel(source: string | tf.io.IOHandler): Promise<MultiTaskModel> {
  const handler = typeof source === 'string' ? fileSystemHandler(source) : source;
  if (!handler.load) throw new MtlError('INVALID_OPTION', 'the IO handler given to loadModel cannot load', { option: 'source' });
  const artifacts = await handler.load();
  const topology = artifacts.modelTopology as unknown as Partial<SavedTopology> | undefined;
  if (!topology || topology.format !== MODEL_FORMAT || !topology.architecture) {
    throw new MtlError('INVALID_DATA', `not a model saved by @mtl/core (modelTopology.format is ${String(topology?.format)}, expected ${MODEL_FORMAT})`, { format: topology?.format });
  }
  if (!artifacts.weightSpecs || !artifacts.weightData) throw new MtlError('INVALID_DATA', 'the saved model has no weights', {});
  const model = createArchitecture(topology.architecture.name, topology.architecture.options);
  const weights = tf.io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
  try {
    const state = modelState(model);
    const missing = state.find((p) => !weights[p.key]);
    if (missing) throw new MtlError('INVALID_DATA', `the saved weights have no "${missing.key}"`, { key: missing.key });
    const known = new Set(state.map((p) => p.key));
    const extra = Object.keys(weights).find((k) => !known.has(k));
    if (extra) throw new MtlError('INVALID_DATA', `the saved weights have "${extra}", which the rebuilt model does not`, { key: extra });
    for (const p of state) {
      const w = weights[p.key]!;
      if (w.shape.length !== p.variable.shape.length || w.shape.some((d, i) => d !== p.variable.shape[i])) {
        throw new MtlError('SHAPE_MISMATCH', `saved weight "${p.key}" has shape [${w.shape.join(', ')}], the model [${p.variable.shape.join(', ')}]`, {
          key: p.key,
          expected: p.variable.shape,
          actual: w.shape,
        });
      }
    }
    tf.tidy(() => state.forEach((p) => p.variable.assign(weights[p.key]!)));
    return model;
  } catch (error) {
    model.dispose();
    throw error;
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/**
 * A `tf.io.IOHandler` reading and writing a directory in tfjs's layout (`model.json` + weight shards),
 * for Node without `@tensorflow/tfjs-node` (whose `file://` handler does the same). Saving writes into
 * a temporary directory first and renames it into place, so a failed save leaves no half model.
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const buffer = artifacts.weightData ? new Uint8Array(tf.io.concatenateArrayBuffers(toBuffers(artifacts.weightData))) : new Uint8Array(0);
      const count = Math.max(1, Math.ceil(buffer.byteLength / SHARD_BYTES));
      const paths = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'],
        weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.format ? { format: artifacts.format } : {}),
        ...(artifacts.generatedBy ? { generatedBy: artifacts.generatedBy } : {}),
        ...(artifacts.convertedBy !== undefined ? { convertedBy: artifacts.convertedBy } : {}),
      };
      const tmp = `${dir}.tmp-${process.pid}`;
      try {
        await rm(tmp, { recursive: true, force: true });
        await mkdir(tmp, { recursive: true });
        for (let i = 0; i < count; i++) await writeFile(join(tmp, paths[i]!), buffer.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
        await writeFile(join(tmp, 'model.json'), JSON.stringify(json));
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      } catch (error) {
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        throw new MtlError('INVALID_OPTION', `cannot write the model to ${dir}: ${(error as Error).message}`, { option: 'destination', value: dir }, { cause: error });
      }
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      } catch (error) {
        throw new MtlError('INVALID_DATA', `cannot read ${join(dir, 'model.json')}: ${(error as Error).message}`, { path: join(dir, 'model.json') }, { cause: error });
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest ?? []) {
        specs.push(...group.weights);
        for (const path of group.paths) {
          const bytes = await readFile(join(dir, path)).catch((error: unknown) => {
            throw new MtlError('INVALID_DATA', `cannot read weight shard ${join(dir, path)}`, { path: join(dir, path) }, { cause: error });
          });
          buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        }
      }
      return {
        modelTopology: json.modelTopology,
        weightSpecs: specs,
        weightData: tf.io.concatenateArrayBuffers(buffers),
        ...(json.format ? { format: json.format } : {}),
        ...(json.generatedBy ? { generatedBy: json.generatedBy } : {}),
      };
    },
  };
}

function toBuffers(data: tf.io.WeightData): ArrayBuffer[] {
  return Array.isArray(data) ? data : [data];
}
