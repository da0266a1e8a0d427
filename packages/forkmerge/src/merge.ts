import { MtlError, ParamSnapshot, tf, type OptimizerSnapshot } from '@mtl/core';
import { invalidOption, isArray, requireFiniteNumber } from '@mtl/core/internal';

/**
 * θ* = (1 − λ) θ0 + λ θ1 (Algorithm 1's merge). λ = 0 and λ = 1 return exact copies of the branches.
 * The result is a new snapshot owned by the caller.
 */
export function interpolate(branch0: ParamSnapshot, branch1: ParamSnapshot, lambda: number): ParamSnapshot {
  requireFiniteNumber('lambda', lambda, { min: 0, max: 1 });
  return ParamSnapshot.lerp(branch0, branch1, lambda);
}

/**
 * θ* = Σ_b Λ_b θ_b with Λ on the simplex (Algorithm 2's merge). A vertex of the simplex returns an
 * exact copy of that branch. The result is a new snapshot owned by the caller.
 */
export function mergeBranches(branches: readonly ParamSnapshot[], weights: readonly number[]): ParamSnapshot {
  checkSimplex(weights, branches.length);
  return ParamSnapshot.weightedSum(branches, weights);
}

/** Throws INVALID_OPTION unless `weights` has `count` finite non-negative entries summing to 1. */
export function checkSimplex(weights: readonly number[], count: number): void {
  const list: readonly number[] = weights;
  if (!isArray(list) || list.length !== count) invalidOption('weights', weights, `${count} merge weights`);
  list.forEach((w, i) => requireFiniteNumber(`weights[${i}]`, w, { min: 0 }));
  const sum = list.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6) invalidOption('weights', weights, `weights summing to 1 (they sum to ${sum})`);
}

/**
 * Merges optimizer states with the branches' merge weights (`optimizerState: 'merge'`): every slot
 * (momentum, Adam moments) is Σ Λ_b s_b over the branches that hold it, the weights renormalised over
 * those branches (a plain mean when their weights are all 0); a parameter's step count is the largest
 * among the branches. A branch holds no slot for a task it does not train.
 */
export function mergeOptimizerStates(states: readonly OptimizerSnapshot[], weights: readonly number[]): OptimizerSnapshot {
  checkSimplex(weights, states.length);
  const first = states[0]!;
  for (const s of states) {
    if (s.config.kind !== first.config.kind) {
      throw new MtlError('INVALID_OPTION', `cannot merge ${s.config.kind} state with ${first.config.kind} state`, {
        option: 'optimizer',
        value: s.config.kind,
      });
    }
  }
  const keys = [...new Set(states.flatMap((s) => s.slots.keys))];
  const merged = new Map<string, tf.Tensor>();
  for (const key of keys) {
    const holders = states.map((s, b) => [s, weights[b]!] as const).filter(([s]) => s.slots.keys.includes(key));
    const total = holders.reduce((sum, [, w]) => sum + w, 0);
    const normalised = holders.map(([, w]) => (total > 0 ? w / total : 1 / holders.length));
    merged.set(key, tf.tidy(() => tf.addN(holders.map(([s], i) => tf.mul(s.slots.get(key), normalised[i]!)))));
  }
  const steps: Record<string, number> = {};
  for (const s of states) for (const [key, n] of Object.entries(s.steps)) steps[key] = Math.max(steps[key] ?? 0, n);
  return { config: first.config, slots: ParamSnapshot.fromTensors(merged), steps };
}
