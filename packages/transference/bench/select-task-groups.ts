// How far TAG's network selection scales: `node --import tsx --conditions=@mtl/source bench/select-task-groups.ts`
// (from packages/transference). Random N(0, 1) affinity matrices; each search once; times are indicative.
import { SeededRandom } from '@mtl/core';
import { selectTaskGroups } from '../src/index.js';

const rng = new SeededRandom(1);
const cases: [number, number, ('exhaustive' | 'branch-and-bound')[]][] = [
  [6, 3, ['exhaustive', 'branch-and-bound']],
  [8, 3, ['exhaustive', 'branch-and-bound']],
  [9, 3, ['exhaustive', 'branch-and-bound']],
  [10, 4, ['branch-and-bound']],
  [12, 4, ['branch-and-bound']],
  [14, 5, ['branch-and-bound']],
  [16, 3, ['branch-and-bound']],
  [16, 5, ['branch-and-bound']],
  [16, 8, ['branch-and-bound']],
];
for (const [T, budget, searches] of cases) {
  const affinity = Array.from({ length: T }, () => Array.from({ length: T }, () => rng.normal()));
  const results = searches.map((search) => {
    const started = performance.now();
    const result = selectTaskGroups(affinity, { budget, search });
    return { search, ms: performance.now() - started, result };
  });
  const same = results.every((r) => JSON.stringify(r.result) === JSON.stringify(results[0]!.result));
  console.log(`T=${T} B=${budget}: ${results.map((r) => `${r.search} ${r.ms.toFixed(0)} ms`).join(', ')}${results.length > 1 ? (same ? ' (same selection)' : ' (DIFFERENT)') : ''}`);
}
