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
 * the unserved tasks containing it), and bounds a partial split by the best split of the unserved
 * tasks into as many blocks as the budget has left (tabulated by dynamic programming, so the bound is
 * tight and the search follows the best splits). Candidates are scored as selections, exactly as exhaustive search
 * scores them, and compared with the same tie order; a bound is only trusted when it is below the
 * incumbent by more than rounding. So the best score is always exhaustive search's, and so is the
 * selection when the best is unique; among exactly tied selections only those built from each
 * block's preferred group are seen. Cost: 3^T to tabulate w and the bound, then the search (README).
 */
export function branchAndBoundSelection(scores: GroupScores, budget: number): Selection {
  const T = scores.tasks;
  const full = (1 << T) - 1;
  const { value, group } = bestGroupPerBlock(scores);
  const layers = Math.min(budget, T);
  const splits = bestSplits(value, T, layers);
  // More blocks than tasks never help: the table stops at T.
  const bound = (blocksLeft: number, tasks: number) => (tasks === 0 ? 0 : splits[Math.min(blocksLeft, layers) - 1]![tasks]!);
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
    if (partial + bound(left, unserved) + slack() < bestSum) return;
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
      children.push({ block, estimate: partial + value[block]! + bound(left - 1, unserved ^ block) });
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

/**
 * bound[k − 1][R]: the best split of the tasks R into at most k blocks, Σ w(P) — what R can still
 * add with k groups left (B · 3^T / 2 steps). Built layer by layer: a split into ≤ k blocks is the
 * lowest task's block plus a split of the rest into ≤ k − 1.
 */
function bestSplits(value: Float64Array, T: number, layers: number): Float64Array[] {
  const size = 1 << T;
  const out: Float64Array[] = [Float64Array.from(value)];
  out[0]![0] = 0;
  for (let k = 1; k < layers; k++) {
    const previous = out[k - 1]!;
    const best = new Float64Array(size);
    for (let set = 1; set < size; set++) {
      const lowest = set & -set;
      const rest = set ^ lowest;
      let top = previous[set]!;
      for (let sub = rest; sub; sub = (sub - 1) & rest) {
        const block = (rest ^ sub) | lowest; // every block containing the lowest task, but not all of `set`
        top = Math.max(top, value[block]! + previous[set ^ block]!);
      }
      best[set] = top;
    }
    out.push(best);
  }
  return out;
}

function preferGroup(candidate: number, incumbent: number): boolean {
  const a = popcount(candidate);
  const b = popcount(incumbent);
  return a !== b ? a < b : candidate < incumbent;
}
