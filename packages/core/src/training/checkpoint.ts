/**
 * Checkpoints on disk: `dir/step-XXXXXXXXX[-G]/` directories (see checkpoint-format.ts for their
 * files) and `dir/latest.json` naming the newest. Writing never removes or replaces the last good
 * checkpoint before the new one is durable; loading falls back to the newest intact checkpoint.
 */
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MtlError, requirePositiveInteger } from '../errors.js';
import { STATE_FILE, TENSORS_FILE, decodeCheckpoint, encodeCheckpoint, type CheckpointState } from './checkpoint-format.js';
import { checkOptions, functionOption, positiveInt } from '../options.js';
import { removeStaleTemps, renameDurable, syncDirectory, tempSuffix, writeDurable } from './checkpoint-files.js';

export { disposeCheckpoint, type CheckpointState } from './checkpoint-format.js';

const LATEST = 'latest.json';
const NAME = /^step-(\d{9,})(?:-(\d+))?$/;

/** Temporary paths of the writes in progress in this process (never cleaned as leftovers). */
const inFlight = new Set<string>();

export interface SaveCheckpointOptions {
  /** Checkpoints kept on disk, the new one included (default 2). */
  readonly keep?: number;
}

export interface LoadCheckpointOptions {
  /**
   * Told when a checkpoint had to be skipped (damaged, unreadable) or `latest.json` is missing.
   * Default: `process.emitWarning` with type `MtlWarning`.
   */
  readonly onWarning?: (message: string) => void;
}

/** A checkpoint found on disk. */
interface Entry {
  readonly name: string;
  readonly step: number;
  /** 1 for `step-N`, G for `step-N-G` (a later save at the same step). */
  readonly generation: number;
}

/**
 * Writes a checkpoint and makes it the latest, in an order that survives a kill at any point:
 * `step-N.tmp-<pid>/` is written and fsynced, renamed to a name no existing checkpoint has
 * (`step-N`, or `step-N-2`, ... when saving again at the same step), the directory is fsynced, then
 * `latest.json` is replaced the same way, and only then are older checkpoints beyond `keep` (and
 * leftovers of killed writers) removed. Throws NON_FINITE_PARAMETER, before writing anything, when a
 * parameter is NaN or infinite. Returns the checkpoint's path.
 */
export async function saveCheckpoint(dir: string, state: CheckpointState, options: SaveCheckpointOptions = {}): Promise<string> {
  checkOptions(options, { keep: positiveInt }, 'saveCheckpoint');
  const keep = requirePositiveInteger('checkpoint.keep', options.keep ?? 2);
  const encoded = encodeCheckpoint(state);
  return writeStep(dir, `saving checkpoint into ${dir}`, async () => {
    await mkdir(dir, { recursive: true });
    await removeStaleTemps(dir, inFlight);
    const name = freshName(state.step, await listCheckpoints(dir));
    const tmp = join(dir, name + tempSuffix());
    const pointer = join(dir, LATEST + tempSuffix());
    inFlight.add(tmp).add(pointer);
    try {
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp);
      await writeDurable(join(tmp, TENSORS_FILE), encoded.tensors);
      await writeDurable(join(tmp, STATE_FILE), encoded.state);
      await syncDirectory(tmp);
      await renameDurable(tmp, join(dir, name), dir);
      await writeDurable(pointer, JSON.stringify({ checkpoint: name, step: state.step, epoch: state.epoch }));
      await renameDurable(pointer, join(dir, LATEST), dir);
    } finally {
      inFlight.delete(tmp);
      inFlight.delete(pointer);
    }
    await prune(dir, name, keep);
    return join(dir, name);
  });
}

async function writeStep<T>(dir: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof MtlError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new MtlError('CHECKPOINT', `${what} failed (${code ?? (error as Error).message}); the previous checkpoint is kept`, { dir, cause: code }, { cause: error });
  }
}

/**
 * Loads the newest intact checkpoint in `dir`, or undefined when there is none at all. Checkpoints
 * are tried newest first (by step, then by later save); a damaged or unreadable one is skipped with
 * a warning, as is a missing `latest.json`. Throws CHECKPOINT when checkpoints exist but none is intact.
 */
export async function loadLatestCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Promise<CheckpointState | undefined> {
  checkOptions(options, { onWarning: functionOption }, 'loadLatestCheckpoint');
  const warn = options.onWarning ?? ((message: string) => process.emitWarning(message, { type: 'MtlWarning', code: 'MTL_CHECKPOINT' }));
  let entries: Entry[];
  try {
    entries = await listCheckpoints(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MtlError('CHECKPOINT', `cannot list checkpoints in ${dir}`, { dir }, { cause: error });
  }
  if (entries.length === 0) return undefined;
  const pointer = await readPointer(dir);
  if (pointer === undefined) warn(`${join(dir, LATEST)} is missing or unreadable; looking for the newest intact checkpoint in ${dir}`);
  const failures: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    try {
      const state = await loadCheckpoint(path);
      if (failures.length > 0) warn(`resuming from ${path}, the newest intact checkpoint (skipped: ${failures.join('; ')})`);
      return state;
    } catch (error) {
      if (!(error instanceof MtlError)) throw error;
      failures.push(error.message);
      warn(`skipping checkpoint ${path}: ${error.message}`);
    }
  }
  throw new MtlError('CHECKPOINT', `no intact checkpoint in ${dir}: ${failures.join('; ')}`, { dir, failures });
}

/** Loads the checkpoint in directory `path` (throws CHECKPOINT when it is missing or damaged). */
export async function loadCheckpoint(path: string): Promise<CheckpointState> {
  let stateText: string;
  let bytes: Buffer;
  try {
    stateText = await readFile(join(path, STATE_FILE), 'utf8');
    bytes = await readFile(join(path, TENSORS_FILE));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MtlError('CHECKPOINT', `cannot read checkpoint at ${path} (${code ?? (error as Error).message})`, { path, cause: code }, { cause: error });
  }
  return decodeCheckpoint(path, stateText, bytes);
}

/** The checkpoints in `dir`, newest first. */
async function listCheckpoints(dir: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const name of await readdir(dir)) {
    const match = NAME.exec(name);
    if (match) entries.push({ name, step: Number(match[1]), generation: Number(match[2] ?? 1) });
  }
  return entries.sort((a, b) => b.step - a.step || b.generation - a.generation);
}

async function readPointer(dir: string): Promise<string | undefined> {
  try {
    const pointer = JSON.parse(await readFile(join(dir, LATEST), 'utf8')) as { checkpoint?: unknown };
    return typeof pointer.checkpoint === 'string' && NAME.test(pointer.checkpoint) ? pointer.checkpoint : undefined;
  } catch {
    return undefined;
  }
}

/** `step-N`, or `step-N-G` with G one more than any save at step N so far. */
function freshName(step: number, entries: readonly Entry[]): string {
  const base = `step-${String(step).padStart(9, '0')}`;
  const generations = entries.filter((e) => e.step === step).map((e) => e.generation);
  return generations.length === 0 ? base : `${base}-${Math.max(...generations) + 1}`;
}

/**
 * Removes checkpoints beyond `keep` (the newest ones and `current` stay) and those that sort after
 * `current`: they belong to an abandoned run (a resume from an earlier checkpoint, a fresh run in an
 * old directory), and newest-first loading must find `current` first.
 */
async function prune(dir: string, current: string, keep: number): Promise<void> {
  const entries = await listCheckpoints(dir);
  const position = entries.findIndex((e) => e.name === current);
  const stale = [...entries.slice(0, position), ...entries.slice(position + keep)];
  if (position > 0) {
    const names = entries.slice(0, position).map((e) => e.name);
    process.emitWarning(`removing checkpoints of later steps than ${current} in ${dir} (${names.join(', ')}): they belong to an abandoned run`, { type: 'MtlWarning', code: 'MTL_CHECKPOINT' });
  }
  for (const e of stale) {
    // Renamed first: a kill during the recursive removal leaves a temp entry (cleaned by the next
    // save), never a half-deleted checkpoint that looks like one.
    const doomed = join(dir, e.name + tempSuffix());
    inFlight.add(doomed);
    try {
      await renameDurable(join(dir, e.name), doomed, dir);
      await rm(doomed, { recursive: true, force: true });
    } finally {
      inFlight.delete(doomed);
    }
  }
}
