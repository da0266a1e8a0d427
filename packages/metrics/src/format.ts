import { invalidOption } from '@mtl/core/internal';

/**
 * A relative change (Δm, Δp, Δ_I, in percent) as people read it: sign always shown, rounded for
 * display only — `formatDelta(17.500000000000007)` is `'+17.50%'`; the value itself stays exact.
 */
export function formatDelta(percent: number, options: { digits?: number } = {}): string {
  const digits = options.digits ?? 2;
  if (!Number.isInteger(digits) || digits < 0 || digits > 12) invalidOption('digits', digits, 'an integer in [0, 12]');
  if (!Number.isFinite(percent)) invalidOption('percent', percent, 'a finite number');
  return `${formatSigned(percent, digits)}%`;
}

/** `v` with a leading sign and `digits` decimals (`-0.00` prints as `+0.00`). */
export function formatSigned(v: number, digits: number): string {
  const text = v.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? `+${text.slice(1)}` : `${v >= 0 ? '+' : ''}${text}`;
}
