/**
 * One way to check a public options object: every key must be known, every value must pass its
 * validator. Misspelled keys (`{ C: -1 }` for `c`) and out-of-range values become INVALID_OPTION
 * errors naming the key, instead of being ignored.
 */
import { MtlError, describeValue, invalidOption } from './errors.js';

/**
 * Checks one option value; throws (normally through {@link invalidOption}) when it is unacceptable.
 * `name` is the option's full name for the message (e.g. `checkpoint.keep`). Validators are only
 * called for values that are not `undefined` (every option is optional unless a validator for a
 * required one is wrapped in {@link required}).
 */
export type OptionValidator = (value: unknown, name: string) => void;

export type OptionSpec = Readonly<Record<string, OptionValidator>>;

const REQUIRED = Symbol('required');

/**
 * Throws INVALID_OPTION for any key of `options` that `spec` does not list and for any value its
 * validator rejects; returns `options` unchanged. `where` says whose options they are (for the
 * message, e.g. `cagrad()`); `prefix` is put before each key in the option's name (`checkpoint.`).
 * `undefined` and `null`/absent `options` are accepted (no options given).
 */
export function checkOptions<T>(options: T, spec: OptionSpec, where: string, prefix = ''): T {
  if (options === undefined) {
    checkRequired({}, spec, where, prefix);
    return options;
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new MtlError('INVALID_OPTION', `the options of ${where} must be an object, got ${describeValue(options)}`, {
      option: prefix ? prefix.replace(/\.$/, '') : 'options',
      value: options,
      where,
    });
  }
  const record = options as Record<string, unknown>;
  const known = Object.keys(spec);
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(spec, key)) {
      const suggestion = known.find((k) => k.toLowerCase() === key.toLowerCase());
      const hint = suggestion ? ` (did you mean "${prefix}${suggestion}"?)` : '';
      throw new MtlError('INVALID_OPTION', `unknown option "${prefix}${key}" for ${where}${hint}; known options: ${known.map((k) => prefix + k).join(', ')}`, {
        option: prefix + key,
        value: record[key],
        known: known.map((k) => prefix + k),
        where,
      });
    }
  }
  checkRequired(record, spec, where, prefix);
  for (const key of known) {
    const value = record[key];
    if (value !== undefined) spec[key]!(value, prefix + key);
  }
  return options;
}

function checkRequired(record: Record<string, unknown>, spec: OptionSpec, where: string, prefix: string): void {
  for (const [key, validator] of Object.entries(spec)) {
    if ((validator as { [REQUIRED]?: boolean })[REQUIRED] && record[key] === undefined) {
      throw new MtlError('INVALID_OPTION', `option "${prefix}${key}" of ${where} is required`, { option: prefix + key, value: undefined, where });
    }
  }
}

/** Marks an option as required: absent (undefined) is an error too. */
export function required(validator: OptionValidator): OptionValidator {
  const wrapped: OptionValidator = (value, name) => validator(value, name);
  (wrapped as { [REQUIRED]?: boolean })[REQUIRED] = true;
  return wrapped;
}

/** Accepts anything (an option checked elsewhere, e.g. an object with its own validation). */
export const anyValue: OptionValidator = () => undefined;

/** A finite number in `[min, max]` (bounds inclusive; `exclusiveMin` makes the lower one strict). */
export function finite(range: { min?: number; max?: number; exclusiveMin?: boolean } = {}): OptionValidator {
  return (value, name) => {
    const min = range.min ?? -Infinity;
    const max = range.max ?? Infinity;
    const aboveMin = range.exclusiveMin ? (value as number) > min : (value as number) >= min;
    if (typeof value !== 'number' || !Number.isFinite(value) || !aboveMin || value > max) {
      const lower = range.min === undefined ? '' : range.exclusiveMin ? ` > ${min}` : ` >= ${min}`;
      const upper = range.max === undefined ? '' : ` <= ${max}`;
      const bounds = [lower, upper].filter(Boolean).join(' and');
      invalidOption(name, value, `a finite number${bounds}`);
    }
  };
}

/** A finite number > 0. */
export const positiveNumber: OptionValidator = finite({ min: 0, exclusiveMin: true });
/** A finite number >= 0. */
export const nonNegativeNumber: OptionValidator = finite({ min: 0 });

/** An integer `>= min` (default 1). */
export function integer(min = 1, max = Infinity): OptionValidator {
  return (value, name) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const what = min === 1 && max === Infinity ? 'a positive integer' : min === 0 && max === Infinity ? 'a non-negative integer' : `an integer in [${min}, ${max}]`;
      invalidOption(name, value, what);
    }
  };
}

export const positiveInt: OptionValidator = integer(1);
export const nonNegativeInt: OptionValidator = integer(0);

export const booleanOption: OptionValidator = (value, name) => {
  if (typeof value !== 'boolean') invalidOption(name, value, 'true or false');
};

export const stringOption: OptionValidator = (value, name) => {
  if (typeof value !== 'string' || value.length === 0) invalidOption(name, value, 'a non-empty string');
};

export const functionOption: OptionValidator = (value, name) => {
  if (typeof value !== 'function') invalidOption(name, value, 'a function');
};

/** An object (not an array); its own fields are checked by whoever uses it. */
export const objectOption: OptionValidator = (value, name) => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalidOption(name, value, 'an object');
};

/** One of the listed values. */
export function oneOf(values: readonly unknown[]): OptionValidator {
  return (value, name) => {
    if (!values.includes(value)) invalidOption(name, value, `one of ${values.map((v) => describeValue(v)).join(', ')}`);
  };
}

/** An array whose every element passes `element` (named `name[i]`); `minLength` elements at least. */
export function arrayOf(element: OptionValidator, options: { minLength?: number; unique?: boolean } = {}): OptionValidator {
  return (value, name) => {
    if (!Array.isArray(value)) invalidOption(name, value, 'an array');
    const list = value as readonly unknown[];
    if (list.length < (options.minLength ?? 0)) invalidOption(name, value, `an array of at least ${options.minLength} elements`);
    list.forEach((v, i) => element(v, `${name}[${i}]`));
    if (options.unique) {
      const seen = new Set<unknown>();
      list.forEach((v, i) => {
        if (seen.has(v)) invalidOption(`${name}[${i}]`, v, `unique within ${name} (${describeValue(v)} appears twice)`);
        seen.add(v);
      });
    }
  };
}

/** A record whose every value passes `value` (named `name.key`). */
export function recordOf(value: OptionValidator): OptionValidator {
  return (record, name) => {
    objectOption(record, name);
    for (const [key, v] of Object.entries(record as Record<string, unknown>)) value(v, `${name}.${key}`);
  };
}

/** Either validator accepts: tries `a`, then `b`, and reports `expected` when both reject. */
export function either(a: OptionValidator, b: OptionValidator, expected: string): OptionValidator {
  return (value, name) => {
    try {
      a(value, name);
    } catch {
      try {
        b(value, name);
      } catch {
        invalidOption(name, value, expected);
      }
    }
  };
}
