import type { MethodAdapter } from './types.js';
import { groupUpdate } from './group-update.js';
import { itMtl, itUwPcgrad } from './transference.js';
import { conal, conalPro } from './conal.js';

/**
 * Adapters for method packages that may not be installed (they are written alongside the
 * benchmark). Each loads its package at run time; a missing package or a missing export fails that
 * method's jobs with a clear reason while the other methods complete.
 */
export function optionalAdapters(): MethodAdapter[] {
  return [groupUpdate, itMtl, itUwPcgrad, conal, conalPro];
}
