/**
 * The job model. A job is one (method, seed) pair of a benchmark, described by plain JSON so any
 * executor (the local worker pool here, a distributed engine later) can run it: JSON in
 * ({@link JobSpec}), JSON out ({@link JobResult}). Nothing in a job refers to this process.
 */

/** Training settings every method of one benchmark shares. */
export interface TrainingSpec {
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerSpec;
}

export type OptimizerSpec =
  | { readonly kind: 'adam'; readonly learningRate: number }
  | { readonly kind: 'momentum'; readonly learningRate: number; readonly momentum: number }
  | { readonly kind: 'sgd'; readonly learningRate: number };

/** Which data a job trains on: a dataset name from the registry and its options (sizes, layout, ...). */
export interface DatasetSpec {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
}

export interface JobSpec {
  /** Unique within a benchmark and stable across runs: `<method>--seed<seed>`. */
  readonly id: string;
  /** Method name as the user wrote it (registry name, case-insensitive). */
  readonly method: string;
  /** Per-method options from `--config` (passed to the method's package). */
  readonly methodOptions: Readonly<Record<string, unknown>>;
  readonly seed: number;
  readonly dataset: DatasetSpec;
  readonly architecture: string;
  readonly training: TrainingSpec;
  /** `tfjs-node`, `wasm`, `cpu`, ... or undefined for automatic choice. */
  readonly backend?: string | undefined;
  /** Folder this job may write checkpoints to (absent: no checkpoints, no resume within the job). */
  readonly checkpointDir?: string | undefined;
}

/** One epoch of training as recorded in results: mean training loss per task, validation metrics. */
export interface HistoryEntry {
  readonly epoch: number;
  readonly trainLoss: Readonly<Record<string, number>>;
  readonly validation?: Readonly<Record<string, number>>;
  /** Seconds spent in this epoch (a timing: differs between runs). */
  readonly seconds: number;
}

export interface AffinityRecord {
  readonly tasks: readonly string[];
  /** matrix[i][j]: affinity of task i onto task j, averaged over training. */
  readonly matrix: readonly (readonly number[])[];
  /** Which affinity: 'proximal' (group updates) or 'lookahead' (IT-MTL / TAG). */
  readonly kind?: string;
}

/** Groups of tasks at a point of training (selective group updates). */
export interface GroupsRecord {
  readonly step: number;
  readonly groups: readonly (readonly string[])[];
}

/** A derived architecture (CoNAL): each task's branch point and the parameters it keeps. */
export interface ArchitectureRecord {
  readonly branchPoints: Readonly<Record<string, number>>;
  readonly modules?: number;
  readonly parameters?: number;
  readonly description?: string;
}

/** What a successful job produced. `test` holds `<task> → <metric> → value` on the test split. */
export interface JobOutput {
  readonly test: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly params: number;
  readonly history: readonly HistoryEntry[];
  readonly affinity?: AffinityRecord;
  readonly groups?: readonly GroupsRecord[];
  readonly lambdas?: readonly number[];
  readonly architecture?: ArchitectureRecord;
}

export type JobResult =
  | ({ readonly id: string; readonly method: string; readonly seed: number; readonly status: 'ok'; readonly wallMs: number } & JobOutput)
  | { readonly id: string; readonly method: string; readonly seed: number; readonly status: 'failed'; readonly error: string; readonly wallMs: number };

/** Progress a running job reports (throttled) to whoever runs it. */
export interface JobProgress {
  readonly id: string;
  readonly epoch: number;
  readonly epochs: number;
  readonly step: number;
  readonly stepsPerEpoch: number;
  readonly loss?: number | undefined;
  /** Fraction of the job done, in [0, 1]. */
  readonly fraction: number;
  readonly phase?: string;
}

/** The job id for a method and seed: file-name safe, stable across runs. */
export function jobId(method: string, seed: number): string {
  return `${method.toLowerCase().replace(/[^a-z0-9.+-]+/g, '_')}--seed${seed}`;
}
