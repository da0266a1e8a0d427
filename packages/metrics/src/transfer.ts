import { MtlError } from '@mtl/core';
import { invalidOption, isArray } from '@mtl/core/internal';

export interface TransferGainOptions {
  /** Whether a larger performance value is better (accuracy: true; error: false). Default true. */
  readonly higherIsBetter?: boolean;
}

/**
 * Transfer gain (ForkMerge, Def. 3.1): `TG = P(θ_A) − P(θ_STL)` on the target task, signed so
 * that a positive gain means the auxiliary tasks helped (for lower-is-better measures, `P_STL − P_A`).
 */
export function transferGain(performance: number, singleTaskPerformance: number, options: TransferGainOptions = {}): number {
  finite('performance', performance);
  finite('singleTaskPerformance', singleTaskPerformance);
  return (options.higherIsBetter ?? true) ? performance - singleTaskPerformance : singleTaskPerformance - performance;
}

/** Target-task performance after training with auxiliary weight λ. */
export interface TransferPoint {
  readonly lambda: number;
  readonly performance: number;
}

/** `'none'`: no λ > 0 loses; `'weak'`: some λ > 0 loses, another does not; `'strong'`: every λ > 0 loses. */
export type NegativeTransferKind = 'none' | 'weak' | 'strong';

export interface TransferClassification {
  readonly kind: NegativeTransferKind;
  /** Transfer gain at each λ > 0 given, in input order. */
  readonly gains: readonly { readonly lambda: number; readonly gain: number }[];
  /** The λ > 0 with the largest gain, and that gain. */
  readonly best: { readonly lambda: number; readonly gain: number };
}

/**
 * Classifies negative transfer over a sweep of the auxiliary weight (ForkMerge, Defs. 3.2–3.3):
 * weak negative transfer when TG(λ) < 0 for some λ, strong when `max_{λ>0} TG(λ) < 0`, so no
 * weighting can rescue the target task. Points at λ = 0 are single-task training and are skipped.
 */
export function classifyTransfer(curve: readonly TransferPoint[], singleTaskPerformance: number, options: TransferGainOptions = {}): TransferClassification {
  if (!isArray(curve)) invalidOption('curve', curve, 'an array of { lambda, performance }');
  const gains: { lambda: number; gain: number }[] = [];
  curve.forEach((point, i) => {
    finite(`curve[${i}].lambda`, point.lambda);
    if (point.lambda < 0) invalidOption(`curve[${i}].lambda`, point.lambda, 'a non-negative weight');
    if (point.lambda > 0) gains.push({ lambda: point.lambda, gain: transferGain(point.performance, singleTaskPerformance, options) });
  });
  if (gains.length === 0) throw new MtlError('EMPTY_DATA', 'the transfer curve has no point with lambda > 0', {});
  let best = gains[0]!;
  for (const g of gains) if (g.gain > best.gain) best = g;
  const kind: NegativeTransferKind = best.gain < 0 ? 'strong' : gains.some((g) => g.gain < 0) ? 'weak' : 'none';
  return { kind, gains, best };
}

function finite(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MtlError('INVALID_DATA', `${name} must be a finite number, got ${String(value)}`, { what: name, value });
  }
}
