import { MtlError, computeTaskGradients, sharedGradientsFromDirection, targetOf, tf, type GradientAggregator, type LossWeighting, type Parameter, type StepContext } from '@mtl/core';
import type { InnerRule } from './options.js';

/** How one group is stepped. */
export interface GroupStepPlan {
  /** Task indices of the group. */
  readonly group: readonly number[];
  readonly groupNorm: boolean;
  readonly headLrScale: number;
  readonly inner: InnerRule | undefined;
  /** The inner rule's state for this group's composition (undefined: initial). */
  readonly innerState: unknown;
}

export interface GroupStepOutcome {
  /** All tasks' losses at the parameters just before this group's step. */
  readonly before: number[];
  readonly innerState: unknown;
}

/**
 * One optimizer step on the group's loss, on the shared parameters and the group's own task
 * parameters only (every other parameter and its optimizer state is untouched: core's optimizer
 * keeps per-parameter state and `applyGradients` steps only what it is given). Returns the losses
 * of all tasks before the step, read from the same forward pass as the gradient when the group's
 * loss is a (weighted) sum, so a batch costs groups × (forward + backward) + one closing forward.
 * With a gradient aggregator, the group's per-task Jacobian is taken (one backward per task) and
 * `knownBefore` — or an extra forward when unknown — supplies the losses.
 */
export function stepGroup(ctx: StepContext, plan: GroupStepPlan, knownBefore: readonly number[] | undefined): GroupStepOutcome {
  const model = ctx.model;
  const groupTasks = plan.group.map((i) => ctx.tasks[i]!);
  const heads = groupTasks.flatMap((t) => model.taskParameters(t.name));
  const inner = plan.inner;
  if (inner && 'aggregate' in inner) {
    const before = knownBefore ? [...knownBefore] : [...ctx.evaluateLosses()];
    let innerState: unknown;
    tf.tidy(() => {
      const result = aggregatedGradients(ctx, inner, plan, before);
      innerState = result.state;
      apply(ctx, result.grads, model.sharedParameters, heads, plan.headLrScale);
    });
    return { before, innerState };
  }
  let before: number[] = [];
  let innerState = plan.innerState;
  tf.tidy(() => {
    const params = [...model.sharedParameters, ...heads];
    // An exception must not cross tfjs's gradient scope (its tape tensors would leak): failures inside
    // are kept and rethrown once the pass is over, before anything is applied.
    let failure: Error | undefined;
    const { grads } = tf.variableGrads(() => {
      const outputs = model.forward(ctx.batch.x);
      const losses = ctx.tasks.map((t) => t.loss(outputs[t.name]!, targetOf(ctx.batch, t)));
      try {
        before = Array.from(tf.stack(losses).dataSync());
        assertFiniteLosses(ctx, before);
        const weighting = weightsFor(ctx, inner, plan, before, innerState);
        innerState = weighting.state;
        return tf.addN(plan.group.map((task, k) => tf.mul(losses[task]!, weighting.weights[k]!))) as tf.Scalar;
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        return tf.mul<tf.Scalar>(losses[plan.group[0]!]!, 0);
      }
    }, params.map((p) => p.variable));
    if (failure) throw failure;
    const byKey = new Map(params.flatMap((p) => (grads[p.variable.name] ? [[p.key, grads[p.variable.name]!] as const] : [])));
    apply(ctx, byKey, model.sharedParameters, heads, plan.headLrScale);
  });
  return { before, innerState };
}

/** Shared parameters at the base learning rate, the group's heads at × headLrScale. */
function apply(ctx: StepContext, grads: ReadonlyMap<string, tf.Tensor>, shared: readonly Parameter[], heads: readonly Parameter[], headLrScale: number): void {
  if (headLrScale === 1) return ctx.applyGradients(grads, { parameters: [...shared, ...heads] });
  ctx.applyGradients(grads, { parameters: shared });
  if (heads.length) ctx.applyGradients(grads, { parameters: heads, lrScale: headLrScale });
}

/** Loss weights of the group's tasks: 1 each (or 1/|G| with groupNorm), or the inner loss weighting's. */
function weightsFor(ctx: StepContext, inner: LossWeighting | undefined, plan: GroupStepPlan, before: readonly number[], state: unknown): { weights: readonly number[]; state: unknown } {
  const norm = plan.groupNorm ? 1 / plan.group.length : 1;
  if (!inner) return { weights: plan.group.map(() => norm), state };
  const result = inner.weigh(innerInput(ctx, plan, before), state ?? inner.initialState(plan.group.length));
  checkInnerWeights(ctx, inner.name, result.weights, plan);
  return { weights: result.weights.map((w) => w * norm), state: result.state };
}

function aggregatedGradients(ctx: StepContext, inner: GradientAggregator, plan: GroupStepPlan, before: readonly number[]) {
  const groupTasks = plan.group.map((i) => ctx.tasks[i]!);
  const gradients = computeTaskGradients(ctx.model, groupTasks, ctx.batch, inner.space ?? 'parameters');
  const [rows, cols] = gradients.jacobian.shape;
  const jacobian = { rows, cols, data: gradients.jacobian.dataSync() as Float32Array };
  const result = inner.aggregate(jacobian, innerInput(ctx, plan, before), (plan.innerState ?? inner.initialState(plan.group.length)));
  checkInnerWeights(ctx, inner.name, result.weights, plan);
  if (result.direction.length !== cols) {
    throw new MtlError('SHAPE_MISMATCH', `inner aggregator "${inner.name}" returned a direction of ${result.direction.length} numbers for a Jacobian of ${cols} columns`, { aggregator: inner.name, expected: cols, actual: result.direction.length });
  }
  const norm = plan.groupNorm ? 1 / plan.group.length : 1;
  const direction = Float32Array.from(result.direction, (v) => v * norm);
  const grads = sharedGradientsFromDirection(ctx.model, ctx.batch, gradients, tf.tensor1d(direction));
  groupTasks.forEach((task, k) => {
    const scale = (result.headWeights?.[k] ?? 1) * norm;
    for (const [key, g] of gradients.taskSpecific.get(task.name)!) grads.set(key, scale === 1 ? g : tf.mul(g, scale));
  });
  return { grads, state: result.state };
}

function innerInput(ctx: StepContext, plan: GroupStepPlan, before: readonly number[]) {
  return { losses: plan.group.map((i) => before[i]!), step: ctx.step, epoch: ctx.epoch, random: () => ctx.random.next() };
}

function checkInnerWeights(ctx: StepContext, name: string, weights: readonly number[], plan: GroupStepPlan): void {
  if (weights.length !== plan.group.length) {
    throw new MtlError('SHAPE_MISMATCH', `inner rule "${name}" returned ${weights.length} weights for a group of ${plan.group.length} tasks`, { rule: name, expected: plan.group.length, actual: weights.length });
  }
  const bad = weights.findIndex((w) => !Number.isFinite(w));
  if (bad >= 0) {
    const task = ctx.tasks[plan.group[bad]!]!.name;
    throw new MtlError('NON_FINITE_GRADIENT', `inner rule "${name}" returned weight ${weights[bad]} for task "${task}" at step ${ctx.step}; no update was applied`, { rule: name, task, step: ctx.step });
  }
}

/** Names the first task with a non-finite loss; nothing has been applied yet. */
export function assertFiniteLosses(ctx: StepContext, losses: readonly number[]): void {
  const bad = losses.findIndex((l) => !Number.isFinite(l));
  if (bad < 0) return;
  const task = ctx.tasks[bad]!.name;
  throw new MtlError('NON_FINITE_LOSS', `loss of task "${task}" is ${losses[bad]} at step ${ctx.step} (epoch ${ctx.epoch}); no update was applied`, { task, step: ctx.step, epoch: ctx.epoch, value: losses[bad] });
}
