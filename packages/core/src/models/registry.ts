import { MtlError, invalidOption } from '../errors.js';
import type { MultiTaskModel } from './model.js';
import { hardSharingConv, hardSharingMlp, mmoe } from './builders.js';
import { treeModel } from './tree.js';
import { hps } from '../architectures/hps.js';
import { crossStitch } from '../architectures/cross-stitch.js';
import { mtan } from '../architectures/mtan.js';
import { cgc } from '../architectures/cgc.js';
import { ple } from '../architectures/ple.js';
import { dselectK } from '../architectures/dselect-k.js';
import { ltb } from '../architectures/ltb.js';

/** Builds a model from JSON-able options (an architecture's builder). */
export type ArchitectureBuilder = (options: never) => MultiTaskModel;

const BUILT_IN: Readonly<Record<string, ArchitectureBuilder>> = {
  hps,
  mmoe,
  'cross-stitch': crossStitch,
  mtan,
  cgc,
  ple,
  'dselect-k': dselectK,
  ltb,
  tree: treeModel,
  'hard-sharing-mlp': hardSharingMlp,
  'hard-sharing-conv': hardSharingConv,
};

const registered = new Map<string, ArchitectureBuilder>();

/** Names `createArchitecture` knows: the built-in ones, then registered ones. */
export function architectureNames(): string[] {
  return [...Object.keys(BUILT_IN), ...registered.keys()];
}

/**
 * Builds the architecture called `name` (LibMTL's `--arch`): 'hps', 'mmoe', 'cross-stitch', 'mtan',
 * 'cgc', 'ple', 'dselect-k', 'ltb', 'tree', 'hard-sharing-mlp', 'hard-sharing-conv', or one added by
 * {@link registerArchitecture}. `options` are the builder's (`{ inputShape, tasks, stages?, seed?, ... }`).
 * Every architecture trains with every update rule.
 */
export function createArchitecture(name: string, options: object): MultiTaskModel {
  const build = BUILT_IN[name] ?? registered.get(name);
  if (!build || !Object.hasOwn(BUILT_IN, name) && !registered.has(name)) {
    throw new MtlError('INVALID_OPTION', `unknown architecture "${name}"; known: ${architectureNames().join(', ')}`, { option: 'architecture', value: name, known: architectureNames() });
  }
  return (build as (o: object) => MultiTaskModel)(options);
}

/**
 * Adds an architecture by name (so `loadModel` can rebuild saved models of it). Its models should
 * carry `architecture: { name, options }` (see `ComposedModelOptions.architecture`).
 */
export function registerArchitecture(name: string, build: (options: never) => MultiTaskModel): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(name)) invalidOption('name', name, 'a name of letters, digits, "_", "." or "-"');
  if (Object.hasOwn(BUILT_IN, name) || registered.has(name)) invalidOption('name', name, 'a name no architecture has yet');
  if (typeof build !== 'function') invalidOption('build', build, 'a function from options to a MultiTaskModel');
  registered.set(name, build);
}
