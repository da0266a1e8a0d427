/**
 * Every failure @mtl can foresee is an {@link MtlError} with a stable `code` and the offending
 * thing named in `details`, so callers can branch on codes instead of parsing tfjs messages.
 */
export type MtlErrorCode =
  | 'SHAPE_MISMATCH'
  | 'UNKNOWN_TASK'
  | 'MISSING_TARGET'
  | 'EMPTY_DATA'
  | 'INVALID_DATA'
  | 'INVALID_OPTION'
  | 'NON_FINITE_LOSS'
  | 'NON_FINITE_GRADIENT'
  | 'NON_FINITE_PARAMETER'
  | 'NON_FINITE_METRIC'
  | 'BACKEND_UNAVAILABLE'
  | 'BACKEND_NOT_READY'
  | 'CHECKPOINT'
  | 'TENSOR_LEAK'
  | 'WORKER_FAILED'
  | 'DISPOSED'
  | 'MISSING_DEPENDENCY';

export class MtlError extends Error {
  override readonly name = 'MtlError';
  constructor(
    readonly code: MtlErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(`[${code}] ${message}`, options);
  }
}

export function isMtlError(error: unknown, code?: MtlErrorCode): error is MtlError {
  return error instanceof MtlError && (code === undefined || error.code === code);
}

/** Throws INVALID_OPTION naming the option, the value given and what was expected. */
export function invalidOption(option: string, value: unknown, expected: string): never {
  throw new MtlError('INVALID_OPTION', `option "${option}" must be ${expected}, got ${describeValue(value)}`, {
    option,
    value,
    expected,
  });
}

/** `Array.isArray` that keeps element types unknown instead of `any`. */
export function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return `array of length ${value.length}`;
  return typeof value;
}

export function requirePositiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    invalidOption(option, value, 'a positive integer');
  }
  return value;
}

export function requireNonNegativeInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    invalidOption(option, value, 'a non-negative integer');
  }
  return value;
}

export function requireFiniteNumber(option: string, value: unknown, range?: { min?: number; max?: number }): number {
  const min = range?.min ?? -Infinity;
  const max = range?.max ?? Infinity;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const bounds = range ? ` in [${min}, ${max}]` : '';
    invalidOption(option, value, `a finite number${bounds}`);
  }
  return value;
}
