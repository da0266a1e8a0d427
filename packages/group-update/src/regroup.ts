import { affinityPropagation } from './affinity-propagation.js';
import { groupingSimilarity, type AffinityMatrix } from './proximal-affinity.js';
import type { ResolvedOptions } from './options.js';

/**
 * The authors' `next_group`: cluster the similarity derived from the tracked affinity with Affinity
 * Propagation; while no exemplar is found, retry with `convergenceIter + retryIncrement`, up to
 * `attempts` times; if none succeeds (or the similarity is undefined because some task has no
 * self-affinity yet), keep the previous groups. Groups come out in exemplar order.
 */
export function regroup(M: AffinityMatrix, previous: readonly (readonly number[])[], settings: ResolvedOptions['clustering']): { groups: number[][]; regrouped: boolean } {
  const similarity = groupingSimilarity(M);
  if (!similarity) return { groups: previous.map((g) => [...g]), regrouped: false };
  let convergenceIter = settings.convergenceIter;
  for (let attempt = 0; attempt < settings.attempts; attempt++) {
    const { labels, exemplars } = affinityPropagation(similarity, {
      ...(settings.preference === undefined ? {} : { preference: settings.preference }),
      damping: settings.damping,
      convergenceIter,
      maxIter: settings.maxIter,
      seed: settings.seed,
    });
    if (exemplars.length > 0) return { groups: exemplars.map((_, k) => labels.flatMap((label, task) => (label === k ? [task] : []))), regrouped: true };
    convergenceIter += settings.retryIncrement;
  }
  return { groups: previous.map((g) => [...g]), regrouped: false };
}
