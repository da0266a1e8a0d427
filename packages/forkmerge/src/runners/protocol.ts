import { MtlError, ParamSnapshot, type BackendCandidate, type MtlErrorCode, type OptimizerConfig, type OptimizerSnapshot, type SnapshotData } from '@mtl/core';
import type { ResolvedBranch } from '../branches.js';

/** Optimizer state as plain data (what crosses a thread boundary). */
export interface OptimizerStateData {
  readonly config: OptimizerConfig;
  readonly slots: SnapshotData;
  readonly steps: Readonly<Record<string, number>>;
}

/** `workerData` of a branch worker. */
export interface WorkerInit {
  readonly setupModule: string;
  readonly setupArgs: unknown;
  readonly index: number;
  readonly branch: ResolvedBranch;
  readonly optimizer: OptimizerConfig;
  readonly batchSize: number;
  readonly seed: number;
  readonly taskWeights: 'loss' | 'sampling';
  /** The main thread's backend, so both compute the same numbers. */
  readonly backend: BackendCandidate | undefined;
  /** Absolute URL of the module to run (the worker entry); used by the TypeScript bootstrap. */
  readonly entry: string;
  /** Absolute path of tsx's ESM API when the worker needs TypeScript support. */
  readonly tsx: string | undefined;
}

export type ToWorker =
  | {
      readonly type: 'run';
      readonly params: SnapshotData;
      readonly sync: { readonly kind: 'keep' } | { readonly kind: 'reset' } | { readonly kind: 'set'; readonly state: OptimizerStateData };
      readonly steps: number;
      readonly wantOptimizer: boolean;
      readonly round: number;
    }
  | { readonly type: 'save'; readonly dir: string; readonly round: number }
  | { readonly type: 'restore'; readonly dir: string; readonly round: number }
  | { readonly type: 'close' };

export interface ErrorData {
  readonly message: string;
  readonly code?: string | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly shapes: SnapshotData['shapes']; readonly taskNames: readonly string[]; readonly hasRule: boolean }
  | {
      readonly type: 'done';
      readonly params: SnapshotData;
      readonly optimizer: OptimizerStateData | undefined;
      readonly trainLoss: Readonly<Record<string, number>>;
    }
  | { readonly type: 'saved' }
  | { readonly type: 'restored' }
  | { readonly type: 'error'; readonly error: ErrorData }
  | { readonly type: 'closed' };

export function optimizerToData(state: OptimizerSnapshot): OptimizerStateData {
  return { config: state.config, slots: state.slots.toData(), steps: { ...state.steps } };
}

export function optimizerFromData(data: OptimizerStateData): OptimizerSnapshot {
  return { config: data.config, slots: ParamSnapshot.fromData(data.slots), steps: data.steps };
}

export function errorToData(error: unknown): ErrorData {
  if (error instanceof MtlError) return { message: error.message, code: error.code, details: safeDetails(error.details) };
  if (error instanceof Error) return { message: error.stack ?? error.message };
  return { message: String(error) };
}

export function errorFromData(data: ErrorData, branch: string, round: number | undefined): Error {
  const prefix = `forkmerge worker for branch "${branch}"${round === undefined ? '' : ` (round ${round})`}: `;
  if (data.code) {
    const message = data.message.replace(/^\[[A-Z_]+\] /, '');
    return new MtlError(data.code as MtlErrorCode, prefix + message, { ...data.details, branch, round });
  }
  // A plain error inside the worker (a bug, a crash of the setup) is still a typed worker failure.
  return new MtlError('WORKER_FAILED', prefix + data.message, { branch, round });
}

function safeDetails(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
