import { MtlError } from './errors.js';
import { groupSlices, isSingleGroup, scatterDirection, sliceMatrix, type TaskGradients } from './gradients.js';
import type { MultiTaskModel } from './models/model.js';
import type { Aggregation, AggregationInput, GradientAggregator, Matrix } from './update-rules.js';

/** Checkpointable state of an aggregator run per sharing group: one state per group, in group order. */
export interface GroupedAggregatorState<S> {
  readonly sharingGroups: readonly { readonly tasks: readonly string[]; readonly state: S }[];
}

function isGrouped<S>(state: unknown): state is GroupedAggregatorState<S> {
  return typeof state === 'object' && state !== null && Array.isArray((state as { sharingGroups?: unknown }).sharingGroups);
}

/**
 * Aggregates a Jacobian so that each shared parameter is aggregated over the tasks that use it: with
 * hard sharing (one group of every task) this is exactly `aggregator.aggregate(jacobian, input, state)`;
 * with subset sharing the aggregator runs once per sharing group on that group's rows (its tasks)
 * and columns (its parameters), each group with its own state, and the directions are put side by
 * side. A task's reported weight (and head weight) is its weight in the first group that has it
 * (the trunk, when there is one). Representation-space Jacobians are always one block.
 */
export function aggregateByGroups<S>(
  aggregator: GradientAggregator<S>,
  gradients: TaskGradients,
  model: MultiTaskModel,
  input: AggregationInput,
  state: S | GroupedAggregatorState<S> | undefined,
): Aggregation<S | GroupedAggregatorState<S>> {
  const [rows, cols] = gradients.jacobian.shape;
  const data = gradients.jacobian.dataSync() as Float32Array;
  const slices = gradients.space === 'parameters' ? groupSlices(gradients, model) : [];
  if (slices.length === 0 || isSingleGroup(slices, rows, cols)) {
    const jacobian: Matrix = { rows, cols, data };
    return aggregator.aggregate(jacobian, input, isGrouped<S>(state) || state === undefined ? aggregator.initialState(rows) : state);
  }
  const previous = isGrouped<S>(state) ? state.sharingGroups : undefined;
  const direction = new Float64Array(cols);
  const weights = Array.from<number | undefined>({ length: rows });
  const heads = Array.from<number | undefined>({ length: rows });
  let anyHeads = false;
  const states = slices.map((slice, g) => {
    const known = previous?.[g];
    const own = known && known.tasks.join(',') === slice.group.tasks.join(',') ? known.state : aggregator.initialState(slice.rows.length);
    const result = aggregator.aggregate(sliceMatrix(data, cols, slice), { ...input, losses: slice.rows.map((r) => input.losses[r]!) }, own);
    const width = slice.columns.reduce((n, c) => n + c.size, 0);
    if (result.direction.length !== width) {
      throw new MtlError('SHAPE_MISMATCH', `aggregator "${aggregator.name}" returned a direction of ${result.direction.length} numbers for a group of ${width} columns`, {
        aggregator: aggregator.name,
        expected: width,
        actual: result.direction.length,
      });
    }
    scatterDirection(direction, slice, result.direction);
    slice.rows.forEach((r, i) => {
      weights[r] ??= result.weights[i];
      if (result.headWeights) {
        anyHeads = true;
        heads[r] ??= result.headWeights[i];
      }
    });
    return { tasks: slice.group.tasks, state: result.state };
  });
  return {
    direction,
    weights: weights.map((w) => w ?? 1),
    ...(anyHeads ? { headWeights: heads.map((w) => w ?? 1) } : {}),
    state: { sharingGroups: states },
  };
}
