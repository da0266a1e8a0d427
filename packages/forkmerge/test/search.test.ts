import { describe, expect, it } from 'vitest';
import { binaryLine, gridLine, searchGreedy, searchPair, searchSimplexGrid, DEFAULT_GRID } from '../src/index.js';

describe('λ search', () => {
  it('grid search over λ finds the grid point nearest the peak, ties to the smaller λ', () => {
    const peak = (at: number) => (w: readonly number[]) => -((w[1]! - at) ** 2);
    expect(searchPair(peak(0.63), gridLine(DEFAULT_GRID)).weights[1]).toBeCloseTo(0.6, 12);
    const flat = searchPair(() => 1, gridLine(DEFAULT_GRID));
    expect(flat.weights).toEqual([1, 0]);
    expect(flat.evaluations).toBe(6);
  });

  it('binary search halves towards the better end', () => {
    const result = searchPair((w) => -Math.abs(w[1]! - 0.8), binaryLine(8));
    expect(Math.abs(result.weights[1]! - 0.8)).toBeLessThan(1 / 2 ** 8 + 1e-12);
    expect(result.evaluations).toBe(10);
    const zero = searchPair((w) => -w[1]!, binaryLine(6));
    expect(zero.weights).toEqual([1, 0]);
  });

  it('greedy search (Algorithm 3) orders branches by their own score and bounds each weight', () => {
    // Score peaks at Λ = (0.2, 0.5, 0.3, 0): branch 1 alone is best, branch 3 useless.
    const target = [0.2, 0.5, 0.3, 0];
    const f = (w: readonly number[]) => -w.reduce((s, x, i) => s + (x - target[i]!) ** 2, 0);
    const result = searchGreedy(f, 4, gridLine(DEFAULT_GRID));
    expect(result.branchScores).toHaveLength(4);
    expect(result.weights[3]).toBe(0);
    expect(result.weights[1]).toBeGreaterThan(result.weights[0]!);
    expect(result.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(f(result.weights)).toBeGreaterThan(-0.02);
    // O(B · |grid|) evaluations, far fewer than the exhaustive grid.
    const exhaustive = searchSimplexGrid(f, 4, DEFAULT_GRID);
    expect(result.evaluations).toBeLessThanOrEqual(4 + 3 * 6);
    expect(exhaustive.evaluations).toBeGreaterThan(100);
    expect(exhaustive.score).toBeGreaterThanOrEqual(result.score);
  });

  it('greedy search returns a vertex exactly when the other branches only hurt', () => {
    const f = (w: readonly number[]) => w[2]! - w[0]! - w[1]!;
    expect(searchGreedy(f, 3, gridLine(DEFAULT_GRID)).weights).toEqual([0, 0, 1]);
  });
});
