import { scaleRows } from './linalg/vector.js';
import { checkJacobian, checkLosses } from './validate.js';
import type { Aggregator, Weighting } from './types.js';

/** State of a {@link compose}d method. */
export interface ComposedState<A, B> {
  readonly weighting: A;
  readonly aggregator: B;
}

/**
 * A loss weighting followed by an aggregator, e.g. UW-PCGrad (transference paper): the weighting's
 * weights w scale the rows of G (the gradients of the weighted losses w_t L_t), then the aggregator
 * runs on the scaled rows. Implied weights w_t · v_t; head gradients are scaled by w_t (times the
 * aggregator's own head weights), as with a weighted loss.
 */
export function compose<A, B>(weighting: Weighting<A>, aggregator: Aggregator<B>): Aggregator<ComposedState<A, B>> {
  const name = `${weighting.name}-${aggregator.name}`;
  const composed: Aggregator<ComposedState<A, B>> = {
    name,
    nativeScale: aggregator.nativeScale,
    initialState: (n) => ({ weighting: weighting.initialState(n), aggregator: aggregator.initialState(n) }),
    aggregate(jacobian, input, state) {
      const g = checkJacobian(name, jacobian);
      checkLosses(name, input, g.rows);
      const current = state ?? composed.initialState(g.rows);
      const w = weighting.weigh(input, current.weighting);
      const inner = aggregator.aggregate(scaleRows(g, w.weights), { ...input, losses: input.losses.map((l, t) => l * w.weights[t]!) }, current.aggregator);
      const weights = inner.weights.map((v, t) => v * w.weights[t]!);
      const headWeights = w.weights.map((v, t) => v * (inner.headWeights?.[t] ?? 1));
      return { direction: inner.direction, weights, headWeights, state: { weighting: w.state, aggregator: inner.state } };
    },
  };
  return aggregator.space ? { ...composed, space: aggregator.space } : composed;
}
