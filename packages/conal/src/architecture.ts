import { MtlError } from '@mtl/core';
import type { Task } from '@mtl/core';
import { invalidOption, isArray, requirePositiveInteger } from '@mtl/core/internal';
import { backboneShapes, blockParameterCount, checkKeys, size, type BlockSpec } from './blocks.js';
import { allSharedParameterCount, decoderParameterCount } from './search-space.js';

/** One module of a derived network: a copy of backbone block `block`, fed by `parent` (null: the input), used by `tasks`. */
export interface ArchitectureNode {
  readonly id: string;
  readonly block: number;
  readonly parent: string | null;
  readonly tasks: readonly string[];
}

/**
 * A derived CoNAL / CoNAL-Pro architecture as plain JSON: enough to rebuild the network with
 * {@link buildDerivedModel} without running the search. `branchPoints[t]` is task t's branch point
 * from the all-shared path in the paper's 1-based numbering (P = blocks + 1: all shared; 1: no
 * shared module); `nodes` is the tree, parents before children; `groups` lists the subgroups
 * (tasks sharing modules beyond the all-shared path, CoNAL-Pro), empty for CoNAL.
 */
export interface ConalArchitecture {
  readonly format: 'mtl-conal-architecture';
  readonly version: 1;
  readonly method: 'conal' | 'conal-pro';
  readonly inputShape: readonly number[];
  readonly blocks: readonly BlockSpec[];
  readonly head: readonly number[];
  readonly tasks: readonly { readonly name: string; readonly outputSize: number }[];
  readonly branchPoints: Readonly<Record<string, number>>;
  readonly groups: readonly (readonly string[])[];
  readonly nodes: readonly ArchitectureNode[];
  /** Weight counts: the search space (α excluded), this derived network, hard sharing over the same backbone. */
  readonly parameterCounts: { readonly searchSpace: number; readonly derived: number; readonly allShared: number };
}

/** Where each task's input to the tree is: the chain of (block, owner) it runs through. */
export type TaskPath = readonly { readonly block: number; readonly owner: string }[];

/**
 * Builds the tree from each task's path (block index and an owner label per module: the same
 * label on the same block means the same module instance). Parents come before children.
 */
export function treeFromPaths(taskNames: readonly string[], paths: Readonly<Record<string, TaskPath>>): ArchitectureNode[] {
  const nodes: { id: string; block: number; parent: string | null; tasks: string[]; owner: string }[] = [];
  const byIdentity = new Map<string, (typeof nodes)[number]>();
  for (const task of taskNames) {
    let parent: string | null = null;
    for (const step of paths[task]!) {
      const identity = `${step.block}|${step.owner}|${parent ?? ''}`;
      let node = byIdentity.get(identity);
      if (!node) {
        node = { id: `n${nodes.length}`, block: step.block, parent, tasks: [], owner: step.owner };
        nodes.push(node);
        byIdentity.set(identity, node);
      }
      node.tasks.push(task);
      parent = node.id;
    }
  }
  return nodes.map(({ id, block, parent, tasks }) => ({ id, block, parent, tasks }));
}

/** Weight count of a derived tree: its nodes plus one decoder per task. */
export function treeParameterCount(arch: Pick<ConalArchitecture, 'inputShape' | 'blocks' | 'head' | 'tasks' | 'nodes'>): number {
  const shapes = backboneShapes('blocks', arch.blocks, arch.inputShape);
  const inShape = (k: number) => (k === 0 ? arch.inputShape : shapes[k - 1]!);
  const nodes = arch.nodes.reduce((s, n) => s + blockParameterCount(arch.blocks[n.block]!, inShape(n.block)), 0);
  return nodes + arch.tasks.reduce((s, t) => s + decoderParameterCount(size(shapes.at(-1)!), arch.head, t.outputSize), 0);
}

export function architectureCounts(
  arch: Pick<ConalArchitecture, 'inputShape' | 'blocks' | 'head' | 'tasks' | 'nodes'>,
  searchSpace: number,
): ConalArchitecture['parameterCounts'] {
  return { searchSpace, derived: treeParameterCount(arch), allShared: allSharedParameterCount(arch, arch.tasks) };
}

const ARCH_KEYS = ['format', 'version', 'method', 'inputShape', 'blocks', 'head', 'tasks', 'branchPoints', 'groups', 'nodes', 'parameterCounts'];

/**
 * Parses and checks an architecture (a JSON string or the parsed object): known keys only, a
 * consistent tree (each task reaches exactly one module per backbone block, in order), and counts
 * that match. Errors are `MtlError`s naming the field.
 */
export function parseArchitecture(input: unknown): ConalArchitecture {
  let value: unknown = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (cause) {
      throw new MtlError('INVALID_OPTION', 'architecture is not valid JSON', { option: 'architecture' }, { cause });
    }
  }
  if (typeof value !== 'object' || value === null) invalidOption('architecture', value, 'an architecture object');
  const arch = value as ConalArchitecture;
  checkKeys('architecture', arch, ARCH_KEYS);
  if (arch.format !== 'mtl-conal-architecture') invalidOption('architecture.format', arch.format, '"mtl-conal-architecture"');
  if (arch.version !== 1) invalidOption('architecture.version', arch.version, '1');
  if (arch.method !== 'conal' && arch.method !== 'conal-pro') invalidOption('architecture.method', arch.method, '"conal" or "conal-pro"');
  if (!isArray(arch.inputShape)) invalidOption('architecture.inputShape', arch.inputShape, 'an array of positive integers');
  arch.inputShape.forEach((d, i) => requirePositiveInteger(`architecture.inputShape[${i}]`, d));
  const K = backboneShapes('architecture.blocks', arch.blocks, arch.inputShape).length;
  if (!isArray(arch.head)) invalidOption('architecture.head', arch.head, 'an array of positive integers');
  arch.head.forEach((h, i) => requirePositiveInteger(`architecture.head[${i}]`, h));
  if (!isArray(arch.tasks) || arch.tasks.length === 0) invalidOption('architecture.tasks', arch.tasks, 'a non-empty array of { name, outputSize }');
  const names = arch.tasks.map((t, i) => {
    if (typeof t?.name !== 'string') invalidOption(`architecture.tasks[${i}].name`, t?.name, 'a task name');
    requirePositiveInteger(`architecture.tasks[${i}].outputSize`, t.outputSize);
    return t.name;
  });
  if (new Set(names).size !== names.length) invalidOption('architecture.tasks', names.join(', '), 'unique task names');
  if (typeof arch.branchPoints !== 'object' || arch.branchPoints === null) invalidOption('architecture.branchPoints', arch.branchPoints, 'an object of task → branch point');
  for (const name of names) {
    const p = arch.branchPoints[name];
    if (!Number.isInteger(p) || p! < 1 || p! > K + 1) invalidOption(`architecture.branchPoints.${name}`, p, `an integer in 1..${K + 1}`);
  }
  if (!isArray(arch.groups)) invalidOption('architecture.groups', arch.groups, 'an array of task-name arrays');
  checkTree(arch, names, K);
  const derived = treeParameterCount(arch);
  if (arch.parameterCounts?.derived !== derived) invalidOption('architecture.parameterCounts.derived', arch.parameterCounts?.derived, `${derived} (the count of these nodes)`);
  return arch;
}

function checkTree(arch: ConalArchitecture, names: readonly string[], K: number): void {
  if (!isArray(arch.nodes)) invalidOption('architecture.nodes', arch.nodes, 'an array of nodes');
  const seen = new Map<string, ArchitectureNode>();
  arch.nodes.forEach((n, i) => {
    checkKeys(`architecture.nodes[${i}]`, n, ['id', 'block', 'parent', 'tasks']);
    if (typeof n.id !== 'string' || seen.has(n.id)) invalidOption(`architecture.nodes[${i}].id`, n.id, 'a unique string');
    if (!Number.isInteger(n.block) || n.block < 0 || n.block >= K) invalidOption(`architecture.nodes[${i}].block`, n.block, `a block index in 0..${K - 1}`);
    const parent = n.parent === null ? undefined : seen.get(n.parent);
    if (n.parent !== null && !parent) invalidOption(`architecture.nodes[${i}].parent`, n.parent, 'null or the id of an earlier node');
    if ((parent ? parent.block + 1 : 0) !== n.block) invalidOption(`architecture.nodes[${i}].block`, n.block, `${parent ? parent.block + 1 : 0} (one after its parent's block)`);
    if (!isArray(n.tasks) || n.tasks.length === 0 || n.tasks.some((t) => !names.includes(t))) invalidOption(`architecture.nodes[${i}].tasks`, n.tasks, `a non-empty list of tasks from ${names.join(', ')}`);
    if (parent && n.tasks.some((t) => !parent.tasks.includes(t))) invalidOption(`architecture.nodes[${i}].tasks`, n.tasks, `tasks of its parent ${parent.id}`);
    seen.set(n.id, n);
  });
  for (const task of names) {
    const blocks = arch.nodes.filter((n) => n.tasks.includes(task)).map((n) => n.block);
    if (blocks.length !== K || blocks.some((b, i) => b !== i)) {
      throw new MtlError('INVALID_OPTION', `architecture: task "${task}" must run through exactly one module of each of the ${K} blocks, in order (it has blocks [${blocks.join(', ')}])`, { option: 'architecture.nodes', task });
    }
  }
}

/** Checks that the caller's tasks match the architecture's (names and output sizes, any order). */
export function matchTasks<T extends Pick<Task, 'name' | 'outputSize'>>(arch: ConalArchitecture, tasks: readonly T[]): readonly T[] {
  const byName = new Map(tasks.map((t) => [t.name, t]));
  return arch.tasks.map((spec) => {
    const task = byName.get(spec.name);
    if (!task) throw new MtlError('UNKNOWN_TASK', `the architecture has task "${spec.name}", the tasks given do not`, { task: spec.name, known: tasks.map((t) => t.name) });
    if (task.outputSize !== spec.outputSize) {
      throw new MtlError('SHAPE_MISMATCH', `task "${spec.name}" has output size ${task.outputSize}, the architecture ${spec.outputSize}`, { task: spec.name, expected: spec.outputSize, actual: task.outputSize });
    }
    return task;
  });
}
