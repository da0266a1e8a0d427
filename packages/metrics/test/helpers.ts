import { isMtlError } from '@mtl/core';

/** The MtlError code `fn` throws ('not an MtlError' for other errors, undefined if it returns). */
export function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isMtlError(error) ? error.code : 'not an MtlError';
  }
  return undefined;
}
