/**
 * `@mtl/core/internal`: helpers the other `@mtl` packages share (option validation, worker start-up).
 * Not part of the user-facing API: it may change in any release of `@mtl/core`, and users should not
 * import it. The root export (`@mtl/core`) is the API for users.
 */
export { invalidOption, isArray, describeValue, requirePositiveInteger, requireNonNegativeInteger, requireFiniteNumber } from './errors.js';
export { moduleHref, resolveTsxApi } from './parallel/bootstrap.js';
export { registerAccelerator, type Accelerator } from './accelerators.js';
export {
  checkOptions,
  required,
  anyValue,
  finite,
  positiveNumber,
  nonNegativeNumber,
  integer,
  positiveInt,
  nonNegativeInt,
  booleanOption,
  stringOption,
  functionOption,
  objectOption,
  oneOf,
  arrayOf,
  recordOf,
  either,
  type OptionValidator,
  type OptionSpec,
} from './options.js';
export { clock } from './training/progress.js';
