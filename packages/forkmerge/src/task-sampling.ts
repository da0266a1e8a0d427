import type { Task, UpdateRule } from '@mtl/core';

/**
 * The DomainNet protocol of the authors' code (`SpecifiedProbMultiTaskSampler`): a branch's task
 * weights ν_b are sampling probabilities, not loss weights. Each step draws one task with probability
 * ν_t / Σ ν (from the trainer's seeded stream) and steps on that task's loss alone; the other tasks'
 * own parameters and optimizer state stay as they are (core's step contract).
 */
export function sampledTaskRule(tasks: readonly Task[], weights: Readonly<Record<string, number>>): UpdateRule {
  const probabilities = tasks.map((t) => weights[t.name] ?? 0);
  const total = probabilities.reduce((a, b) => a + b, 0);
  return {
    name: 'sampled-task',
    step(ctx) {
      const u = ctx.random.next() * total;
      let pick = probabilities.length - 1;
      let cumulative = 0;
      for (let i = 0; i < probabilities.length; i++) {
        cumulative += probabilities[i]!;
        if (u < cumulative) {
          pick = i;
          break;
        }
      }
      const w = tasks.map((_, i) => (i === pick ? 1 : 0));
      ctx.applyGradients(ctx.weightedLossGradients(w));
      return { weights: w };
    },
  };
}
