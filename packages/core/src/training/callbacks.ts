import type { BackendChoice } from '../backend.js';

/** What one training step did. */
export interface StepStats {
  readonly step: number;
  readonly epoch: number;
  /** Index of the batch within its epoch. */
  readonly batch: number;
  readonly batchesPerEpoch: number;
  readonly losses: Readonly<Record<string, number>>;
  readonly weights?: Readonly<Record<string, number>>;
  readonly info?: Readonly<Record<string, number>>;
  readonly milliseconds: number;
}

/** One epoch's summary: mean training losses, validation results, timing. */
export interface EpochLog {
  readonly epoch: number;
  readonly steps: number;
  readonly trainLoss: Readonly<Record<string, number>>;
  /** `loss`, `<task>/loss`, `<task>/<metric>` on the validation data, when given. */
  readonly validation?: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly stepsPerSecond: number;
}

export interface TrainBeginInfo {
  readonly epochs: number;
  readonly startEpoch: number;
  readonly batchesPerEpoch: number;
  readonly tasks: readonly string[];
  readonly rule: string;
  readonly backend?: BackendChoice | undefined;
}

export interface TrainEndInfo {
  readonly history: readonly EpochLog[];
  readonly stoppedEarly: boolean;
  readonly bestEpoch?: number | undefined;
}

/** How far the validation pass after an epoch has come (one call per evaluated batch). */
export interface ValidationProgress {
  readonly epoch: number;
  readonly batch: number;
  readonly batches: number;
}

export interface TrainerCallback {
  onTrainBegin?(info: TrainBeginInfo): void;
  onStepEnd?(stats: StepStats): void;
  onValidationProgress?(progress: ValidationProgress): void;
  onEpochEnd?(log: EpochLog): void;
  onTrainEnd?(info: TrainEndInfo): void;
}

export function formatRecord(record: Readonly<Record<string, number>>): string {
  return Object.entries(record)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 100 || v === 0 ? v.toFixed(1) : v.toPrecision(4)}`)
    .join(' ');
}
