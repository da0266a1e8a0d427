/**
 * What the main thread and a gradient worker share: the words of the control buffer, the layout of
 * the output buffer, and the few messages that cross the port (read synchronously on both sides).
 */
import type { MessagePort } from 'node:worker_threads';
import { MtlError, type MtlErrorCode } from '../errors.js';
import type { BackendCandidate } from '../backend.js';

/** Int32 words per worker in the control buffer. */
export const WORDS = 4;
/** Sequence number of the last job posted (or {@link CLOSE_JOB}); the worker waits on it. */
export const JOB = 0;
/** Sequence number of the last job finished; the main thread waits on it. */
export const DONE = 1;
/** Outcome of the last finished job: {@link RESULT_OK} or {@link RESULT_ERROR} (details on the port). */
export const RESULT = 2;
/** Lifecycle of the worker: starting, ready, failed to start, exited. */
export const STATUS = 3;

export const CLOSE_JOB = -1;
export const RESULT_OK = 0;
export const RESULT_ERROR = 1;
export const STATUS_STARTING = 0;
export const STATUS_READY = 1;
export const STATUS_FAILED = 2;
export const STATUS_EXITED = 3;

/** Where one task's results go in the output buffer. */
export interface TaskSlot {
  readonly name: string;
  /** Position among the main model's tasks: index of its loss and of its Jacobian row. */
  readonly index: number;
  /** Offset of its own-parameter gradients in the own region, in layout order. */
  readonly ownOffset: number;
}

/** Output buffer (float32): `[losses: T][rows: T × D][own gradients of every task]`. */
export class OutputLayout {
  constructor(
    readonly taskCount: number,
    readonly sharedSize: number,
    readonly ownSize: number,
  ) {}

  get size(): number {
    return this.taskCount * (1 + this.sharedSize) + this.ownSize;
  }

  loss(index: number): number {
    return index;
  }

  row(index: number): number {
    return this.taskCount + index * this.sharedSize;
  }

  own(slot: TaskSlot): number {
    return this.taskCount * (1 + this.sharedSize) + slot.ownOffset;
  }
}

/** A tensor in the batch buffer (offsets and lengths in 4-byte elements). */
export interface TensorSlot {
  readonly offset: number;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32';
}

export interface BatchLayout {
  readonly buffer: SharedArrayBuffer;
  readonly x: TensorSlot;
  readonly targets: Readonly<Record<string, TensorSlot>>;
}

/** `workerData` of a gradient worker. */
export interface WorkerInit {
  readonly index: number;
  readonly setupModule: string;
  readonly setupArgs: unknown;
  /** The main thread's backend and kernels, so both compute the same bits. */
  readonly backend: BackendCandidate | undefined;
  readonly fastKernels: boolean;
  /** URL of the worker entry and, when TypeScript must be loaded, the path of tsx's ESM API. */
  readonly entry: string;
  readonly tsx: string | undefined;
  readonly control: SharedArrayBuffer;
  /** Every parameter of the model, then every buffer (BatchNorm statistics), float32, in `modelState` order. */
  readonly params: SharedArrayBuffer;
  readonly outputs: SharedArrayBuffer;
  readonly sharedSize: number;
  readonly slots: readonly TaskSlot[];
  readonly port: MessagePort;
}

/** Posted before a job is signalled; `batch` only when the worker's cached batch is stale. */
export interface Job {
  readonly tasks: readonly string[];
  /** The pass the main thread runs (mode and dropout seed), so every row sees the same mask. */
  readonly forward: { readonly training: boolean; readonly seed: number };
  readonly batch?: BatchLayout | undefined;
}

export interface ErrorData {
  readonly message: string;
  readonly code?: string | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

export interface ParameterInfo {
  readonly key: string;
  readonly shape: readonly number[];
  readonly task: string | undefined;
  readonly tasks: readonly string[] | undefined;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly parameters: readonly ParameterInfo[]; readonly buffers: readonly ParameterInfo[]; readonly taskNames: readonly string[] }
  | { readonly type: 'error'; readonly error: ErrorData };

export function errorToData(error: unknown): ErrorData {
  if (error instanceof MtlError) return { message: error.message, code: error.code, details: plainDetails(error.details) };
  if (error instanceof Error) return { message: error.stack ?? error.message };
  return { message: String(error) };
}

/**
 * An error of worker `index` as a typed error of the main thread: an {@link MtlError} keeps its code
 * (NON_FINITE_LOSS, MISSING_TARGET, ...); anything else becomes WORKER_FAILED, since the
 * worker's engine could not compute what was asked.
 */
export function errorFromData(data: ErrorData, index: number): MtlError {
  const prefix = `gradient worker ${index}: `;
  if (data.code) {
    return new MtlError(data.code as MtlErrorCode, prefix + data.message.replace(/^\[[A-Z_]+\] /, ''), { ...data.details, worker: index });
  }
  return new MtlError('WORKER_FAILED', prefix + data.message, { worker: index, cause: data.message });
}

function plainDetails(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
