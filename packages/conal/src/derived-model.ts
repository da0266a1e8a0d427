import { SeededRandom, requireBackend } from '@mtl/core';
import type { Task , tf } from '@mtl/core';
import { requireNonNegativeInteger } from '@mtl/core/internal';
import { backboneShapes, buildBlock, size, type Block } from './blocks.js';
import { BuiltModel, concatFeatures, sliceFeature, type ParameterOwner } from './built-model.js';
import { matchTasks, parseArchitecture, type ConalArchitecture } from './architecture.js';
import { asFactory, buildDecoder } from './search-space.js';

/**
 * The derived tree-shaped network (§2.2, "Architecture determining"), trained from scratch by
 * {@link retrain}. Each node of the architecture is one module: a node used by every task is an
 * all-shared parameter (no `task`), one used by a group of tasks carries `tasks` (core's
 * group-shared parameter), one used by a single task is that task's own parameter.
 *
 * As a core `MultiTaskModel`, `represent` runs every module used by two or more tasks and returns,
 * flattened and concatenated, the features at the points where a task leaves them (its branch
 * point); `head(t, z)` runs task t's own modules from there and its decoder.
 */
export class DerivedModel extends BuiltModel {
  readonly derivedArchitecture: ConalArchitecture;
  readonly seed: number;
  private readonly tasks: readonly Task[];

  constructor(architecture: ConalArchitecture | string, options: { tasks: readonly Task[]; seed?: number }) {
    requireBackend('DerivedModel');
    const arch = parseArchitecture(architecture);
    const tasks = matchTasks(arch, options.tasks);
    const seed = requireNonNegativeInteger('seed', options.seed ?? 0);
    super(arch.inputShape, (make) => buildTree(make, arch, tasks, seed));
    this.derivedArchitecture = arch;
    this.seed = seed;
    this.tasks = tasks;
  }

  protected override rebuild(): DerivedModel {
    return new DerivedModel(this.derivedArchitecture, { tasks: this.tasks, seed: this.seed });
  }
}

/** Builds the derived network of `architecture` (a {@link ConalArchitecture} or its JSON text), freshly initialised from `seed`. */
export function buildDerivedModel(architecture: ConalArchitecture | string, options: { tasks: readonly Task[]; seed?: number }): DerivedModel {
  return new DerivedModel(architecture, options);
}

function buildTree(make: Parameters<ConstructorParameters<typeof BuiltModel>[1]>[0], arch: ConalArchitecture, tasks: readonly Task[], seed: number) {
  const rng = new SeededRandom(seed);
  const shapes = backboneShapes('blocks', arch.blocks, arch.inputShape);
  const inShape = (k: number) => (k === 0 ? arch.inputShape : shapes[k - 1]!);
  const allTasks = tasks.length;
  const modules = new Map<string, Block>();
  for (const node of arch.nodes) {
    const owner: ParameterOwner = node.tasks.length === 1 ? { task: node.tasks[0]! } : node.tasks.length === allTasks ? {} : { tasks: node.tasks };
    modules.set(node.id, buildBlock(asFactory(make, owner), rng, `nodes/${node.id}/block${node.block}`, arch.blocks[node.block]!, inShape(node.block), owner.task));
  }
  const shared = arch.nodes.filter((n) => n.tasks.length >= 2);
  // Each task's own chain and the shared feature it starts from (null: the input).
  const chains = new Map<string, { source: string | null; own: string[] }>();
  for (const task of tasks) {
    const path = arch.nodes.filter((n) => n.tasks.includes(task.name));
    const firstOwn = path.findIndex((n) => n.tasks.length === 1);
    const source = firstOwn === -1 ? path.at(-1)!.id : firstOwn === 0 ? null : path[firstOwn - 1]!.id;
    chains.set(task.name, { source, own: firstOwn === -1 ? [] : path.slice(firstOwn).map((n) => n.id) });
  }
  const sources = [...new Set([...chains.values()].map((c) => c.source))];
  const blockOf = new Map(arch.nodes.map((n) => [n.id, n.block]));
  const sourceShapes = sources.map((s) => (s === null ? [...arch.inputShape] : shapes[blockOf.get(s)!]!));
  const heads: Record<string, (z: tf.Tensor, x: tf.Tensor) => tf.Tensor> = {};
  for (const task of tasks) {
    const chain = chains.get(task.name)!;
    const decoder = buildDecoder(make, rng, `heads/${task.name}`, size(shapes.at(-1)!), arch.head, task.outputSize, task.name);
    const index = sources.indexOf(chain.source);
    heads[task.name] = (z) => decoder(chain.own.reduce((h, id) => modules.get(id)!.apply(h), sliceFeature(z, sourceShapes, index)));
  }
  return {
    represent: (x: tf.Tensor) => {
      const features = new Map<string | null, tf.Tensor>([[null, x]]);
      for (const node of shared) features.set(node.id, modules.get(node.id)!.apply(features.get(node.parent)!));
      return concatFeatures(sources.map((s) => features.get(s)!));
    },
    heads,
  };
}
