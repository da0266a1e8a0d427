import { MtlError } from '@mtl/core';

/**
 * The forward and backward passes one training step of a method needs, counted from what the
 * method does (not from what the trainer happens to run today). The weighting bench prices these
 * counts with forward/backward costs measured on the same model in the same run and compares the
 * result with the measured step time over EW (`bench/step.ts`).
 *
 * Units (hard parameter sharing: a trunk, then one head per task):
 * - `forwards`: forward passes through the whole model (trunk and every head).
 * - `summedBackwards`: backward passes of a weighted sum of the task losses (trunk and every head).
 * - `taskBackwards`: backward passes of one task's loss (trunk and that task's head), the rows of
 *   the parameter-space Jacobian.
 * - `headBackwards`: backward passes of one task's loss through its head alone, down to the shared
 *   representation z (the rows of the representation-space Jacobian).
 * - `trunkBackwards`: backward passes through the trunk alone, of a direction given at z.
 */
export interface StepPasses {
  readonly forwards: number;
  readonly summedBackwards: number;
  readonly taskBackwards: number;
  readonly headBackwards: number;
  readonly trunkBackwards: number;
}

/** A method's pass count as a function of the number of tasks T, with the reason. */
export interface PassCountEntry {
  /** Why the method needs these passes (what it computes them for). */
  readonly why: string;
  passes(numTasks: number): StepPasses;
}

const passes = (p: Partial<StepPasses>): StepPasses => ({ forwards: 0, summedBackwards: 0, taskBackwards: 0, headBackwards: 0, trunkBackwards: 0, ...p });

/** Loss weightings: the weights come from the losses alone, so one forward gives them and one weighted backward the update. */
const lossWeighting = (why: string): PassCountEntry => ({ why, passes: () => passes({ forwards: 1, summedBackwards: 1 }) });

/** Aggregators on the parameter-space Jacobian: one forward, then one backward per task loss through the whole model. */
const perTask = (why: string): PassCountEntry => ({ why, passes: (T) => passes({ forwards: 1, taskBackwards: T }) });

/** Aggregators that need the per-task Jacobian on `batches` independent batches (one forward and T backwards each). */
const sampled = (batches: number, why: string): PassCountEntry => ({ why, passes: (T) => passes({ forwards: batches, taskBackwards: batches * T }) });

const WEIGHTS_FROM_LOSSES = 'weights from the losses of the forward; one weighted backward';
const JACOBIAN = 'needs every task gradient of the shared parameters: one forward, T backwards';

/**
 * The pass count of every built-in method, keyed by its registry name. A method added to the
 * registry needs an entry here (a test checks it), so its cost claim is written down when it lands.
 */
export const PASS_COUNTS: Readonly<Record<string, PassCountEntry>> = {
  ew: lossWeighting('fixed weights 1: one forward, one backward of the summed loss'),
  scalarize: lossWeighting('fixed weights: one forward, one weighted backward'),
  dwa: lossWeighting('weights from the epoch means of the losses; one weighted backward'),
  rlw: lossWeighting('random weights (no gradients needed); one weighted backward'),
  uw: lossWeighting('weights 1/(2e^{s}) from learned log-variances stepped on the losses; one weighted backward'),
  gls: lossWeighting(`geometric mean of the losses, w_t ∝ 1/L_t: ${WEIGHTS_FROM_LOSSES}`),
  'geometric-mean': lossWeighting(`GLS under its other name: ${WEIGHTS_FROM_LOSSES}`),
  stch: lossWeighting(`smooth Tchebycheff (a softmax of the log-losses): ${WEIGHTS_FROM_LOSSES}`),
  'imtl-l': lossWeighting('learned loss scales e^{s} stepped on the losses; one weighted backward'),
  famo: {
    why: 'weights from the losses, one weighted backward, then one lookahead forward: the same batch\'s losses after the update (to step its logits)',
    passes: () => passes({ forwards: 2, summedBackwards: 1 }),
  },
  pcgrad: perTask(`projects conflicting task gradients: ${JACOBIAN}`),
  gradvac: perTask(`aligns task-gradient cosines to tracked targets: ${JACOBIAN}`),
  mgda: perTask(`min-norm point of the task gradients (Gramian): ${JACOBIAN}`),
  'mgda-ub': {
    why: 'MGDA on the Jacobian w.r.t. the shared representation z: one forward, T backwards through the heads alone, one backward of the combined direction through the trunk',
    passes: (T) => passes({ forwards: 1, headBackwards: T, trunkBackwards: 1 }),
  },
  cagrad: perTask(`conflict-averse direction from the Gramian: ${JACOBIAN}`),
  imtl: perTask(`IMTL-G's equal-projection weights from the (loss-scaled) Gramian: ${JACOBIAN}`),
  'imtl-g': perTask(`equal-projection weights from the Gramian: ${JACOBIAN}`),
  'nash-mtl': perTask(`Nash bargaining weights from the Gramian: ${JACOBIAN}`),
  'aligned-mtl': perTask(`condition-number alignment of the Gramian: ${JACOBIAN}`),
  upgrad: perTask(`projections onto the dual cone of the rows: ${JACOBIAN}`),
  dualproj: perTask(`projection onto the dual cone of the rows: ${JACOBIAN}`),
  config: perTask(`conflict-free direction from normalised rows: ${JACOBIAN}`),
  fairgrad: perTask(`α-fair weights from the Gramian: ${JACOBIAN}`),
  gradnorm: perTask(`weights from the norms of the task gradients of the shared parameters (LibMTL's form; no second-order pass): ${JACOBIAN}`),
  'uw-pcgrad': perTask(`UW's weights scale the rows, then PCGrad: ${JACOBIAN}`),
  'excess-mtl': perTask(`excess-risk weights from each task gradient and its AdaGrad accumulator: ${JACOBIAN}`),
  'db-mtl': perTask(`gradients of log L_t (rows over L_t) with EMA-tracked norms: ${JACOBIAN}`),
  moco: perTask(`tracked estimates of the loss-scaled unit task gradients: ${JACOBIAN}`),
  graddrop: perTask(`sign-consistency masks over the task gradients: ${JACOBIAN}`),
  krum: perTask(`Byzantine-robust selection among the task gradients: ${JACOBIAN}`),
  'trimmed-mean': perTask(`coordinate-wise trimmed mean of the task gradients: ${JACOBIAN}`),
  modo: sampled(3, 'double sampling: λ from two independent Jacobians, the direction from a third; three batches, one forward and T backwards each'),
  sdmgrad: sampled(3, 'stochastic direction-oriented MGDA: weights from two independent Jacobians, the direction from a third; three batches, one forward and T backwards each'),
};

/** The passes a step of `method` needs with `numTasks` tasks; INVALID_OPTION for a method without an entry. */
export function passCount(method: string, numTasks: number): StepPasses {
  const entry = Object.hasOwn(PASS_COUNTS, method) ? PASS_COUNTS[method] : undefined;
  if (!entry) {
    throw new MtlError('INVALID_OPTION', `no pass count for method ${JSON.stringify(method)}; known: ${Object.keys(PASS_COUNTS).join(', ')}`, {
      option: 'method',
      value: method,
    });
  }
  if (!Number.isInteger(numTasks) || numTasks < 1) {
    throw new MtlError('INVALID_OPTION', `numTasks must be a positive integer (got ${String(numTasks)})`, { option: 'numTasks', value: numTasks });
  }
  return entry.passes(numTasks);
}

/** Short notation of a pass count, e.g. "1F + 2Bt" (see {@link StepPasses} for the units). */
export function describePasses(p: StepPasses): string {
  const parts: string[] = [];
  if (p.forwards) parts.push(`${p.forwards}F`);
  if (p.summedBackwards) parts.push(`${p.summedBackwards}B`);
  if (p.taskBackwards) parts.push(`${p.taskBackwards}Bt`);
  if (p.headBackwards) parts.push(`${p.headBackwards}Bh`);
  if (p.trunkBackwards) parts.push(`${p.trunkBackwards}Bz`);
  return parts.join(' + ') || '0';
}
