import type { MethodAdapter } from './types.js';
import { groupUpdate } from './group-update.js';
import { itMtl } from './transference.js';
import { conal } from './conal.js';

/**
 * Adapters for method packages that may not be installed (they are written alongside the
 * benchmark). Each loads its package at run time; a missing package or a missing export fails that
 * method's jobs with a clear reason while the other methods complete.
 */
export function optionalAdapters(): MethodAdapter[] {
  return [groupUpdate, itMtl, conal];
}

/** The named export of a loaded package, or a clear error saying which export is missing. */
export function requireExport<T>(module: Record<string, unknown>, pkg: string, name: string): T {
  const value = module[name];
  if (value === undefined) {
    const exported = Object.keys(module).filter((k) => k !== 'default');
    throw new Error(`${pkg} does not export "${name}" (it exports: ${exported.length ? exported.join(', ') : 'nothing yet'})`);
  }
  return value as T;
}
