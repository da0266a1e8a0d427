import { ParamSnapshot, modelState, parameterTasks, type MultiTaskModel, type Parameter } from '@mtl/core';
import type { ResolvedBranch } from './branches.js';
import type { MergeScope } from './options.js';

/**
 * The keys (parameters and buffers) a merge averages. With `shared+target` those some target task
 * uses: the shared trunk and the target heads; a parameter only auxiliary tasks use stays in its
 * branches, as in the authors' code (the merge runs over the target-only branch's keys).
 */
export function mergedKeys(model: MultiTaskModel, targets: readonly string[], scope: MergeScope): ReadonlySet<string> {
  const state = modelState(model);
  if (scope === 'all') return new Set(state.map((p) => p.key));
  return new Set(state.filter((p) => parameterTasks(p, model.taskNames).some((t) => targets.includes(t))).map((p) => p.key));
}

/** A new snapshot of `source`'s entries for `keys` (copies; the caller owns it). */
export function restrictSnapshot(source: ParamSnapshot, keys: ReadonlySet<string>): ParamSnapshot {
  return ParamSnapshot.fromTensors(new Map(source.keys.filter((k) => keys.has(k)).map((k) => [k, source.get(k).clone()])));
}

/** Writes the entries `snapshot` has into the model's matching parameters and buffers; others keep their values. */
export function restoreEntries(snapshot: ParamSnapshot, model: MultiTaskModel): void {
  const keys = new Set(snapshot.keys);
  snapshot.restore(modelState(model).filter((p) => keys.has(p.key)));
}

/**
 * Which branch a parameter the merge leaves out is taken from when `model` is assembled: among the
 * branches that train a task using it, the one with the largest merge weight (ties: the first).
 * Undefined when no branch trains it (the model keeps its value).
 */
export function ownerOf(parameter: Parameter, taskNames: readonly string[], branches: readonly ResolvedBranch[], weights: readonly number[]): number | undefined {
  const users = parameterTasks(parameter, taskNames);
  let owner: number | undefined;
  branches.forEach((branch, b) => {
    if (!users.some((t) => (branch.weights[t] ?? 0) > 0)) return;
    if (owner === undefined || weights[b]! > weights[owner]!) owner = b;
  });
  return owner;
}

/**
 * Puts θ* into `model`: the merged entries from `merged`, every other parameter from its
 * {@link ownerOf} branch's snapshot. So `model` always holds a usable whole network.
 */
export function assembleModel(
  model: MultiTaskModel,
  merged: ParamSnapshot,
  keys: ReadonlySet<string>,
  branchStates: readonly ParamSnapshot[],
  branches: readonly ResolvedBranch[],
  weights: readonly number[],
): void {
  const state = modelState(model);
  merged.restore(state.filter((p) => keys.has(p.key)));
  for (const p of state) {
    if (keys.has(p.key)) continue;
    const owner = ownerOf(p, model.taskNames, branches, weights);
    if (owner !== undefined) branchStates[owner]!.restore([p]);
  }
}
