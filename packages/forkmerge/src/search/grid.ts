import { CachedObjective, normalise, type Objective, type SearchResult } from './objective.js';
import type { LineSearch } from './line-search.js';

/** Two branches: λ* = argmax over the line search of f([1 − λ, λ]) (Algorithm 1's search step). */
export function searchPair(objective: Objective, line: LineSearch): SearchResult {
  const f = new CachedObjective(objective);
  const { x } = line((lambda) => f.score(pair(lambda)), 1);
  const weights = pair(x);
  return { weights, score: f.score(weights), evaluations: f.evaluations };
}

/**
 * Exhaustive search over every combination of grid values for the B unnormalised weights,
 * normalised onto the simplex (|grid|^B − 1 candidates before deduplication). Ties go to the
 * candidate enumerated first (more weight on earlier branches).
 */
export function searchSimplexGrid(objective: Objective, count: number, grid: readonly number[]): SearchResult {
  const f = new CachedObjective(objective);
  const values = [...new Set(grid)].sort((a, b) => b - a);
  let best: { weights: number[]; score: number } | undefined;
  const current: number[] = [];
  const visit = (depth: number): void => {
    if (depth === count) {
      if (current.every((w) => w === 0)) return;
      const weights = normalise(current);
      const score = f.score(weights);
      if (!best || score > best.score) best = { weights, score };
      return;
    }
    for (const v of values) {
      current.push(v);
      visit(depth + 1);
      current.pop();
    }
  };
  visit(0);
  return { weights: best!.weights, score: best!.score, evaluations: f.evaluations };
}

function pair(lambda: number): number[] {
  return lambda === 0 ? [1, 0] : lambda === 1 ? [0, 1] : [1 - lambda, lambda];
}
