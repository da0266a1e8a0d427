/**
 * The tracked proximal inter-task affinity M (T × T, row = source task s, column = target task j)
 * and how one group's step is recorded into it (spec §3, the authors' `form_task_affinity.update`).
 */

/** Row-major T × T affinity matrix as plain numbers (JSON-serialisable). */
export type AffinityMatrix = number[][];

export function zeroAffinity(numTasks: number): AffinityMatrix {
  return Array.from({ length: numTasks }, () => new Array<number>(numTasks).fill(0));
}

/**
 * Records the effect of one step on Σ_{i∈G} L_i into `M` (in place), with decay `beta`:
 * M[s, j] ← (1 − β) M[s, j] + β a. `before`/`after` are all tasks' losses from the forward passes
 * just before and just after that step (our crediting; the authors' code used the pair of forwards
 * one group earlier). With a_j = (1 − after_j / before_j) / |G|:
 * - inter-group (j ∉ G): a = a_j for every source s ∈ G;
 * - intra-group (s, j ∈ G): s = j: a_j, recorded only when a_j ≥ 0; otherwise a_j when
 *   a_j · a_s ≥ 0, else −max(a_j, a_s).
 * Tasks whose loss before the step is not positive are skipped, as in the authors' code (the ratio
 * is undefined; they used ≤ 0 as "no previous loss").
 */
export function recordGroupStep(M: AffinityMatrix, group: readonly number[], before: readonly number[], after: readonly number[], beta: number): void {
  const size = group.length;
  const change = before.map((b, j) => (b > 0 ? (1 - after[j]! / b) / size : undefined));
  const inGroup = new Set(group);
  const record = (s: number, j: number, a: number) => (M[s]![j] = (1 - beta) * M[s]![j]! + beta * a);
  for (const s of group) {
    const own = change[s];
    change.forEach((aj, j) => {
      if (aj === undefined) return;
      if (!inGroup.has(j)) return record(s, j, aj);
      if (own === undefined) return;
      if (s === j) {
        if (aj >= 0) record(s, j, aj);
      } else if (aj * own >= 0) record(s, j, aj);
      else record(s, j, -Math.max(aj, own));
    });
  }
}

/**
 * The similarity the authors cluster: column i of M divided by M[i, i] (each target's affinities
 * relative to its own self-improvement), then symmetrised, X = (X + Xᵀ)/2. Undefined (returns
 * undefined) while some M[i, i] is 0 — no self-affinity has been recorded yet — where the authors'
 * code would divide by zero.
 */
export function groupingSimilarity(M: AffinityMatrix): number[][] | undefined {
  const n = M.length;
  if (M.some((row, i) => !(row[i]! > 0) && !(row[i]! < 0))) return undefined;
  const X = M.map((row) => row.map((v, j) => v / M[j]![j]!));
  const out = X.map((row, i) => row.map((v, j) => (v + X[j]![i]!) / 2));
  return out.every((row) => row.every(Number.isFinite)) && n > 0 ? out : undefined;
}
