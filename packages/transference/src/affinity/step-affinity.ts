import { MtlError, type StepContext } from '@mtl/core';
import { checkKnownKeys, requireBoolean, requireChoice, requireOptionsObject } from '../options.js';
import { lookaheadLosses, relativeProgress } from '../lookahead.js';

/** How one affinity matrix is measured. */
export interface AffinityOptions {
  /**
   * `false` (default): the exact lookahead, Z(i→j) = 1 − L_j(θs − step on L_i, θj) / L_j(θs, θj),
   * with the optimizer's own step simulated. `true`: the first-order approximation
   * Z(i→j) ≈ η ⟨∇θs L_i, ∇θs L_j⟩ / L_j (one Jacobian, no lookahead passes; an SGD step whatever
   * the optimizer, as in the paper's §3.2).
   */
  readonly firstOrder?: boolean;
  /**
   * Divide by the learning rate η (default `true`, as the authors' code does, so that runs with
   * different learning rates compare). The first-order value then is ⟨∇L_i, ∇L_j⟩ / L_j.
   */
  readonly normalizeByLr?: boolean;
  /**
   * Task-specific parameters during the lookahead: `'current'` (default; the spec's formula and the
   * TAG code: heads keep their values) or `'stepped'` (every head also takes its own task's step, the
   * θ_j^{t+1} of the transference paper's Eq. 1). Exact version only.
   */
  readonly heads?: 'current' | 'stepped';
}

export interface ResolvedAffinityOptions {
  readonly firstOrder: boolean;
  readonly normalizeByLr: boolean;
  readonly heads: 'current' | 'stepped';
}

export const AFFINITY_OPTION_KEYS = ['firstOrder', 'normalizeByLr', 'heads'] as const;

export function resolveAffinityOptions(what: string, options: AffinityOptions | undefined, extra: readonly string[] = []): ResolvedAffinityOptions {
  const o = requireOptionsObject(what, options) as AffinityOptions;
  checkKnownKeys(what, o, [...AFFINITY_OPTION_KEYS, ...extra]);
  return {
    firstOrder: requireBoolean('firstOrder', o.firstOrder, false),
    normalizeByLr: requireBoolean('normalizeByLr', o.normalizeByLr, true),
    heads: requireChoice('heads', o.heads, ['current', 'stepped'] as const, 'current'),
  };
}

/** One measurement: `matrix[i][j]` = Z(i→j), source task i (row) onto target task j (column). */
export interface AffinityMeasurement {
  readonly step: number;
  readonly epoch: number;
  readonly tasks: readonly string[];
  /** NaN where the ratio is undefined this step (L_j ≤ 0, or a lookahead that is not finite). */
  readonly matrix: number[][];
  /** The task losses L_j at the measured parameters. */
  readonly losses: readonly number[];
  readonly learningRate: number;
}

/**
 * The inter-task affinity matrix on this step's batch, at the parameters and optimizer state as they
 * are (nothing is changed). Exact: T lookaheads (one per source task), each a simulated optimizer
 * step on that task's shared-parameter gradient and one forward pass. First order: the Jacobian only.
 */
export function measureStepAffinity(ctx: StepContext, options: AffinityOptions = {}): AffinityMeasurement {
  return affinityAt(ctx, resolveAffinityOptions('measureStepAffinity', options));
}

/** {@link measureStepAffinity} with its options already checked. */
export function affinityAt(ctx: StepContext, options: ResolvedAffinityOptions): AffinityMeasurement {
  const eta = ctx.optimizer.learningRate;
  if (options.normalizeByLr && !(eta > 0)) {
    throw new MtlError('INVALID_OPTION', `normalizeByLr divides by the learning rate, which is ${eta} at step ${ctx.step}; set normalizeByLr: false`, {
      option: 'normalizeByLr',
      value: true,
      learningRate: eta,
    });
  }
  const scale = options.normalizeByLr ? 1 / eta : 1;
  const gradients = ctx.taskGradients('parameters');
  const T = gradients.taskNames.length;
  const losses = Array.from(gradients.losses.dataSync());
  const [, P] = gradients.jacobian.shape;
  const G = gradients.jacobian.dataSync();
  const matrix = Array.from({ length: T }, () => new Array<number>(T).fill(NaN));
  if (options.firstOrder) {
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        if (!(losses[j]! > 0)) continue;
        let dot = 0;
        for (let k = 0; k < P; k++) dot += G[i * P + k]! * G[j * P + k]!;
        matrix[i]![j] = (eta * dot * scale) / losses[j]!;
      }
    }
  } else {
    // Heads stay put unless asked: head weight 0 gives a head no gradient, so the preview leaves it.
    const headWeights = new Array<number>(T).fill(options.heads === 'stepped' ? 1 : 0);
    for (let i = 0; i < T; i++) {
      const grads = ctx.gradientsFromDirection(G.subarray(i * P, (i + 1) * P) as Float32Array, { headWeights });
      const after = lookaheadLosses(ctx, grads);
      for (let j = 0; j < T; j++) matrix[i]![j] = after ? relativeProgress(losses[j]!, after[j]!) * scale : NaN;
    }
  }
  return { step: ctx.step, epoch: ctx.epoch, tasks: [...gradients.taskNames], matrix, losses, learningRate: eta };
}
