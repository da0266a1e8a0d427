import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { invalidOption } from '@mtl/core/internal';

/** Where and whether a built dataset is stored on disk. */
export interface CacheOptions {
  /** Store the built data and read it back on the next call with the same options. Default true. */
  readonly cache?: boolean;
  /** Cache folder. Default: `node_modules/.cache/mtl` of the nearest folder up from the working directory that has `node_modules`, else `<os tmpdir>/mtl-cache`. */
  readonly cacheDir?: string;
}

const MAGIC = 'MTLCACHE1\n';

/** The default cache folder (see {@link CacheOptions.cacheDir}). */
export function defaultCacheDir(): string {
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'mtl');
    const parent = dirname(dir);
    if (parent === dir) return join(tmpdir(), 'mtl-cache');
    dir = parent;
  }
}

/** The cache file for a dataset name and a key describing everything the data depends on. */
export function cacheFile(options: CacheOptions, name: string, key: string): string | undefined {
  if (options.cache === false) return undefined;
  if (options.cacheDir !== undefined && (typeof options.cacheDir !== 'string' || options.cacheDir === '')) invalidOption('cacheDir', options.cacheDir, 'a folder path');
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 20);
  return join(options.cacheDir ?? defaultCacheDir(), `${name}-${digest}.bin`);
}

/**
 * Reads byte arrays written by {@link writeCache} for exactly this key; `undefined` when the file
 * is missing, written for another key, or truncated (the caller then rebuilds and overwrites it).
 */
export function readCache(file: string, key: string): Uint8Array[] | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length < MAGIC.length + 4 || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLength > bytes.length) return undefined;
  let header: { key?: unknown; lengths?: unknown };
  try {
    header = JSON.parse(bytes.toString('utf8', start, start + headerLength)) as typeof header;
  } catch {
    return undefined;
  }
  if (header.key !== key || !Array.isArray(header.lengths)) return undefined;
  const lengths = header.lengths as number[];
  let offset = start + headerLength;
  if (offset + lengths.reduce((a, b) => a + b, 0) !== bytes.length) return undefined;
  return lengths.map((length) => {
    const part = new Uint8Array(length);
    part.set(bytes.subarray(offset, offset + length));
    offset += length;
    return part;
  });
}

/** Writes byte arrays under a key, atomically (temporary file, then rename). */
export function writeCache(file: string, key: string, parts: readonly Uint8Array[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const header = Buffer.from(JSON.stringify({ key, lengths: parts.map((p) => p.length) }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, Buffer.concat([Buffer.from(MAGIC, 'latin1'), length, header, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.length))]));
  renameSync(temporary, file);
}

/** The bytes of an Int32Array (for caching index arrays). */
export function int32Bytes(values: Int32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** An Int32Array back from {@link int32Bytes}'s bytes. */
export function bytesToInt32(bytes: Uint8Array): Int32Array {
  const copy = new Uint8Array(bytes);
  return new Int32Array(copy.buffer, 0, copy.length / 4);
}
