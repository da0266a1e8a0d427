/** A validation score of the merge Σ_b Λ_b θ_b as a function of Λ; higher is better. */
export type Objective = (weights: readonly number[]) => number;

/** The outcome of a search: Λ*, its score and how many distinct candidates were scored. */
export interface SearchResult {
  readonly weights: readonly number[];
  readonly score: number;
  readonly evaluations: number;
}

/** Wraps an objective so that each distinct Λ is scored once; counts distinct evaluations. */
export class CachedObjective {
  private readonly cache = new Map<string, number>();

  constructor(private readonly objective: Objective) {}

  get evaluations(): number {
    return this.cache.size;
  }

  score(weights: readonly number[]): number {
    const key = weights.map((w) => w.toPrecision(12)).join(',');
    let value = this.cache.get(key);
    if (value === undefined) {
      value = this.objective(weights);
      if (Number.isNaN(value)) value = -Infinity;
      this.cache.set(key, value);
    }
    return value;
  }
}

/** Scales non-negative weights to sum 1 (an all-zero vector is returned unchanged). */
export function normalise(weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  return sum > 0 ? weights.map((w) => w / sum) : [...weights];
}

/** The vertex e_b of the simplex in `count` dimensions. */
export function vertex(count: number, b: number): number[] {
  return Array.from({ length: count }, (_, i) => (i === b ? 1 : 0));
}
