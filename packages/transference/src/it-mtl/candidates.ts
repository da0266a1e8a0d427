import { MtlError, type AggregationInput, type GradientAggregator, type Matrix } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';

/**
 * One entry of IT-MTL's candidate set J:
 * - `'sum'`: ∇θs Σ_t w_t L_t, the usual multi-task gradient;
 * - `'each-task'`: one candidate per task, w_t ∇θs L_t (the paper's "left" / "right" gradients);
 * - `{ tasks, name? }`: the gradient of a subset of the tasks' (weighted) losses;
 * - a `GradientAggregator` (e.g. PCGrad from `@mtl/weighting`, passed in by the caller): its direction
 *   on the Jacobian of the weighted losses (rows w_t ∇θs L_t, losses w_t L_t).
 */
export type CandidateSpec = 'sum' | 'each-task' | { readonly tasks: readonly string[]; readonly name?: string } | GradientAggregator<unknown>;

/** A candidate as the rule runs it: its label (for `info`) and how it turns the weighted Jacobian into a direction. */
export type Candidate =
  | { readonly kind: 'subset'; readonly label: string; readonly tasks: readonly number[] }
  | { readonly kind: 'aggregator'; readonly label: string; readonly aggregator: GradientAggregator<unknown>; readonly slot: number };

export interface CandidateDirection {
  readonly direction: Float64Array;
  /** The task weights the direction implies, `direction = Σ_t weights_t ∇θs L_t`. */
  readonly weights: readonly number[];
}

/** Checks the specs up front (shape only: task names are checked against the step's tasks later). */
export function validateCandidateSpecs(specs: unknown): readonly CandidateSpec[] {
  if (!Array.isArray(specs) || specs.length === 0) invalidOption('candidates', specs, "a non-empty array of 'sum', 'each-task', { tasks } or gradient aggregators");
  specs.forEach((spec: unknown, k) => {
    if (spec === 'sum' || spec === 'each-task') return;
    if (isAggregator(spec)) {
      if (spec.space !== undefined && spec.space !== 'parameters') {
        invalidOption(`candidates[${k}]`, spec.name, `an aggregator on the shared-parameter Jacobian (space 'parameters'); "${spec.name}" works in space '${spec.space}'`);
      }
      return;
    }
    if (spec && typeof spec === 'object' && Array.isArray((spec as { tasks?: unknown }).tasks)) {
      const { tasks, name, ...rest } = spec as { tasks: unknown[]; name?: unknown };
      if (Object.keys(rest).length) invalidOption(`candidates[${k}]`, Object.keys(rest)[0], 'a { tasks, name? } object without other keys');
      if (tasks.length === 0 || tasks.some((t) => typeof t !== 'string')) invalidOption(`candidates[${k}].tasks`, tasks, 'a non-empty array of task names');
      if (name !== undefined && typeof name !== 'string') invalidOption(`candidates[${k}].name`, name, 'a string');
      return;
    }
    invalidOption(`candidates[${k}]`, spec, "'sum', 'each-task', { tasks: string[] } or a GradientAggregator");
  });
  return specs as readonly CandidateSpec[];
}

/** Expands the specs for the step's tasks; labels must be distinct (they name the `info` entries). */
export function expandCandidates(specs: readonly CandidateSpec[], taskNames: readonly string[]): Candidate[] {
  const out: Candidate[] = [];
  let slot = 0;
  for (const spec of specs) {
    if (spec === 'sum') out.push({ kind: 'subset', label: 'sum', tasks: taskNames.map((_, t) => t) });
    else if (spec === 'each-task') taskNames.forEach((name, t) => out.push({ kind: 'subset', label: `task:${name}`, tasks: [t] }));
    else if (isAggregator(spec)) out.push({ kind: 'aggregator', label: spec.name, aggregator: spec, slot: slot++ });
    else {
      const indices = spec.tasks.map((name) => {
        const t = taskNames.indexOf(name);
        if (t < 0) throw new MtlError('UNKNOWN_TASK', `IT-MTL candidate names unknown task "${name}"`, { option: 'candidates', task: name, known: taskNames });
        return t;
      });
      out.push({ kind: 'subset', label: spec.name ?? `tasks:${spec.tasks.join('+')}`, tasks: [...new Set(indices)].sort((a, b) => a - b) });
    }
  }
  const seen = new Set<string>();
  for (const c of out) {
    if (seen.has(c.label)) invalidOption('candidates', c.label, 'candidates with distinct labels (give a { tasks } candidate a name)');
    seen.add(c.label);
  }
  return out;
}

export function aggregatorSpecs(specs: readonly CandidateSpec[]): GradientAggregator<unknown>[] {
  return specs.filter(isAggregator);
}

export function isAggregator(spec: unknown): spec is GradientAggregator<unknown> {
  return !!spec && typeof spec === 'object' && typeof (spec as GradientAggregator).aggregate === 'function' && typeof (spec as GradientAggregator).initialState === 'function';
}

/** Σ_{t∈tasks} rows_t of the weighted Jacobian, in float64. */
export function subsetDirection(weighted: Matrix, tasks: readonly number[], weights: readonly number[]): CandidateDirection {
  const direction = new Float64Array(weighted.cols);
  for (const t of tasks) for (let k = 0; k < weighted.cols; k++) direction[k]! += weighted.data[t * weighted.cols + k]!;
  return { direction, weights: weights.map((w, t) => (tasks.includes(t) ? w : 0)) };
}

/** Runs an aggregator on the weighted Jacobian; its implied weights are mapped back to the raw task gradients. */
export function aggregatorDirection<S>(
  aggregator: GradientAggregator<S>,
  weighted: Matrix,
  input: AggregationInput,
  state: S,
  weights: readonly number[],
): CandidateDirection & { readonly state: S } {
  const result = aggregator.aggregate(weighted, input, state);
  if (result.direction.length !== weighted.cols) {
    throw new MtlError('SHAPE_MISMATCH', `aggregator "${aggregator.name}" returned a direction of ${result.direction.length} numbers for a Jacobian of ${weighted.cols} columns`, {
      aggregator: aggregator.name,
      expected: weighted.cols,
      actual: result.direction.length,
    });
  }
  const bad = Array.from(result.direction).findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new MtlError('NON_FINITE_GRADIENT', `aggregator "${aggregator.name}" returned a non-finite direction (entry ${bad})`, { aggregator: aggregator.name, index: bad });
  if (result.weights.length !== weights.length) {
    throw new MtlError('SHAPE_MISMATCH', `aggregator "${aggregator.name}" returned ${result.weights.length} weights for ${weights.length} tasks`, {
      aggregator: aggregator.name,
      expected: weights.length,
      actual: result.weights.length,
    });
  }
  return {
    direction: Float64Array.from(result.direction),
    weights: result.weights.map((v, t) => v * weights[t]!),
    state: result.state,
  };
}
