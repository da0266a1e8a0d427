import type { Task } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';
import { architectureCounts, treeFromPaths, type ConalArchitecture, type TaskPath } from './architecture.js';
import { ConalSearchSpace, validateSearchSpace, type BackboneDescription } from './search-space.js';
import { runSearch, splitOptions, type AlphaRecord, type ConalSearchOptions, type NoticingStats } from './search.js';

export interface ConalProStage {
  /** 1-based stage: stage s decides, for the tasks still searching, whether to use all-shared module P − s. */
  readonly stage: number;
  /** The two candidate branch points of this stage: [P − s, P]. */
  readonly candidates: readonly [number, number];
  /** The tasks searched in this stage. */
  readonly tasks: readonly string[];
  /** Those that kept the all-shared module: this stage's subgroup (they leave the search). */
  readonly subgroup: readonly string[];
  readonly alphaHistory: readonly AlphaRecord[];
  readonly noticing: NoticingStats;
  /** Weights of this stage's search space (it shrinks with the tasks left). */
  readonly searchSpaceParameters: number;
}

export interface ConalProResult {
  readonly architecture: ConalArchitecture;
  readonly stages: readonly ConalProStage[];
  readonly milliseconds: number;
}

/**
 * CoNAL-Pro (§2.4; not in the released code), progressive stage-wise search from the last
 * all-shared module backwards. With K = P − 1 modules, stage s = 1..K builds a search space for the
 * tasks still searching with two branch points per task: P (keep the all-shared path; past the
 * contested module it is shared by this stage's tasks only — the paper's h_S) and P − s (leave
 * before module P − s, onto purely-specific copies of the modules from there). Tasks that keep it
 * form subgroup s and leave the search; the others go on to stage s + 1. After the last stage the
 * tasks left get separate networks (branch point 1). Conflict noticing checks only the contested
 * module and the stage-shared ones after it ("only the gradient conflict of the last all-shared
 * module needs to be calculated"); earlier modules keep their summed gradient.
 *
 * Derived tree: subgroup s uses the all-shared modules 1..P − s (shared by every subgroup that
 * branches at or after that point) and one copy of modules P − s + 1..P − 1 shared within the
 * subgroup. Each stage starts from fresh weights (seed + stage) and, with `pretrainSteps`, is
 * pretrained on its own tasks: the paper says nothing on carrying weights across stages, and the
 * network is retrained from scratch afterwards anyway.
 */
export function conalProSearch(options: Omit<ConalSearchOptions, 'candidates'>): ConalProResult {
  const started = performance.now();
  const { space: spaceOptions, search } = splitOptions(options);
  if ((spaceOptions as { candidates?: unknown }).candidates !== undefined) invalidOption('candidates', (spaceOptions as { candidates?: unknown }).candidates, 'absent: CoNAL-Pro sets each stage\'s two candidates');
  const { description, tasks, seed } = validateSearchSpace(spaceOptions);
  const K = description.blocks.length;
  const P = K + 1;
  let remaining: readonly Task[] = tasks;
  const stages: ConalProStage[] = [];
  for (let s = 1; s <= K && remaining.length > 0; s++) {
    const candidates: [number, number] = [P - s, P];
    const space = new ConalSearchSpace({ ...spaceOptions, tasks: remaining, candidates, seed: seed + s });
    try {
      const run = runSearch(space, remaining, search, seed + s, K - s);
      const distribution = space.branchDistribution();
      // Ties keep the shared module (argmax's first maximum is the leaving point P − s; we prefer sharing on an exact tie).
      const subgroup = remaining.filter((t) => distribution[t.name]![1]! >= distribution[t.name]![0]!).map((t) => t.name);
      stages.push({
        stage: s,
        candidates,
        tasks: remaining.map((t) => t.name),
        subgroup,
        alphaHistory: run.alphaHistory,
        noticing: run.noticing,
        searchSpaceParameters: space.parameterCount(),
      });
      remaining = remaining.filter((t) => !subgroup.includes(t.name));
    } finally {
      space.dispose();
    }
  }
  const architecture = proArchitecture(description, tasks, stages.map((s) => s.subgroup), Math.max(...stages.map((s) => s.searchSpaceParameters)));
  return { architecture, stages, milliseconds: performance.now() - started };
}

/**
 * The CoNAL-Pro tree from the subgroups found at each stage (`subgroups[s − 1]` kept module P − s);
 * tasks in no subgroup get separate networks. `searchSpace` is the largest stage's weight count.
 */
export function proArchitecture(
  description: BackboneDescription,
  tasks: readonly Pick<Task, 'name' | 'outputSize'>[],
  subgroups: readonly (readonly string[])[],
  searchSpace: number,
): ConalArchitecture {
  const K = description.blocks.length;
  if (subgroups.length > K) invalidOption('subgroups', subgroups.length, `at most ${K} subgroups (one per stage)`);
  const names = tasks.map((t) => t.name);
  const stageOf = new Map<string, number>();
  subgroups.forEach((group, i) =>
    group.forEach((t) => {
      if (!names.includes(t) || stageOf.has(t)) invalidOption(`subgroups[${i}]`, t, 'tasks of the problem, each in one subgroup at most');
      stageOf.set(t, i + 1);
    }),
  );
  const paths: Record<string, TaskPath> = {};
  const branchPoints: Record<string, number> = {};
  for (const name of names) {
    const s = stageOf.get(name);
    // Subgroup s keeps all-shared modules 1..P−s (0-based 0..K−s), then its own subgroup copies.
    const sharedUpTo = s === undefined ? 0 : K - s + 1;
    paths[name] = Array.from({ length: K }, (_, k) => ({ block: k, owner: k < sharedUpTo ? 'shared' : s === undefined ? `task:${name}` : `group:${s}` }));
    branchPoints[name] = sharedUpTo + 1;
  }
  const base = {
    inputShape: [...description.inputShape],
    blocks: description.blocks.map((b) => ({ ...b })),
    head: [...description.head],
    tasks: tasks.map((t) => ({ name: t.name, outputSize: t.outputSize })),
    nodes: treeFromPaths(names, paths),
  };
  return {
    format: 'mtl-conal-architecture',
    version: 1,
    method: 'conal-pro',
    ...base,
    branchPoints,
    groups: [...subgroups.filter((g) => g.length > 0).map((g) => [...g]), ...names.filter((n) => !stageOf.has(n)).map((n) => [n])],
    parameterCounts: architectureCounts(base, searchSpace),
  };
}
