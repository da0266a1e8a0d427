import { tf } from '@mtl/core';
import type { BlasAddon, ConvGeometryArgs } from '../addon.js';
import { f32, type WasmBackend } from './wasm-heap.js';

/**
 * im2col matrices kept for reuse. One training step im2col's the same input several times: the
 * forward Conv2D, then the filter gradient of every task's backward pass (core records one forward
 * and runs T backward passes over it), and for LeNet's first layer every step of a fixed batch.
 *
 * Why a kept matrix is right: the matrix is a pure function of the input's bytes and the
 * geometry, and the key holds both. The bytes of a live tfjs tensor never change (no tfjs kernel,
 * none of core's or ours, writes into an input; `Variable.assign` swaps the dataId rather than
 * writing). Entries are keyed by the input's `dataId` object, which tfjs-wasm makes afresh for
 * every buffer and never reuses, plus the full geometry (which includes the input's shape, so a
 * reshaped view of the same bytes is another entry). An entry is used only while that dataId is
 * still alive on the same backend (`refCount > 0`), and dropped (its matrix freed) at the first
 * lookup after the input is gone. Memory is bounded: at most {@link MAX_ENTRIES} matrices and
 * {@link MAX_BYTES} in all, least recently used dropped first, nothing kept over half the budget.
 */
export const MAX_ENTRIES = 4;
export const MAX_BYTES = 256 * 2 ** 20;

interface Entry {
  readonly backend: WasmBackend;
  readonly dataId: tf.DataId;
  readonly key: string;
  readonly cols: tf.TensorInfo;
  readonly bytes: number;
}

let entries: Entry[] = [];

function drop(entry: Entry): void {
  entry.backend.disposeData(entry.cols.dataId);
}

/** Drops the entries whose input is no longer alive on `backend` (and those of another backend). */
function sweep(backend: WasmBackend): void {
  const live: Entry[] = [];
  for (const e of entries) {
    if (e.backend !== backend) continue; // that backend was replaced: its heap (and our matrix) went with it
    if (backend.refCount(e.dataId) > 0) live.push(e);
    else drop(e);
  }
  entries = live;
}

/**
 * The im2col matrix [pixels, field] of `x` under `geometry`: a kept one when there is, else a fresh
 * one, which is kept when `keep` and the budget allows.
 * @returns the matrix and whether the caller owns (and must release) it.
 */
export function im2colCached(
  addon: BlasAddon,
  backend: WasmBackend,
  x: tf.TensorInfo,
  geometry: ConvGeometryArgs,
  pixels: number,
  field: number,
  keep: boolean,
): { cols: tf.TensorInfo; owned: boolean } {
  sweep(backend);
  const key = geometry.join(',');
  const hit = entries.findIndex((e) => e.dataId === x.dataId && e.key === key);
  if (hit >= 0) {
    const [entry] = entries.splice(hit, 1);
    entries.push(entry!); // most recently used last
    return { cols: entry!.cols, owned: false };
  }
  const bytes = 4 * pixels * field;
  const cols = backend.makeOutput([pixels, field], 'float32');
  addon.im2col(f32(backend, x), f32(backend, cols), ...geometry);
  if (!keep || bytes > MAX_BYTES / 2) return { cols, owned: true };
  let total = entries.reduce((sum, e) => sum + e.bytes, 0) + bytes;
  while (entries.length >= MAX_ENTRIES || total > MAX_BYTES) {
    const oldest = entries.shift()!;
    total -= oldest.bytes;
    drop(oldest);
  }
  entries.push({ backend, dataId: x.dataId, key, cols, bytes });
  return { cols, owned: false };
}

/** Frees every kept matrix (disableBlas, tests). */
export function clearIm2colCache(): void {
  for (const e of entries) drop(e);
  entries = [];
}

/** How many matrices are kept now (tests). */
export function im2colCacheSize(): number {
  return entries.length;
}

/** Whether a gradient tape is recording: a forward Conv2D's input will be im2col'ed again by its filter gradient. */
export function tapeRecording(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}
