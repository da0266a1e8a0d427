import { aggregatorRule, lossWeightingRule, type Parameter, type StepContext, type UpdateRule } from '@mtl/core';
import type { InnerRule } from './options.js';

/** How one group is stepped. */
export interface GroupStepPlan {
  /** Task indices of the group. */
  readonly group: readonly number[];
  readonly groupNorm: boolean;
  readonly headLrScale: number;
  /** Combines the group's tasks (one rule per group composition, it keeps its own state). */
  readonly inner: UpdateRule | undefined;
}

export interface GroupStepOutcome {
  /** All tasks' losses at the parameters just before this group's step. */
  readonly before: number[];
  /**
   * All tasks' losses just after it, when this step had to read them itself; undefined on the fast
   * path, where the next group's forward pass (or the batch's closing forward) supplies them.
   */
  readonly after: number[] | undefined;
}

/**
 * One optimizer step on the group's loss, on the shared parameters and the group's own task
 * parameters only: every other parameter keeps its value and its optimizer state (core's
 * `applyGradients` / `stepTasks` contract).
 *
 * Fast path (summed or group-normalised loss, heads at the base learning rate): the gradient pass
 * `weightedLossGradients` also gives the losses before the step, and the forward after the step is
 * the next group's gradient pass, so a batch costs groups × (forward + backward) + one closing
 * forward: the paper's count. Otherwise `ctx.stepTasks` does the step (one optimizer call with the
 * heads' learning-rate scale, or the inner rule on a context restricted to the group) and its own
 * closing forward: one forward more per group.
 */
export function stepGroup(ctx: StepContext, plan: GroupStepPlan): GroupStepOutcome {
  const names = plan.group.map((i) => ctx.tasks[i]!.name);
  const norm = plan.groupNorm ? 1 / plan.group.length : 1;
  if (plan.inner || plan.headLrScale !== 1) {
    const result = ctx.stepTasks(names, {
      ...(plan.inner ? { rule: plan.inner } : { weights: names.map(() => norm) }),
      ...(plan.headLrScale === 1 ? {} : { headLrScale: plan.headLrScale }),
    });
    return { before: result.before, after: result.after };
  }
  const parameters = groupParameters(ctx, names);
  const inGroup = new Set(plan.group);
  const grads = ctx.weightedLossGradients(
    ctx.tasks.map((_, i) => (inGroup.has(i) ? norm : 0)),
    { parameters },
  );
  const before = [...ctx.losses()]; // remembered by the gradient pass: no extra forward
  ctx.applyGradients(grads, { parameters });
  return { before, after: undefined };
}

/** The shared parameters plus the group's own ones (as `stepTasks` scopes them). */
function groupParameters(ctx: StepContext, names: readonly string[]): Parameter[] {
  const shared = ctx.model.sharedParameters;
  const sharedKeys = new Set(shared.map((p) => p.key));
  const own = new Map(names.flatMap((n) => ctx.model.taskParameters(n)).filter((p) => !sharedKeys.has(p.key)).map((p) => [p.key, p] as const));
  return [...shared, ...own.values()];
}

/** Core's rule for a loss weighting or a gradient aggregator, to run on a group's restricted context. */
export function innerUpdateRule(inner: InnerRule): UpdateRule {
  return 'aggregate' in inner ? aggregatorRule(inner) : lossWeightingRule(inner);
}
