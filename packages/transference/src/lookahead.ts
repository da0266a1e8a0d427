import { isMtlError, isWeightParameter, type StepContext, type tf } from '@mtl/core';

/**
 * Every task's loss after one *simulated* optimizer step on `grads`: the optimizer's own update
 * (`optimizer.preview`: SGD, momentum with its current velocity, Adam with its moments and step
 * counts, clipping and the scheduled learning rate) is written into the parameters that have a
 * gradient and are not frozen, the batch is run forward, and the previous values are put back exactly (`ctx.lookahead`).
 * Nothing — parameters, optimizer state, caches — is changed. Returns `null` when a lookahead loss
 * is not finite (the step would diverge), so callers can rank that step last instead of failing.
 */
export function lookaheadLosses(ctx: StepContext, grads: ReadonlyMap<string, tf.Tensor>): number[] | null {
  // Simulate exactly what applyGradients would do: frozen parameters stay where they are.
  const values = ctx.optimizer.preview(ctx.model.parameters.filter((p) => isWeightParameter(p) && !ctx.isFrozen(p.key)), grads);
  try {
    return ctx.lookahead(values, () => {
      try {
        return [...ctx.evaluateLosses()];
      } catch (error) {
        if (isMtlError(error, 'NON_FINITE_LOSS')) return null;
        throw error;
      }
    });
  } finally {
    for (const t of values.values()) t.dispose();
  }
}

/** Relative progress of task j: 1 − after/before; NaN when the ratio is undefined (before ≤ 0 or not finite). */
export function relativeProgress(before: number, after: number): number {
  if (!(before > 0) || !Number.isFinite(before) || !Number.isFinite(after)) return NaN;
  return 1 - after / before;
}
