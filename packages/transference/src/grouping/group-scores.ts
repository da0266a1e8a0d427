import { MtlError } from '@mtl/core';

/** The score TAG's network selection gives a task served by a group of one (the code's `-1e6`). */
export const SINGLETON_SCORE = -1e6;

/**
 * Every non-empty group of tasks (bit mask `m`, task i is in the group when bit i is set) with the
 * score it gives each task: for j in the group, the mean affinity onto j from the group's other
 * members, (1/(|g|−1)) Σ_{i∈g, i≠j} affinity[i][j]; {@link SINGLETON_SCORE} when the group is {j};
 * −∞ for tasks outside the group (it cannot serve them).
 */
export interface GroupScores {
  readonly tasks: number;
  /** Number of groups, 2^T − 1; group g has mask g + 1. */
  readonly groups: number;
  /** Row-major [groups, tasks]. */
  readonly values: Float64Array;
}

/** Affinity matrices up to this many tasks: 2^16 − 1 groups × 16 scores is 8 MB. */
export const MAX_GROUPING_TASKS = 16;

export function groupScores(affinity: readonly (readonly number[])[]): GroupScores {
  const T = affinity.length;
  const groups = 2 ** T - 1;
  const values = new Float64Array(groups * T);
  for (let g = 0; g < groups; g++) {
    const mask = g + 1;
    const size = popcount(mask);
    for (let j = 0; j < T; j++) {
      let score = -Infinity;
      if (mask & (1 << j)) {
        if (size === 1) score = SINGLETON_SCORE;
        else {
          // Summed in task order, then divided: the order of the authors' notebook.
          let sum = 0;
          for (let i = 0; i < T; i++) if (i !== j && mask & (1 << i)) sum += affinity[i]![j]!;
          score = sum / (size - 1);
        }
      }
      values[g * T + j] = score;
    }
  }
  return { tasks: T, groups, values };
}

/** Checks a square, finite matrix of at least one task and at most {@link MAX_GROUPING_TASKS}. */
export function validateAffinity(affinity: unknown): readonly (readonly number[])[] {
  if (!Array.isArray(affinity) || affinity.length === 0) {
    throw new MtlError('SHAPE_MISMATCH', 'affinity must be a non-empty square matrix (an array of rows)', { option: 'affinity' });
  }
  const T = affinity.length;
  if (T > MAX_GROUPING_TASKS) {
    throw new MtlError('INVALID_OPTION', `selectTaskGroups handles at most ${MAX_GROUPING_TASKS} tasks (2^T − 1 candidate groups), got ${T}`, {
      option: 'affinity',
      tasks: T,
      max: MAX_GROUPING_TASKS,
    });
  }
  (affinity as unknown[]).forEach((row, i) => {
    if (!Array.isArray(row) && !ArrayBuffer.isView(row)) {
      throw new MtlError('SHAPE_MISMATCH', `affinity row ${i} is not an array`, { option: 'affinity', row: i });
    }
    const values = row as ArrayLike<unknown>;
    if (values.length !== T) {
      throw new MtlError('SHAPE_MISMATCH', `affinity row ${i} has ${values.length} entries; a matrix of ${T} tasks needs ${T}`, {
        option: 'affinity',
        row: i,
        expected: T,
        actual: values.length,
      });
    }
    for (let j = 0; j < T; j++) {
      const v = values[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new MtlError('INVALID_DATA', `affinity[${i}][${j}] is ${String(v)}, not a finite number`, { option: 'affinity', row: i, column: j, value: v });
      }
    }
  });
  return affinity as readonly (readonly number[])[];
}

export function popcount(mask: number): number {
  let n = 0;
  for (let m = mask; m; m &= m - 1) n++;
  return n;
}

/** Task indices of a mask, ascending. */
export function membersOf(mask: number, tasks: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < tasks; i++) if (mask & (1 << i)) out.push(i);
  return out;
}

/** A candidate selection: its summed per-task scores and its groups (masks). */
export interface Selection {
  readonly sum: number;
  readonly masks: readonly number[];
}

/** The selection's groups as sorted index lists, sorted lexicographically: the form callers get. */
export function canonicalGroups(masks: readonly number[], tasks: number): number[][] {
  return masks.map((m) => membersOf(m, tasks)).sort(compareLists);
}

function compareLists(a: readonly number[], b: readonly number[]): number {
  for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
  return a.length - b.length;
}

/**
 * The one order both searches use, so they return the same answer on ties: a higher summed score
 * wins; on equal sums fewer groups; then the lexicographically smaller list of groups.
 */
export function isBetter(candidate: Selection, best: Selection | undefined, tasks: number): boolean {
  if (!best) return true;
  if (candidate.sum !== best.sum) return candidate.sum > best.sum;
  if (candidate.masks.length !== best.masks.length) return candidate.masks.length < best.masks.length;
  const a = canonicalGroups(candidate.masks, tasks);
  const b = canonicalGroups(best.masks, tasks);
  for (let k = 0; k < a.length; k++) {
    const c = compareLists(a[k]!, b[k]!);
    if (c !== 0) return c < 0;
  }
  return false;
}

/** Σ_j max over the chosen groups of their score for j, summed in task order (−∞ if a task is uncovered). */
export function selectionSum(scores: GroupScores, masks: readonly number[]): number {
  const T = scores.tasks;
  let sum = 0;
  for (let j = 0; j < T; j++) {
    let best = -Infinity;
    for (const m of masks) best = Math.max(best, scores.values[(m - 1) * T + j]!);
    sum += best;
  }
  return sum;
}
