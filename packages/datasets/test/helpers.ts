import { isMtlError } from '@mtl/core';

/** The MtlError code a call throws, or undefined if it does not throw. */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isMtlError(error) ? error.code : `not an MtlError: ${String(error)}`;
  }
  return undefined;
}

/** All inputs and targets of a dataset-like object as one byte string, for identity checks. */
export function fingerprint(dataset: { size: number; gather(indices: ArrayLike<number>): { x: Float32Array; targets: Readonly<Record<string, ArrayLike<number>>> } }): string {
  const all = Array.from({ length: dataset.size }, (_, i) => i);
  const batch = dataset.gather(all);
  const parts = [Buffer.from(batch.x.buffer, batch.x.byteOffset, batch.x.byteLength).toString('base64')];
  for (const name of Object.keys(batch.targets).sort()) parts.push(name, Array.from(batch.targets[name]!).join(','));
  return parts.join('|');
}
