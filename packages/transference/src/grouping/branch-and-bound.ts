import { isBetter, popcount, selectionSum, type GroupScores, type Selection } from './group-scores.js';

/**
 * Branch-and-bound over which group *serves* each task. In a best selection every task is served by
 * the chosen group where its score is highest, so the chosen groups split the tasks into blocks
 * (the tasks each group serves), and the selection's value is Σ_blocks w(P) with
 *
 *   w(P) = max_{g ⊇ P} Σ_{j∈P} s(g, j)      (the best group to serve exactly the tasks P).
 *
 * Conversely the groups of any split into ≤ budget blocks form a selection worth at least the
 * split's value. So the search branches on the block of the lowest unserved task (every subset of
 * the unserved tasks containing it), and bounds a partial split by giving each unserved task the
 * best score any group offers it. Candidates are scored as selections, exactly as exhaustive search
 * scores them, and compared with the same tie order; a bound is only trusted when it is below the
 * incumbent by more than rounding. Cost: 3^T to tabulate w, then the search (see the README).
 */
export function branchAndBoundSelection(scores: GroupScores, budget: number): Selection {
  const T = scores.tasks;
  const full = (1 << T) - 1;
  const { value, group } = bestGroupPerBlock(scores);
  // optimistic[j]: the best score any group gives task j.
  const optimistic = new Float64Array(T).fill(-Infinity);
  for (let g = 0; g < scores.groups; g++) {
    for (let j = 0; j < T; j++) optimistic[j] = Math.max(optimistic[j]!, scores.values[g * T + j]!);
  }
  const blocks: number[] = [];
  let best: Selection | undefined;
  let bestSum = -Infinity;
  const slack = () => 1e-9 * T * Math.max(1, Math.abs(bestSum));

  const consider = () => {
    const masks = [...new Set(blocks.map((b) => group[b]!))];
    const candidate = { sum: selectionSum(scores, masks), masks };
    if (isBetter(candidate, best, T)) {
      best = candidate;
      bestSum = candidate.sum;
    }
  };

  const visit = (unserved: number, left: number, partial: number): void => {
    if (unserved === 0) {
      consider();
      return;
    }
    let bound = partial;
    for (let j = 0; j < T; j++) if (unserved & (1 << j)) bound += optimistic[j]!;
    if (bound + slack() < bestSum) return;
    const lowest = unserved & -unserved;
    if (left === 1) {
      blocks.push(unserved);
      visit(0, 0, partial + value[unserved]!);
      blocks.pop();
      return;
    }
    // Children best-first, so a strong incumbent prunes the rest early.
    const rest = unserved ^ lowest;
    const children: { block: number; estimate: number }[] = [];
    for (let sub = rest; ; sub = (sub - 1) & rest) {
      const block = sub | lowest;
      let estimate = partial + value[block]!;
      for (let j = 0; j < T; j++) if ((unserved ^ block) & (1 << j)) estimate += optimistic[j]!;
      children.push({ block, estimate });
      if (sub === 0) break;
    }
    children.sort((a, b) => b.estimate - a.estimate);
    for (const { block, estimate } of children) {
      if (estimate + slack() < bestSum) break;
      blocks.push(block);
      visit(unserved ^ block, left - 1, partial + value[block]!);
      blocks.pop();
    }
  };

  visit(full, budget, 0);
  return best!;
}

/**
 * For every set of tasks P: w(P) = max over groups g ⊇ P of Σ_{j∈P} s(g, j), and the group attaining
 * it (on equal sums the smaller group, then the lower mask). Enumerates every (g, P ⊆ g) pair: 3^T.
 */
function bestGroupPerBlock(scores: GroupScores): { value: Float64Array; group: Int32Array } {
  const T = scores.tasks;
  const size = 1 << T;
  const value = new Float64Array(size).fill(-Infinity);
  const group = new Int32Array(size);
  const sums = new Float64Array(size);
  for (let mask = 1; mask < size; mask++) {
    const row = (mask - 1) * T;
    // Sums over the submasks of `mask` in increasing order: each extends a smaller one by its top bit.
    for (let sub = mask & -mask; ; sub = (sub - mask) & mask) {
      const top = 31 - Math.clz32(sub);
      const sum = sums[sub & ~(1 << top)]! + scores.values[row + top]!;
      sums[sub] = sum;
      const current = value[sub]!;
      if (sum > current || (sum === current && preferGroup(mask, group[sub]!))) {
        value[sub] = sum;
        group[sub] = mask;
      }
      if (sub === mask) break;
    }
  }
  return { value, group };
}

function preferGroup(candidate: number, incumbent: number): boolean {
  const a = popcount(candidate);
  const b = popcount(incumbent);
  return a !== b ? a < b : candidate < incumbent;
}
