import { MtlError } from '@mtl/core';
import { invalidOption, requirePositiveInteger } from '@mtl/core/internal';
import { checkKnownKeys } from '../options.js';
import { canonicalGroups, groupScores, validateAffinity } from './group-scores.js';
import { exhaustiveCount, exhaustiveSelection } from './exhaustive.js';
import { branchAndBoundSelection } from './branch-and-bound.js';

export interface SelectTaskGroupsOptions {
  /** B: the most groups (networks, "splits") that may be chosen. */
  readonly budget: number;
  /**
   * `'exhaustive'` (every selection, as the authors' notebook), `'branch-and-bound'`, or `'auto'`
   * (default): exhaustive while it visits at most {@link EXHAUSTIVE_LIMIT} selections.
   */
  readonly search?: 'auto' | 'exhaustive' | 'branch-and-bound';
}

export interface TaskGroupSelection {
  /** The chosen groups: task indices ascending within a group, groups in lexicographic order. */
  readonly groups: number[][];
  /** Mean over tasks j of the best score of a chosen group containing j (see {@link selectTaskGroups}). */
  readonly score: number;
}

/** `'auto'` searches exhaustively up to this many selections (about a second), else branch-and-bound. */
export const EXHAUSTIVE_LIMIT = 2_000_000;

/**
 * TAG's network selection (Fifty et al., NeurIPS 2021, after Standley et al. 2019): choose at most
 * `budget` groups of tasks — groups may overlap, every task must be in one — maximising
 *
 *   (1/T) Σ_j max_{chosen g ∋ j} s(g, j),   s(g, j) = (1/(|g|−1)) Σ_{i∈g, i≠j} affinity[i][j],
 *
 * where `affinity[i][j]` is Z(i→j), the affinity of source task i onto target task j (row = source,
 * column = target), and a group of one scores `SINGLETON_SCORE` (−1e6, the code's value) for its task,
 * so singletons are chosen only when nothing else covers a task. The diagonal is not used.
 *
 * Exhaustive search breaks ties (equal score) towards fewer groups, then the lexicographically
 * smaller list of groups. Branch-and-bound returns the same score always and the same selection
 * whenever the best is unique (any real-valued matrix in practice); on exact ties (say, an
 * integer-valued matrix) it returns a best selection by the same order among those it visits, which
 * can differ. Each task is served by the chosen group where its score is highest. Throws `MtlError` (`SHAPE_MISMATCH`, `INVALID_DATA`, `INVALID_OPTION`) on a bad matrix
 * or option; at most 16 tasks.
 */
export function selectTaskGroups(affinity: readonly (readonly number[])[], options: SelectTaskGroupsOptions): TaskGroupSelection {
  if (options === null || typeof options !== 'object') invalidOption('options', options, 'an object with a budget');
  checkKnownKeys('selectTaskGroups', options, ['budget', 'search']);
  const matrix = validateAffinity(affinity);
  const budget = requirePositiveInteger('budget', options.budget);
  const search = options.search ?? 'auto';
  if (!['auto', 'exhaustive', 'branch-and-bound'].includes(search)) invalidOption('search', search, '"auto", "exhaustive" or "branch-and-bound"');
  const scores = groupScores(matrix);
  const count = exhaustiveCount(scores.groups, budget);
  if (search === 'exhaustive' && count > 100 * EXHAUSTIVE_LIMIT) {
    throw new MtlError('INVALID_OPTION', `exhaustive search would visit ${count.toExponential(2)} selections for ${matrix.length} tasks and budget ${budget}; use search "branch-and-bound"`, {
      option: 'search',
      value: search,
      selections: count,
    });
  }
  const exhaustive = search === 'exhaustive' || (search === 'auto' && count <= EXHAUSTIVE_LIMIT);
  const best = exhaustive ? exhaustiveSelection(scores, budget) : branchAndBoundSelection(scores, budget);
  return { groups: canonicalGroups(best.masks, scores.tasks), score: best.sum / scores.tasks };
}
