import { requireBackend, treeModel } from '@mtl/core';
import type { LayerSpec, Task, TreeModel, TreeModelOptions, TreeModuleSpec } from '@mtl/core';
import { requireNonNegativeInteger } from '@mtl/core/internal';
import { matchTasks, parseArchitecture, type ConalArchitecture } from './architecture.js';
import { backboneShapes, type BlockSpec } from './blocks.js';

/**
 * The derived tree-shaped network (§2.2, "Architecture determining"): a core `treeModel`, so it has
 * core's subset-shared parameters (`Parameter.tasks`: a module used by every task is all-shared, by
 * a group group-shared, by one task task-specific), feature points, and `saveModel` / `loadModel`.
 */
export type DerivedModel = TreeModel;

/**
 * Builds the derived network of `architecture` (a {@link ConalArchitecture} or its JSON text),
 * freshly initialised from `seed` (default 0): the same architecture and seed give the same weights.
 * `tasks` are checked against the architecture's names and output sizes.
 */
export function buildDerivedModel(architecture: ConalArchitecture | string, options: { tasks: readonly Pick<Task, 'name' | 'outputSize'>[]; seed?: number }): DerivedModel {
  requireBackend('buildDerivedModel');
  const arch = parseArchitecture(architecture);
  matchTasks(arch, options.tasks);
  return treeModel(derivedTreeOptions(arch, requireNonNegativeInteger('seed', options.seed ?? 0)));
}

/**
 * The core `treeModel` options of a derived architecture: one module per node (its block as core
 * layer specs), then, when the architecture has decoder hidden layers, a `head.<task>` module per
 * task; core adds each task's linear output layer `out/<task>`.
 */
export function derivedTreeOptions(arch: ConalArchitecture, seed = 0): TreeModelOptions {
  const shapes = backboneShapes('blocks', arch.blocks, arch.inputShape);
  const inShape = (k: number) => (k === 0 ? arch.inputShape : shapes[k - 1]!);
  const modules: TreeModuleSpec[] = arch.nodes.map((node) => ({
    name: node.id,
    parent: node.parent ?? 'input',
    tasks: [...node.tasks],
    layers: blockLayers(arch.blocks[node.block]!, inShape(node.block)),
  }));
  if (arch.head.length > 0) {
    const last = shapes.at(-1)!;
    for (const task of arch.tasks) {
      const terminal = arch.nodes.filter((n) => n.tasks.includes(task.name)).at(-1)!;
      const layers: LayerSpec[] = [...(last.length > 1 ? [{ type: 'flatten' } as const] : []), ...arch.head.map((units) => ({ type: 'dense', units, activation: 'relu' }) as const)];
      modules.push({ name: `head.${task.name}`, parent: terminal.id, tasks: [task.name], layers });
    }
  }
  return { inputShape: [...arch.inputShape], tasks: arch.tasks.map((t) => ({ name: t.name, outputSize: t.outputSize })), modules, seed };
}

/** A block as core layer specs (a dense block on a non-vector input flattens it first). */
export function blockLayers(spec: BlockSpec, inputShape: readonly number[]): LayerSpec[] {
  if (spec.kind === 'dense') {
    const dense: LayerSpec = { type: 'dense', units: spec.units, activation: spec.activation ?? 'relu' };
    return inputShape.length > 1 ? [{ type: 'flatten' }, dense] : [dense];
  }
  if (spec.kind === 'conv') return [{ type: 'conv', filters: spec.filters, kernelSize: spec.kernelSize, pool: spec.pool ?? 1, activation: spec.activation ?? 'relu' }];
  return [...spec.layers];
}
