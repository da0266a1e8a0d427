import { describe, expect, it } from 'vitest';
import { isMtlError, SeededRandom } from '@mtl/core';
import { selectTaskGroups, SINGLETON_SCORE } from '../src/index.js';

/**
 * A literal transcription of the authors' TAG network selection notebook
 * (google-research/tag/network_selection/TAG_network_selection.ipynb: gen_task_combinations,
 * the 1/(|g|−1) normalisation, select_groups), with `revised_integrals[a][b]` read as our
 * affinity[b][a] — the issue fixes affinity[i][j] = Z(i→j) with the score of target j summing its
 * column. Returns the code's best value (the mean over tasks) and its groups.
 */
function notebookSelection(affinity: number[][], splits: number): { value: number; groups: number[][] } {
  const tasks = affinity.map((_, i) => i);
  const integrals = (a: number, b: number) => affinity[b]![a]!;
  const rtn = new Map<string, Map<number, number>>();
  const gen = (index: number, path: string, pathDict: Map<number, number>) => {
    if (index >= tasks.length) return;
    for (let i = index; i < tasks.length; i++) {
      const cur = tasks[i]!;
      let newPath = path;
      const newDict = new Map(pathDict);
      if (newPath) {
        newDict.set(cur, 0);
        for (const prev of pathDict.keys()) {
          newDict.set(prev, newDict.get(prev)! + integrals(prev, cur));
          newDict.set(cur, newDict.get(cur)! + integrals(cur, prev));
        }
        newPath = `${newPath}|${cur}`;
        rtn.set(newPath, newDict);
      } else {
        newDict.set(cur, 0);
        newPath = String(cur);
      }
      gen(i + 1, newPath, newDict);
      if (!newPath.includes('|')) {
        newDict.set(cur, -1e6);
        rtn.set(newPath, newDict);
      }
    }
  };
  gen(0, '', new Map());
  for (const [group, dict] of rtn) {
    if (group.includes('|')) for (const [task, v] of dict) dict.set(task, v / (group.split('|').length - 1));
  }
  const tup = [...rtn.entries()];
  let bestVal = -100000000;
  let bestGroup: string[] = [];
  const select = (index: number, cur: [string, Map<number, number>][]) => {
    const covered = new Set<number>();
    for (const [g] of cur) for (const t of g.split('|')) covered.add(Number(t));
    if (covered.size === tasks.length) {
      const bestTasks = new Map(tasks.map((t) => [t, -1e6]));
      for (const [, dict] of cur) for (const [task, v] of dict) bestTasks.set(task, Math.max(bestTasks.get(task)!, v));
      const avg = [...bestTasks.values()].reduce((a, b) => a + b, 0) / tasks.length;
      if (avg > bestVal) {
        bestVal = avg;
        bestGroup = cur.map(([g]) => g);
      }
    }
    if (cur.length === splits) return;
    for (let i = index; i < tup.length; i++) {
      const next = [...cur, tup[i]!];
      if (next.length <= splits) select(i + 1, next);
    }
  };
  select(0, []);
  return { value: bestVal, groups: bestGroup.map((g) => g.split('|').map(Number)) };
}

function randomAffinity(rng: SeededRandom, T: number): number[][] {
  return Array.from({ length: T }, () => Array.from({ length: T }, () => rng.normal()));
}

describe('selectTaskGroups', () => {
  it('scores a three-task case worked by hand', () => {
    // affinity[i][j] = Z(i→j). Pairs: s({0,1}, 0) = A[1][0] = 0.5, s({0,1}, 1) = A[0][1] = 0.4;
    // s({1,2}, 1) = A[2][1] = 0.9, s({1,2}, 2) = A[1][2] = 0.8; s({0,2}, 0) = A[2][0] = -0.3,
    // s({0,2}, 2) = A[0][2] = -0.2; all three: s(0) = (0.5 − 0.3)/2 = 0.1, s(1) = (0.4 + 0.9)/2 = 0.65,
    // s(2) = (−0.2 + 0.8)/2 = 0.3 → mean 0.35.
    const A = [
      [9, 0.4, -0.2],
      [0.5, 9, 0.8],
      [-0.3, 0.9, 9],
    ];
    const one = selectTaskGroups(A, { budget: 1 });
    expect(one.groups).toEqual([[0, 1, 2]]);
    expect(one.score).toBeCloseTo(0.35, 12);
    // Two groups: {0,1} serves 0 (0.5), {1,2} serves 1 (0.9) and 2 (0.8): (0.5 + 0.9 + 0.8)/3.
    const two = selectTaskGroups(A, { budget: 2 });
    expect(two.groups).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(two.score).toBeCloseTo(2.2 / 3, 12);
  });

  it('a singleton scores -1e6 for its task (the code’s rule), so it is chosen only when forced', () => {
    expect(SINGLETON_SCORE).toBe(-1e6);
    expect(selectTaskGroups([[3]], { budget: 2 })).toEqual({ groups: [[0]], score: -1e6 });
    // Task 2 hurts everyone, but with budget 3 a pair still beats leaving it alone.
    const A = [
      [0, 1, -5],
      [1, 0, -5],
      [-5, -5, 0],
    ];
    const res = selectTaskGroups(A, { budget: 3 });
    expect(res.groups.every((g) => g.length > 1)).toBe(true);
  });

  it('branch-and-bound equals exhaustive search, and both equal the notebook, on random matrices', () => {
    const rng = new SeededRandom(11);
    let cases = 0;
    for (let T = 1; T <= 6; T++) {
      for (let budget = 1; budget <= 4; budget++) {
        for (let rep = 0; rep < (T <= 4 ? 6 : 2); rep++) {
          const A = randomAffinity(rng, T);
          const ex = selectTaskGroups(A, { budget, search: 'exhaustive' });
          const bb = selectTaskGroups(A, { budget, search: 'branch-and-bound' });
          expect(bb).toEqual(ex);
          if (T <= 5 && budget <= 3) {
            const nb = notebookSelection(A, budget);
            expect(ex.score).toBeCloseTo(nb.value, 9);
            const sortGroups = (gs: number[][]) => gs.map((g) => [...g].sort((a, b) => a - b)).sort((a, b) => String(a).localeCompare(String(b)));
            // Random scores have no ties, so the notebook's first-found best is the same selection
            // (it can only differ by groups that serve no task, which we drop).
            if (ex.groups.length === nb.groups.length) expect(sortGroups(ex.groups)).toEqual(sortGroups(nb.groups));
          }
          cases++;
        }
      }
    }
    expect(cases).toBeGreaterThan(80);
  });

  it('branch-and-bound equals exhaustive on larger cases exhaustive can still run', () => {
    const rng = new SeededRandom(5);
    for (const [T, budget] of [
      [7, 2],
      [7, 3],
      [8, 2],
    ] as const) {
      const A = randomAffinity(rng, T);
      expect(selectTaskGroups(A, { budget, search: 'branch-and-bound' })).toEqual(selectTaskGroups(A, { budget, search: 'exhaustive' }));
    }
  });

  it('on exact ties (integer matrices) both searches reach the same best score', () => {
    const rng = new SeededRandom(8);
    for (let rep = 0; rep < 60; rep++) {
      const T = 2 + (rep % 4);
      const budget = 1 + (rep % 3);
      const A = Array.from({ length: T }, () => Array.from({ length: T }, () => Math.floor(rng.next() * 3) - 1));
      const ex = selectTaskGroups(A, { budget, search: 'exhaustive' });
      const bb = selectTaskGroups(A, { budget, search: 'branch-and-bound' });
      expect(bb.score).toBe(ex.score);
      expect(bb.groups.length).toBe(ex.groups.length);
    }
  });

  it('branch-and-bound handles 16 tasks and budgets above the task count', () => {
    const rng = new SeededRandom(9);
    const A = randomAffinity(rng, 16);
    const res = selectTaskGroups(A, { budget: 4 });
    expect(res.groups.length).toBeLessThanOrEqual(4);
    expect(new Set(res.groups.flat()).size).toBe(16);
    const small = randomAffinity(rng, 3);
    expect(selectTaskGroups(small, { budget: 9, search: 'branch-and-bound' })).toEqual(selectTaskGroups(small, { budget: 9, search: 'exhaustive' }));
  });

  it('rejects bad matrices and options with MtlError', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return isMtlError(e) ? e.code : 'not MtlError';
      }
      return 'no error';
    };
    expect(code(() => selectTaskGroups([], { budget: 1 }))).toBe('SHAPE_MISMATCH');
    expect(code(() => selectTaskGroups([[1, 2]], { budget: 1 }))).toBe('SHAPE_MISMATCH');
    expect(code(() => selectTaskGroups([[1, 2], [3]], { budget: 1 }))).toBe('SHAPE_MISMATCH');
    expect(code(() => selectTaskGroups([[1, NaN], [3, 4]], { budget: 1 }))).toBe('INVALID_DATA');
    expect(code(() => selectTaskGroups([[1]], { budget: 0 }))).toBe('INVALID_OPTION');
    expect(code(() => selectTaskGroups([[1]], { budget: 1.5 }))).toBe('INVALID_OPTION');
    expect(code(() => selectTaskGroups([[1]], { budget: 1, search: 'greedy' as never }))).toBe('INVALID_OPTION');
    expect(code(() => selectTaskGroups([[1]], { budget: 1, budgte: 2 } as never))).toBe('INVALID_OPTION');
    expect(code(() => selectTaskGroups(Array.from({ length: 17 }, () => new Array<number>(17).fill(0)), { budget: 2 }))).toBe('INVALID_OPTION');
  });
});
