import type { LambdaSearch } from '../options.js';
import { searchGreedy } from './greedy.js';
import { searchPair, searchSimplexGrid } from './grid.js';
import { binaryLine, gridLine } from './line-search.js';
import type { Objective } from './objective.js';

export interface SearchSettings {
  readonly search: LambdaSearch;
  readonly grid: readonly number[];
  readonly binarySteps: number;
}

/** Picks Λ* for `count` branches with the configured strategy. */
export function searchWeights(objective: Objective, count: number, settings: SearchSettings): { weights: readonly number[]; score: number; evaluations: number; branchScores: readonly number[] } {
  if (count === 1) return { weights: [1], score: objective([1]), evaluations: 1, branchScores: [] };
  const line = settings.search === 'binary' ? binaryLine(settings.binarySteps) : gridLine(settings.grid);
  if (count === 2 && settings.search !== 'greedy') return { ...searchPair(objective, line), branchScores: [] };
  if (settings.search === 'grid') return { ...searchSimplexGrid(objective, count, settings.grid), branchScores: [] };
  return searchGreedy(objective, count, line);
}
