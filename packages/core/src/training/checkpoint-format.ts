/**
 * What a checkpoint directory holds and how it is checked: `state.json` (the manifest: counters,
 * tensor shapes, optimizer config, the trainer's JSON state, SHA-256 checksums) and `tensors.bin`
 * (every float32 value). Decoding validates everything — format, checksums, shapes against sizes,
 * finiteness — before a single tensor is created, so a damaged checkpoint is a CHECKPOINT error and
 * never a half-restored model.
 */
import { createHash } from 'node:crypto';
import { MtlError } from '../errors.js';
import { ParamSnapshot, type SnapshotData } from '../parameters.js';
import type { OptimizerConfig, OptimizerSnapshot } from '../optimizers.js';

export const FORMAT = 'mtl-checkpoint@2';
export const STATE_FILE = 'state.json';
export const TENSORS_FILE = 'tensors.bin';

/** Everything needed to resume training exactly where it stopped. */
export interface CheckpointState {
  readonly epoch: number;
  readonly step: number;
  readonly parameters: ParamSnapshot;
  readonly optimizer: OptimizerSnapshot;
  /**
   * Further named groups of tensors that resuming needs (early stopping's best parameters under
   * `earlyStopping.best`, a model's buffers, ...). Each must be finite like the parameters.
   */
  readonly snapshots?: Readonly<Record<string, ParamSnapshot>> | undefined;
  /** JSON data of the trainer (RNG states, batch order, rule state, history, early stopping). */
  readonly trainer: unknown;
  /** The checkpoint's directory, when it was loaded from disk. */
  readonly path?: string | undefined;
}

type Shapes = SnapshotData['shapes'];

interface Manifest {
  format: string;
  epoch: number;
  step: number;
  parameters: Shapes;
  optimizer: { config: OptimizerConfig; steps: Record<string, number>; slots: Shapes };
  /** Shapes of the extra groups, in the order their values follow the slots in tensors.bin. */
  snapshots: Record<string, Shapes>;
  trainer: unknown;
  /** Float32 counts in tensors.bin: parameters, optimizer slots, then each extra group. */
  sizes: number[];
  /** SHA-256 (hex) of tensors.bin and of this manifest without `checksums` (as JSON). */
  checksums: { tensors: string; state: string };
}

export interface EncodedCheckpoint {
  readonly state: string;
  readonly tensors: Uint8Array;
}

const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/**
 * The two files of a checkpoint. Throws NON_FINITE_PARAMETER naming the first parameter (or slot,
 * or extra tensor) holding NaN or ±Infinity: such a checkpoint could only be resumed into failure.
 */
export function encodeCheckpoint(state: CheckpointState): EncodedCheckpoint {
  const groups: { what: string; data: SnapshotData }[] = [
    { what: 'parameter', data: state.parameters.toData() },
    { what: 'optimizer slot', data: state.optimizer.slots.toData() },
    ...Object.entries(state.snapshots ?? {}).map(([name, s]) => ({ what: `${name} tensor`, data: s.toData() })),
  ];
  for (const group of groups) assertFiniteValues(group.data, group.what, state.step);
  const sizes = groups.map((g) => g.data.values.length);
  const values = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  let offset = 0;
  for (const g of groups) {
    values.set(g.data.values, offset);
    offset += g.data.values.length;
  }
  const tensors = new Uint8Array(values.buffer);
  const body: Omit<Manifest, 'checksums'> = {
    format: FORMAT,
    epoch: state.epoch,
    step: state.step,
    parameters: groups[0]!.data.shapes,
    optimizer: { config: state.optimizer.config, steps: { ...state.optimizer.steps }, slots: groups[1]!.data.shapes },
    snapshots: Object.fromEntries(Object.keys(state.snapshots ?? {}).map((name, i) => [name, groups[i + 2]!.data.shapes])),
    trainer: state.trainer,
    sizes,
  };
  const manifest: Manifest = { ...body, checksums: { tensors: sha256(tensors), state: sha256(JSON.stringify(body)) } };
  return { state: JSON.stringify(manifest), tensors };
}

function assertFiniteValues(data: SnapshotData, what: string, step: number): void {
  const bad = data.values.findIndex((v) => !Number.isFinite(v));
  if (bad < 0) return;
  let offset = 0;
  for (const { key, shape } of data.shapes) {
    const size = shape.reduce((a, b) => a * b, 1);
    if (bad < offset + size) {
      throw new MtlError(
        'NON_FINITE_PARAMETER',
        `${what} "${key}" holds ${data.values[bad]} (element ${bad - offset}) at step ${step}: refusing to write a checkpoint that cannot be resumed; the previous checkpoint is kept`,
        { parameter: key, key, element: bad - offset, value: data.values[bad], step, what },
      );
    }
    offset += size;
  }
}

/**
 * A checkpoint from its two files' contents, checked through and through. Throws CHECKPOINT naming
 * `path` and what is wrong. The tensors it returns are owned by the caller ({@link disposeCheckpoint}).
 */
export function decodeCheckpoint(path: string, stateText: string, bytes: Uint8Array): CheckpointState {
  const fail = (problem: string): never => {
    throw new MtlError('CHECKPOINT', `checkpoint ${path} is damaged: ${problem}`, { path, problem });
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(stateText);
  } catch {
    return fail(`${STATE_FILE} is not valid JSON`);
  }
  if (!isRecord(parsed)) return fail(`${STATE_FILE} is not an object`);
  if (parsed['format'] !== FORMAT) {
    throw new MtlError('CHECKPOINT', `${path} is not a ${FORMAT} checkpoint (format ${JSON.stringify(parsed['format'])})`, { path, format: parsed['format'] });
  }
  const { checksums, ...body } = parsed as Partial<Manifest> & Record<string, unknown>;
  if (!isRecord(checksums) || typeof checksums['tensors'] !== 'string' || typeof checksums['state'] !== 'string') return fail(`${STATE_FILE} has no checksums`);
  if (sha256(JSON.stringify(body)) !== checksums['state']) return fail(`${STATE_FILE} does not match its checksum (edited or corrupted)`);
  if (sha256(bytes) !== checksums['tensors']) return fail(`${TENSORS_FILE} does not match its checksum (corrupted or truncated: ${bytes.byteLength} bytes)`);
  const manifest = parsed as unknown as Manifest;
  // The checksum proves the manifest is what was written; the checks below keep a manifest written
  // by another (buggy or hostile) writer from crashing the restore half-way.
  if (!isCount(manifest.epoch)) return fail(`epoch ${JSON.stringify(manifest.epoch)} is not a non-negative integer`);
  if (!isCount(manifest.step)) return fail(`step ${JSON.stringify(manifest.step)} is not a non-negative integer`);
  if (!isRecord(manifest.optimizer) || !isRecord(manifest.optimizer.config) || !isRecord(manifest.optimizer.steps)) return fail('the optimizer state is missing');
  for (const [key, steps] of Object.entries(manifest.optimizer.steps)) if (!isCount(steps)) return fail(`optimizer step count of "${key}" is ${JSON.stringify(steps)}`);
  if (!isRecord(manifest.snapshots)) return fail('the list of extra tensors is missing');
  if (!('trainer' in manifest)) return fail('the trainer state is missing');
  const shapeGroups: [string, unknown][] = [
    ['parameters', manifest.parameters],
    ['optimizer slots', manifest.optimizer.slots],
    ...Object.entries(manifest.snapshots),
  ];
  const sizes = manifest.sizes;
  if (!Array.isArray(sizes) || sizes.length !== shapeGroups.length || !sizes.every(isCount)) return fail(`sizes ${JSON.stringify(sizes)} do not list ${shapeGroups.length} tensor groups`);
  shapeGroups.forEach(([name, shapes], i) => {
    const total = shapesSize(shapes);
    if (total === undefined) fail(`the shapes of ${name} are malformed`);
    if (total !== sizes[i]) fail(`${name} have ${String(total)} values by their shapes, ${sizes[i]} by sizes`);
  });
  const count = sizes.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== count * 4) return fail(`${TENSORS_FILE} has ${bytes.byteLength} bytes, expected ${count * 4}`);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) return fail(`${TENSORS_FILE} holds a non-finite value at index ${bad}`);
  const snapshots: ParamSnapshot[] = [];
  try {
    let offset = 0;
    for (const [i, [, shapes]] of shapeGroups.entries()) {
      snapshots.push(ParamSnapshot.fromData({ shapes: shapes as Shapes, values: values.subarray(offset, offset + sizes[i]!) }));
      offset += sizes[i]!;
    }
  } catch (error) {
    snapshots.forEach((s) => s.dispose());
    if (error instanceof MtlError) return fail(error.message);
    throw error;
  }
  const [parameters, slots, ...extra] = snapshots;
  return {
    epoch: manifest.epoch,
    step: manifest.step,
    parameters: parameters!,
    optimizer: { config: manifest.optimizer.config, steps: manifest.optimizer.steps, slots: slots! },
    snapshots: Object.fromEntries(Object.keys(manifest.snapshots).map((name, i) => [name, extra[i]!])),
    trainer: manifest.trainer,
    path,
  };
}

/** Frees the tensors of a loaded (or captured) checkpoint state. */
export function disposeCheckpoint(state: CheckpointState): void {
  state.parameters.dispose();
  state.optimizer.slots.dispose();
  for (const s of Object.values(state.snapshots ?? {})) s.dispose();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** Total size of a list of `{ key, shape }`, or undefined when it is not one. */
function shapesSize(shapes: unknown): number | undefined {
  if (!Array.isArray(shapes)) return undefined;
  let total = 0;
  for (const entry of shapes as unknown[]) {
    if (!isRecord(entry) || typeof entry['key'] !== 'string' || !Array.isArray(entry['shape']) || !entry['shape'].every(isCount)) return undefined;
    total += entry['shape'].reduce((a, b) => a * b, 1);
  }
  return total;
}
