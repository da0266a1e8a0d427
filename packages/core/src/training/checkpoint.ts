import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MtlError } from '../errors.js';
import { ParamSnapshot, type SnapshotData } from '../parameters.js';
import type { OptimizerConfig, OptimizerSnapshot } from '../optimizers.js';

const FORMAT = 'mtl-checkpoint@1';

/** Everything needed to resume training exactly where it stopped. */
export interface CheckpointState {
  readonly epoch: number;
  readonly step: number;
  readonly parameters: ParamSnapshot;
  readonly optimizer: OptimizerSnapshot;
  /** JSON data of the trainer (RNG states, batch order, rule state, history, early stopping). */
  readonly trainer: unknown;
}

interface Manifest {
  format: string;
  epoch: number;
  step: number;
  parameters: SnapshotData['shapes'];
  optimizer: { config: OptimizerConfig; steps: Record<string, number>; slots: SnapshotData['shapes'] };
  trainer: unknown;
  /** Float32 counts in tensors.bin: parameters first, then optimizer slots. */
  sizes: [number, number];
}

/**
 * Writes a checkpoint into `dir/step-XXXXXXXX/` and only then points `dir/latest.json` at it
 * (write + rename), so a crash or a NaN mid-write leaves the previous checkpoint intact.
 * Older checkpoints beyond `keep` are removed.
 */
export async function saveCheckpoint(dir: string, state: CheckpointState, options: { keep?: number } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  const name = `step-${String(state.step).padStart(9, '0')}`;
  const tmp = join(dir, `${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  const params = state.parameters.toData();
  const slots = state.optimizer.slots.toData();
  const manifest: Manifest = {
    format: FORMAT,
    epoch: state.epoch,
    step: state.step,
    parameters: params.shapes,
    optimizer: { config: state.optimizer.config, steps: { ...state.optimizer.steps }, slots: slots.shapes },
    trainer: state.trainer,
    sizes: [params.values.length, slots.values.length],
  };
  const bin = new Float32Array(params.values.length + slots.values.length);
  bin.set(params.values, 0);
  bin.set(slots.values, params.values.length);
  await writeFile(join(tmp, 'tensors.bin'), new Uint8Array(bin.buffer));
  await writeFile(join(tmp, 'state.json'), JSON.stringify(manifest));
  const final = join(dir, name);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  const pointer = join(dir, `latest.json.tmp-${process.pid}`);
  await writeFile(pointer, JSON.stringify({ checkpoint: name }));
  await rename(pointer, join(dir, 'latest.json'));
  await pruneOld(dir, name, options.keep ?? 2);
  return final;
}

/** Loads the checkpoint `dir/latest.json` points at, or undefined if there is none. */
export async function loadLatestCheckpoint(dir: string): Promise<CheckpointState | undefined> {
  let pointer: { checkpoint?: unknown };
  try {
    pointer = JSON.parse(await readFile(join(dir, 'latest.json'), 'utf8')) as { checkpoint?: unknown };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MtlError('CHECKPOINT', `cannot read ${join(dir, 'latest.json')}`, { dir }, { cause: error });
  }
  if (typeof pointer.checkpoint !== 'string') throw new MtlError('CHECKPOINT', `${join(dir, 'latest.json')} names no checkpoint`, { dir });
  return loadCheckpoint(join(dir, pointer.checkpoint));
}

export async function loadCheckpoint(path: string): Promise<CheckpointState> {
  let manifest: Manifest;
  let bytes: Buffer;
  try {
    manifest = JSON.parse(await readFile(join(path, 'state.json'), 'utf8')) as Manifest;
    bytes = await readFile(join(path, 'tensors.bin'));
  } catch (error) {
    throw new MtlError('CHECKPOINT', `cannot read checkpoint at ${path}`, { path }, { cause: error });
  }
  if (manifest.format !== FORMAT) throw new MtlError('CHECKPOINT', `${path} is not a ${FORMAT} checkpoint (format ${String(manifest.format)})`, { path });
  const [paramCount, slotCount] = manifest.sizes;
  if (bytes.byteLength !== (paramCount + slotCount) * 4) {
    throw new MtlError('CHECKPOINT', `${path}/tensors.bin has ${bytes.byteLength} bytes, expected ${(paramCount + slotCount) * 4}`, { path });
  }
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return {
    epoch: manifest.epoch,
    step: manifest.step,
    parameters: ParamSnapshot.fromData({ shapes: manifest.parameters, values: values.subarray(0, paramCount) }),
    optimizer: {
      config: manifest.optimizer.config,
      steps: manifest.optimizer.steps,
      slots: ParamSnapshot.fromData({ shapes: manifest.optimizer.slots, values: values.subarray(paramCount) }),
    },
    trainer: manifest.trainer,
  };
}

export function disposeCheckpoint(state: CheckpointState): void {
  state.parameters.dispose();
  state.optimizer.slots.dispose();
}

async function pruneOld(dir: string, current: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).filter((n) => /^step-\d+$/.test(n) && n !== current).sort();
  const excess = names.length - (keep - 1);
  for (const n of names.slice(0, Math.max(0, excess))) await rm(join(dir, n), { recursive: true, force: true });
}
