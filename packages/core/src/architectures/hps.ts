import type { MultiTaskModel } from '../models/model.js';
import type { LayerSpec } from '../models/specs.js';
import { treeModel } from '../models/tree.js';
import { describeArchitecture } from '../models/describe.js';
import { resolveArchitecture, type ArchitectureOptions } from './common.js';

export interface HpsOptions extends ArchitectureOptions {
  /** Layers of each task's head before its output layer. Default none. */
  readonly head?: readonly LayerSpec[];
}

/**
 * Hard parameter sharing (Caruana, ICML 1993; LibMTL's `HPS`): the whole backbone shared by every
 * task, then one head per task. A {@link treeModel} with one trunk module.
 */
export function hps(options: HpsOptions): MultiTaskModel {
  const a = resolveArchitecture('hps', options, ['head']);
  const head = options.head ?? [];
  const model = treeModel({
    inputShape: a.inputShape,
    tasks: a.tasks,
    seed: a.seed,
    modules: [
      { name: 'trunk', layers: a.stages.flat() },
      ...(head.length ? a.taskNames.map((t) => ({ name: `head-${t}`, parent: 'trunk', tasks: [t], layers: head })) : []),
    ],
  });
  return Object.assign(model, { architecture: describeArchitecture('hps', { ...options, seed: a.seed }) });
}
