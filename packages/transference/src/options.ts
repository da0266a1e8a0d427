import { MtlError } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';

/** Unknown option keys are errors: a misspelt option must not silently fall back to its default. */
export function checkKnownKeys(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new MtlError('INVALID_OPTION', `${what}: unknown option "${key}" (known: ${known.join(', ')})`, { option: key, known });
    }
  }
}

export function requireBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalidOption(option, value, 'true or false');
  return value;
}

export function requireChoice<T extends string>(option: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !choices.includes(value as T)) invalidOption(option, value, choices.map((c) => `"${c}"`).join(' or '));
  return value as T;
}

export function requireOptionsObject(what: string, options: unknown): object {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) invalidOption(what, options, 'an options object');
  return options;
}
