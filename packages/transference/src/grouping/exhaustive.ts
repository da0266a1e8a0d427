import { isBetter, type GroupScores, type Selection } from './group-scores.js';

/** Number of selections of 1..budget distinct groups out of `groups`: what exhaustive search visits. */
export function exhaustiveCount(groups: number, budget: number): number {
  let total = 0;
  let combinations = 1;
  for (let k = 1; k <= Math.min(budget, groups); k++) {
    combinations = (combinations * (groups - k + 1)) / k;
    total += combinations;
  }
  return total;
}

/**
 * Every selection of at most `budget` distinct groups, as the authors' notebook enumerates them;
 * those that cover every task are scored and the best is kept ({@link isBetter} breaks ties).
 */
export function exhaustiveSelection(scores: GroupScores, budget: number): Selection {
  const T = scores.tasks;
  const n = scores.groups;
  const v = scores.values;
  // maxima[d]: per-task best score of the first d chosen groups.
  const maxima = Array.from({ length: budget + 1 }, () => new Float64Array(T).fill(-Infinity));
  const chosen: number[] = [];
  let best: Selection | undefined;

  const visit = (start: number, depth: number): void => {
    for (let g = start; g < n; g++) {
      const prev = maxima[depth]!;
      const next = maxima[depth + 1]!;
      let sum = 0;
      for (let j = 0; j < T; j++) {
        const m = Math.max(prev[j]!, v[g * T + j]!);
        next[j] = m;
        sum += m;
      }
      chosen.push(g + 1);
      if (sum > -Infinity) {
        const candidate = { sum, masks: chosen };
        if (isBetter(candidate, best, T)) best = { sum, masks: [...chosen] };
      }
      if (depth + 1 < budget) visit(g + 1, depth + 1);
      chosen.pop();
    }
  };
  visit(0, 0);
  // The group of all tasks covers everything, so some selection is always feasible.
  return best!;
}
