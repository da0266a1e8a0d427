import { MtlError } from '@mtl/core';

/** A name the user gave (method, dataset, architecture, preset, option) that does not exist; lists what does. */
export function unknownName(what: string, name: unknown, known: readonly string[]): MtlError {
  return new MtlError('INVALID_OPTION', `unknown ${what} ${JSON.stringify(name)}; available: ${known.join(', ')}`, { option: what, value: name, known });
}

/** Throws for keys of `value` not in `known` (unknown options are errors, not silently ignored). */
export function rejectUnknownKeys(what: string, value: Readonly<Record<string, unknown>>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw unknownName(`${what} option`, key, known);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? String(error);
  return String(error);
}

/** A bad value of a benchmark option, as core's typed error (code INVALID_OPTION) naming the option. */
export function badOption(option: string, message: string, value?: unknown): MtlError {
  return new MtlError('INVALID_OPTION', message, { option, value });
}
