import { CachedObjective, normalise, vertex, type Objective } from './objective.js';
import type { LineSearch } from './line-search.js';

/** A greedy search's result, with each branch's own score (the order it used). */
export interface GreedyResult {
  readonly weights: readonly number[];
  readonly score: number;
  readonly evaluations: number;
  readonly branchScores: readonly number[];
}

/**
 * Algorithm 3 of the paper: sort the branches by their own validation score (best first), start
 * from Λ̃ = e₁, and for b = 2..B search Λ̃_b in [0, U] with U the mean of Λ̃₁..Λ̃_{b−1}, scoring the
 * normalised merge of the first b branches. Λ* = Λ̃ / ‖Λ̃‖₁, in the branches' original order.
 * O(B · line-search) evaluations instead of exponential.
 */
export function searchGreedy(objective: Objective, count: number, line: LineSearch): GreedyResult {
  const f = new CachedObjective(objective);
  const branchScores = Array.from({ length: count }, (_, b) => f.score(vertex(count, b)));
  // Stable: equal scores keep the branch order (branch 0, usually target-only, first).
  const order = branchScores.map((s, b) => [s, b] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, b]) => b);
  const tilde = new Array<number>(count).fill(0);
  tilde[order[0]!] = 1;
  for (let k = 1; k < count; k++) {
    const upper = order.slice(0, k).reduce((sum, b) => sum + tilde[b]!, 0) / k;
    const b = order[k]!;
    const { x } = line((value) => {
      const candidate = [...tilde];
      candidate[b] = value;
      return f.score(normalise(candidate));
    }, upper);
    tilde[b] = x;
  }
  const weights = normalise(tilde);
  return { weights, score: f.score(weights), evaluations: f.evaluations, branchScores };
}
