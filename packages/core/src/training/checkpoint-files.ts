/**
 * File-system steps of a checkpoint write that survive a kill or a power cut at any point: files are
 * fsynced before they are renamed into place, and the directory is fsynced after every rename, so a
 * rename that a reader can see is never of a file whose bytes are still in the page cache only.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MtlError } from '../errors.js';

/** Writes `data` to `path` and fsyncs it (the bytes are on disk when this resolves). */
export async function writeDurable(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Fsyncs a directory, making the renames and creations inside it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, constants.O_RDONLY);
  } catch (error) {
    // Platforms that cannot open a directory (Windows) cannot fsync one either.
    if ((error as NodeJS.ErrnoException).code === 'EISDIR' || (error as NodeJS.ErrnoException).code === 'EPERM') return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/** `rename(from, to)`, then fsync of the directory holding both. */
export async function renameDurable(from: string, to: string, dir: string): Promise<void> {
  await rename(from, to);
  await syncDirectory(dir);
}

/** The suffix of temporary entries written by process `pid`. */
export function tempSuffix(pid = process.pid): string {
  return `.tmp-${pid}`;
}

const TEMP = /\.tmp-(\d+)$/;

/**
 * Removes temporary entries (`*.tmp-<pid>`) that a killed writer left behind: those of processes that
 * no longer run, and this process's own ones except `inFlight` (writes in progress right now).
 */
export async function removeStaleTemps(dir: string, inFlight: ReadonlySet<string>): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const match = TEMP.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    const path = join(dir, name);
    if (inFlight.has(path)) continue;
    if (pid !== process.pid && processAlive(pid)) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Makes sure checkpoints can be written into `dir` (creating it), by writing and removing a probe
 * file: the trainer calls this before the first step, so an unusable directory fails at once with a
 * typed error instead of with a raw ENOTDIR after an epoch of work.
 */
export async function assertWritableDirectory(dir: string, option = 'checkpoint.dir'): Promise<void> {
  const probe = join(dir, `.write-probe${tempSuffix()}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeDurable(probe, '');
    await unlink(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MtlError('CHECKPOINT', `option "${option}": cannot write checkpoints into ${dir} (${code ?? (error as Error).message})`, { option, dir, cause: code }, { cause: error });
  }
}
