import type { Task } from '@mtl/core';
import { architectureCounts, treeFromPaths, type ConalArchitecture, type TaskPath } from './architecture.js';
import type { ConalSearchSpace } from './search-space.js';

/**
 * Architecture determining (§2.2): task t branches at argmax_p α_t (the first maximum on ties, as
 * numpy's argmax in the authors' `output_arch`), uses the all-shared modules before that point and
 * its own copies after it; modules no task uses are dropped (a task at point P keeps no copies;
 * shared modules after every task's branch point go). Tasks at the same point share the modules
 * before it, like every task that branches later.
 */
export function deriveArchitecture(space: ConalSearchSpace, tasks: readonly Pick<Task, 'name' | 'outputSize'>[]): ConalArchitecture {
  const distribution = space.branchDistribution();
  const branchPoints: Record<string, number> = {};
  for (const name of space.taskNames) {
    const q = distribution[name]!;
    branchPoints[name] = space.candidates[q.indexOf(Math.max(...q))]!;
  }
  return architectureFromBranchPoints(space, tasks, branchPoints);
}

/** The CoNAL tree for given branch points (1-based; P = all shared). */
export function architectureFromBranchPoints(
  space: Pick<ConalSearchSpace, 'description' | 'taskNames' | 'parameterCount'>,
  tasks: readonly Pick<Task, 'name' | 'outputSize'>[],
  branchPoints: Readonly<Record<string, number>>,
): ConalArchitecture {
  const K = space.description.blocks.length;
  const paths: Record<string, TaskPath> = {};
  for (const name of space.taskNames) {
    const p = branchPoints[name]!;
    paths[name] = Array.from({ length: K }, (_, k) => ({ block: k, owner: k < p - 1 ? 'shared' : `task:${name}` }));
  }
  const base = {
    inputShape: [...space.description.inputShape],
    blocks: space.description.blocks.map((b) => ({ ...b })),
    head: [...space.description.head],
    tasks: space.taskNames.map((name) => ({ name, outputSize: tasks.find((t) => t.name === name)!.outputSize })),
    nodes: treeFromPaths(space.taskNames, paths),
  };
  return {
    format: 'mtl-conal-architecture',
    version: 1,
    method: 'conal',
    ...base,
    branchPoints: { ...branchPoints },
    groups: [],
    parameterCounts: architectureCounts(base, space.parameterCount()),
  };
}
