import { affinityPropagation } from './affinity-propagation.js';
import { groupingSimilarity, type AffinityMatrix } from './proximal-affinity.js';
import type { ResolvedOptions } from './options.js';

/**
 * The authors' `next_group`: cluster the similarity derived from the tracked affinity with Affinity
 * Propagation; while no exemplar is found, retry with `convergenceIter + retryIncrement`, up to
 * `attempts` times; if none succeeds (or the similarity is undefined because some task has no
 * self-affinity yet), keep the previous groups. Groups come out in exemplar order. Each attempt
 * draws fresh degeneracy noise (`drawSeed`), as scikit-learn does from NumPy's global generator when
 * no `random_state` is given (the authors' call): on the symmetrised similarity the messages can
 * oscillate, and the noise decides between near-tied answers.
 */
export function regroup(M: AffinityMatrix, previous: readonly (readonly number[])[], settings: ResolvedOptions['clustering'], drawSeed: () => number): { groups: number[][]; regrouped: boolean } {
  const similarity = groupingSimilarity(M);
  if (!similarity) return { groups: previous.map((g) => [...g]), regrouped: false };
  let convergenceIter = settings.convergenceIter;
  for (let attempt = 0; attempt < settings.attempts; attempt++) {
    const { labels, exemplars } = affinityPropagation(similarity, {
      ...(settings.preference === undefined ? {} : { preference: settings.preference }),
      damping: settings.damping,
      convergenceIter,
      maxIter: settings.maxIter,
      seed: drawSeed(),
    });
    if (exemplars.length > 0) return { groups: exemplars.map((_, k) => labels.flatMap((label, task) => (label === k ? [task] : []))), regrouped: true };
    convergenceIter += settings.retryIncrement;
  }
  return { groups: previous.map((g) => [...g]), regrouped: false };
}
