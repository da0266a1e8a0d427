import type { ConalArchitecture } from './architecture.js';
import { deriveArchitecture } from './derive.js';
import { ConalSearchSpace } from './search-space.js';
import { runSearch, splitOptions, type AlphaRecord, type ConalSearchOptions, type NoticingStats } from './search.js';

export interface ConalSearchResult {
  /** The derived architecture (JSON-safe; rebuild with `buildDerivedModel`). */
  readonly architecture: ConalArchitecture;
  /** softmax(α_t) over the search: at the start, every `historyEvery` steps, at the end. */
  readonly alphaHistory: readonly AlphaRecord[];
  readonly noticing: NoticingStats;
  readonly steps: number;
  readonly milliseconds: number;
  /** The searched network, when `keepSearchSpace` is set (the caller disposes it). */
  readonly searchSpace?: ConalSearchSpace;
}

/**
 * CoNAL (Algorithm 1): builds the search space over `blocks`, runs the bi-level conflict-noticed
 * search, and derives the architecture (argmax α_t per task, unused modules pruned).
 */
export function conalSearch(options: ConalSearchOptions): ConalSearchResult {
  const { space: spaceOptions, search } = splitOptions(options);
  const space = new ConalSearchSpace(spaceOptions);
  try {
    const run = runSearch(space, spaceOptions.tasks, search, spaceOptions.seed ?? 0);
    const architecture = deriveArchitecture(space, spaceOptions.tasks);
    return { architecture, ...run, ...(search.keepSearchSpace ? { searchSpace: space } : {}) };
  } finally {
    if (!search.keepSearchSpace) space.dispose();
  }
}
