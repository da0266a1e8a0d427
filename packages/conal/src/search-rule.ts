import { MtlError, Optimizer, ParamSnapshot, clipByGlobalNorm } from '@mtl/core';
import type { OptimizerConfig, OptimizerSnapshot, StepContext, UpdateRule , tf } from '@mtl/core';
import { noticeConflicts, type ModuleColumns } from './noticing.js';
import type { ConalSearchSpace } from './search-space.js';

export interface SearchRuleOptions {
  /** α's own optimiser (the trainer's optimiser steps the weights). */
  readonly architectureOptimizer: OptimizerConfig;
  /** Global-norm clip of the weight step; Infinity: none. */
  readonly clipNorm: number;
  /** Eq. 5 on the weight step (true) or the plain sum (false: the released code). */
  readonly noticing: boolean;
  /** Index of the first shared module the rule checks; earlier ones always keep their summed gradient (CoNAL-Pro's stages). Default 0. */
  readonly noticeFrom?: number;
}

/** Counters of the noticing rule over the steps so far (JSON: part of the rule's checkpoint state). */
export interface NoticingCounters {
  steps: number;
  conflictSteps: number;
  /** Per shared module: steps on which its summed gradient was kept. */
  kept: number[];
}

interface RuleState {
  readonly counters: NoticingCounters;
  readonly architectureOptimizer: {
    readonly shapes: readonly { key: string; shape: readonly number[] }[];
    readonly values: number[];
    readonly steps: Readonly<Record<string, number>>;
    readonly scheduleStep: number;
  };
}

export interface ConalSearchRule extends UpdateRule {
  readonly counters: Readonly<NoticingCounters>;
}

/**
 * One step of Algorithm 1 as a core `UpdateRule`, for `Trainer({ model: space, validation })`:
 * (1) α on `ctx.validationBatch()` — the gradient of Σ_t L_t^val w.r.t. the architecture parameters
 * only, stepped by the rule's own optimiser; (2) the weights on the step's training batch —
 * per-task gradients, Eq. 5 on the all-shared modules, each task's own modules by its own gradient,
 * global-norm clipping, the trainer's optimiser. The authors sum the task losses at both levels.
 * State (α's optimiser moments, the noticing counters) is JSON, so checkpoints resume it exactly.
 */
export function conalSearchRule(space: ConalSearchSpace, options: SearchRuleOptions): ConalSearchRule {
  const architectureOptimizer = new Optimizer(options.architectureOptimizer);
  const noticeFrom = options.noticeFrom ?? 0;
  const checked = space.sharedModules.slice(noticeFrom);
  const counters: NoticingCounters = { steps: 0, conflictSteps: 0, kept: space.sharedModules.map(() => 0) };
  const alphas = space.alphaParameters;
  return {
    name: options.noticing ? 'conal-search' : 'conal-search-no-noticing',
    counters,
    step(ctx: StepContext) {
      if (ctx.model !== space) throw new MtlError('INVALID_OPTION', 'conalSearchRule runs on the search space it was made for', { option: 'model' });
      const ones = ctx.tasks.map(() => 1);
      // Upper level: α on a validation batch.
      const validation = ctx.withBatch(ctx.validationBatch());
      architectureOptimizer.apply(alphas, validation.weightedLossGradients(ones, { parameters: alphas }));
      architectureOptimizer.advanceSchedule();
      // Lower level: the weights on the training batch, conflict-noticed.
      let grads: Map<string, tf.Tensor>;
      let firstConflict = -1;
      if (options.noticing) {
        const gradients = ctx.taskGradients('parameters');
        const [rows, cols] = gradients.jacobian.shape;
        const modules = checked.map((params) => moduleColumns(gradients.sharedLayout, params.map((p) => p.key)));
        const result = noticeConflicts({ rows, cols, data: gradients.jacobian.dataSync() as Float32Array }, modules);
        firstConflict = result.firstConflict;
        result.kept.forEach((k, i) => (counters.kept[noticeFrom + i]! += k ? 1 : 0));
        for (let i = 0; i < noticeFrom; i++) counters.kept[i]! += 1;
        grads = ctx.gradientsFromDirection(result.direction);
      } else {
        grads = ctx.weightedLossGradients(ones);
        for (let i = 0; i < counters.kept.length; i++) counters.kept[i]! += 1;
      }
      counters.steps++;
      if (firstConflict >= 0) counters.conflictSteps++;
      ctx.applyGradients(Number.isFinite(options.clipNorm) ? clipByGlobalNorm(grads, options.clipNorm).grads : grads);
      return { weights: ones, info: { firstConflict: firstConflict >= 0 ? noticeFrom + firstConflict : -1 } };
    },
    getState(): RuleState {
      const snapshot = architectureOptimizer.snapshot();
      try {
        const data = snapshot.slots.toData();
        return {
          counters: { ...counters, kept: [...counters.kept] },
          architectureOptimizer: { shapes: data.shapes, values: Array.from(data.values), steps: snapshot.steps, scheduleStep: snapshot.scheduleStep ?? 0 },
        };
      } finally {
        snapshot.slots.dispose();
      }
    },
    setState(state: unknown) {
      const s = state as RuleState;
      counters.steps = s.counters.steps;
      counters.conflictSteps = s.counters.conflictSteps;
      counters.kept.splice(0, counters.kept.length, ...s.counters.kept);
      const slots = ParamSnapshot.fromData({ shapes: s.architectureOptimizer.shapes, values: Float32Array.from(s.architectureOptimizer.values) });
      try {
        const snapshot: OptimizerSnapshot = { config: architectureOptimizer.config, slots, steps: s.architectureOptimizer.steps, scheduleStep: s.architectureOptimizer.scheduleStep };
        architectureOptimizer.restore(snapshot);
      } finally {
        slots.dispose();
      }
    },
    dispose() {
      architectureOptimizer.dispose();
    },
  };
}

function moduleColumns(layout: { entry(key: string): { offset: number; size: number } }, keys: readonly string[]): ModuleColumns {
  const entries = keys.map((k) => layout.entry(k));
  const offset = Math.min(...entries.map((e) => e.offset));
  const size = entries.reduce((s, e) => s + e.size, 0);
  if (entries.some((e) => e.offset + e.size > offset + size)) {
    throw new MtlError('SHAPE_MISMATCH', `a shared module's parameters are not contiguous in the shared layout (${keys.join(', ')})`, { keys });
  }
  return { offset, size };
}
