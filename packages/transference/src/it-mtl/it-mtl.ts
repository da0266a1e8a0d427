import { MtlError, type AggregationInput, type LossWeighting, type Matrix, type StepContext, type StepResult, type UpdateRule } from '@mtl/core';
import { invalidOption, requireFiniteNumber } from '@mtl/core/internal';
import { checkKnownKeys, requireBoolean, requireChoice, requireOptionsObject } from '../options.js';
import { lookaheadLosses, relativeProgress } from '../lookahead.js';
import {
  aggregatorDirection,
  aggregatorSpecs,
  expandCandidates,
  subsetDirection,
  validateCandidateSpecs,
  type Candidate,
  type CandidateDirection,
  type CandidateSpec,
} from './candidates.js';

export interface ItMtlOptions {
  /** The candidate set J (default `['sum', 'each-task']`); see {@link CandidateSpec}. */
  readonly candidates?: readonly CandidateSpec[];
  /**
   * IT-MTL‡ (default false): score a candidate g by its first-order total transference
   * η ⟨∇θs Σ_j log L_j, g⟩ = η Σ_j ⟨∇θs L_j, g⟩ / L_j (the "log-product" alignment) instead of
   * running its lookahead.
   */
  readonly firstOrder?: boolean;
  /**
   * A loss weighting inside (e.g. `uncertaintyWeighting()` from `@mtl/weighting` for IT-UW-MTL):
   * each step its weights w_t (from the step's losses) scale every task's gradient — every candidate
   * is built from w_t ∇L_t, and the heads step on w_t ∇θt L_t. Its state is part of this rule's.
   */
  readonly weighting?: LossWeighting<unknown>;
  /** Fixed loss weights by task name (missing tasks: 1); not together with `weighting`. */
  readonly weights?: Readonly<Record<string, number>>;
  /**
   * Heads during the lookahead: `'stepped'` (default; Algorithm 1: each head has taken its own step
   * θ_j^{t+1}, as it will in the real update) or `'current'`.
   */
  readonly heads?: 'stepped' | 'current';
}

/** IT-MTL's JSON state: the weighting's and the aggregators' states, and how often each candidate won. */
export interface ItMtlState {
  readonly weighting: unknown;
  readonly aggregators: readonly unknown[];
  readonly wins: Readonly<Record<string, number>>;
}

/** The IT-MTL rule, with the candidates' labels and win counts for inspection. */
export interface ItMtlRule extends UpdateRule {
  /** Candidate labels in `info.candidate` order (known after the first step). */
  readonly candidateLabels: readonly string[];
  /** How many steps each candidate (by label) won. */
  readonly wins: Readonly<Record<string, number>>;
  getState(): ItMtlState;
  setState(state: unknown): void;
}

const KEYS = ['candidates', 'firstOrder', 'weighting', 'weights', 'heads'];

/**
 * Increased-transfer MTL (Fifty et al. 2020, Algorithm 1) as an update rule. Each step, every
 * candidate shared-parameter direction g_φ (default: the summed gradient and each task's own) is
 * scored by its total transference
 *
 *   Z_φ = Σ_j (1 − L_j(θs − step(g_φ), θ_j') / L_j(θs, θ_j)),
 *
 * the lookahead running the optimizer's own step (momentum with its velocity, Adam with its
 * moments) on the shared parameters *and* the heads' own steps (θ_j'), so the winner's lookahead is
 * exactly the update that is then applied. The highest-scoring candidate (the first on ties) is
 * applied to θs; the heads take their usual step on their own (weighted) loss. A lookahead that is
 * not finite scores −∞. IT-MTL‡ (`firstOrder`) ranks by η ⟨Σ_j ∇L_j / L_j, g_φ⟩ instead.
 *
 * `StepResult.info`: `candidate` (index of the winner in {@link ItMtlRule.candidateLabels}) and
 * `transference/<label>` for every candidate's score; `weights`: the task weights the winner implies.
 */
export function itMtl(options: ItMtlOptions = {}): ItMtlRule {
  const o = requireOptionsObject('itMtl', options) as ItMtlOptions;
  checkKnownKeys('itMtl', o, KEYS);
  const specs = validateCandidateSpecs(o.candidates ?? ['sum', 'each-task']);
  const firstOrder = requireBoolean('firstOrder', o.firstOrder, false);
  const heads = requireChoice('heads', o.heads, ['stepped', 'current'] as const, 'stepped');
  if (o.weighting !== undefined && o.weights !== undefined) invalidOption('weights', o.weights, 'left out when a weighting is given');
  const weighting = o.weighting;
  if (weighting !== undefined && (typeof weighting !== 'object' || typeof weighting.weigh !== 'function')) invalidOption('weighting', weighting, 'a LossWeighting');
  const fixed = o.weights === undefined ? undefined : validateFixedWeights(o.weights);
  const aggregators = aggregatorSpecs(specs);

  let labels: readonly string[] = [];
  let candidates: Candidate[] | undefined;
  let taskKey = '';
  let weightingState: unknown;
  let aggregatorStates: unknown[] | undefined;
  const wins: Record<string, number> = {};

  const name = `it-${weighting ? `${weighting.name}-` : ''}mtl${firstOrder ? '-first-order' : ''}`;
  return {
    name,
    get candidateLabels() {
      return labels;
    },
    get wins() {
      return { ...wins };
    },
    step(ctx: StepContext): StepResult {
      const names = ctx.tasks.map((t) => t.name);
      if (!candidates || taskKey !== names.join('\u0000')) {
        candidates = expandCandidates(specs, names);
        labels = candidates.map((c) => c.label);
        taskKey = names.join('\u0000');
        for (const label of labels) wins[label] ??= 0;
        if (fixed) for (const task of Object.keys(fixed)) if (!names.includes(task)) throw new MtlError('UNKNOWN_TASK', `itMtl weights name unknown task "${task}"`, { option: 'weights', task, known: names });
      }
      const T = names.length;
      const gradients = ctx.taskGradients('parameters');
      const losses = Array.from(gradients.losses.dataSync());
      // `optimizer` as @mtl/weighting's rules pass it: UW steps its log-variances with the trainer's optimizer.
      const optimizer = { ...ctx.optimizer.config, learningRate: ctx.optimizer.learningRate };
      const input = (scaled: readonly number[]): AggregationInput => {
        const value: AggregationInput & { readonly optimizer: typeof optimizer } = { losses: scaled, step: ctx.step, epoch: ctx.epoch, random: () => ctx.random.next(), optimizer };
        return value;
      };

      let w: number[];
      if (weighting) {
        weightingState ??= weighting.initialState(T);
        const result = weighting.weigh(input(losses), weightingState);
        checkWeights(weighting.name, result.weights, T);
        weightingState = result.state;
        w = [...result.weights];
      } else {
        w = names.map((n) => fixed?.[n] ?? 1);
      }

      const [, P] = gradients.jacobian.shape;
      const G = gradients.jacobian.dataSync();
      const weighted: Matrix = { rows: T, cols: P, data: scaleRows(G, T, P, w) };
      aggregatorStates ??= aggregators.map((a) => a.initialState(T));
      const directions: CandidateDirection[] = candidates.map((c) => {
        if (c.kind === 'subset') return subsetDirection(weighted, c.tasks, w);
        const result = aggregatorDirection(c.aggregator, weighted, input(losses.map((l, t) => l * w[t]!)), aggregatorStates![c.slot], w);
        aggregatorStates![c.slot] = result.state;
        return result;
      });

      const eta = ctx.optimizer.learningRate;
      const scores = directions.map((d) => {
        if (firstOrder) return eta * logProductAlignment(G, T, P, losses, d.direction);
        const grads = ctx.gradientsFromDirection(d.direction, { headWeights: heads === 'stepped' ? w : w.map(() => 0) });
        const after = lookaheadLosses(ctx, grads);
        if (!after) return -Infinity;
        let total = 0;
        for (let j = 0; j < T; j++) {
          const z = relativeProgress(losses[j]!, after[j]!);
          if (!Number.isNaN(z)) total += z;
        }
        return total;
      });
      let best = 0;
      for (let k = 1; k < scores.length; k++) if (scores[k]! > scores[best]!) best = k;

      ctx.applyGradients(ctx.gradientsFromDirection(directions[best]!.direction, { headWeights: w }));
      wins[labels[best]!] = (wins[labels[best]!] ?? 0) + 1;
      const info: Record<string, number> = { candidate: best };
      labels.forEach((label, k) => (info[`transference/${label}`] = scores[k]!));
      return { weights: directions[best]!.weights, info };
    },
    getState(): ItMtlState {
      return { weighting: weightingState, aggregators: aggregatorStates ?? [], wins: { ...wins } };
    },
    setState(state: unknown) {
      const s = state as ItMtlState | undefined;
      if (!s || typeof s !== 'object' || !Array.isArray(s.aggregators) || typeof s.wins !== 'object') {
        throw new MtlError('CHECKPOINT', 'IT-MTL state is not { weighting, aggregators, wins }', { state: typeof state });
      }
      if (s.aggregators.length !== 0 && s.aggregators.length !== aggregators.length) {
        throw new MtlError('CHECKPOINT', `IT-MTL state has ${s.aggregators.length} aggregator states, this rule ${aggregators.length} aggregators`, {
          expected: aggregators.length,
          actual: s.aggregators.length,
        });
      }
      weightingState = s.weighting ?? undefined;
      aggregatorStates = s.aggregators.length ? [...(s.aggregators as readonly unknown[])] : undefined;
      for (const key of Object.keys(wins)) delete wins[key];
      Object.assign(wins, s.wins);
    },
  };
}

/** ⟨Σ_j ∇θs L_j / L_j, g⟩ over the tasks with L_j > 0 (the gradient of the log-product loss). */
function logProductAlignment(G: ArrayLike<number>, T: number, P: number, losses: readonly number[], direction: Float64Array): number {
  let total = 0;
  for (let j = 0; j < T; j++) {
    if (!(losses[j]! > 0)) continue;
    let dot = 0;
    for (let k = 0; k < P; k++) dot += G[j * P + k]! * direction[k]!;
    total += dot / losses[j]!;
  }
  return total;
}

function scaleRows(G: ArrayLike<number>, T: number, P: number, w: readonly number[]): Float64Array {
  const out = new Float64Array(T * P);
  for (let t = 0; t < T; t++) for (let k = 0; k < P; k++) out[t * P + k] = G[t * P + k]! * w[t]!;
  return out;
}

function validateFixedWeights(weights: Readonly<Record<string, number>>): Readonly<Record<string, number>> {
  if (!weights || typeof weights !== 'object' || Array.isArray(weights)) invalidOption('weights', weights, 'an object of task name → weight');
  for (const [task, v] of Object.entries(weights)) requireFiniteNumber(`weights.${task}`, v, { min: 0 });
  return weights;
}

function checkWeights(method: string, weights: readonly number[], T: number): void {
  if (weights.length !== T) throw new MtlError('SHAPE_MISMATCH', `weighting "${method}" returned ${weights.length} weights for ${T} tasks`, { method, expected: T, actual: weights.length });
  const bad = weights.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new MtlError('NON_FINITE_GRADIENT', `weighting "${method}" returned a non-finite weight for task ${bad}`, { method, taskIndex: bad, value: weights[bad] });
}
