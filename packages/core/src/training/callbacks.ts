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

export interface TrainerCallback {
  onTrainBegin?(info: TrainBeginInfo): void;
  onStepEnd?(stats: StepStats): void;
  onEpochEnd?(log: EpochLog): void;
  onTrainEnd?(info: TrainEndInfo): void;
}

export interface ProgressOptions {
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the bar (true) or plain lines (false); default: bar only on a TTY. */
  readonly tty?: boolean;
}

/**
 * Progress output: a live bar with the running losses on a TTY, one plain line per epoch otherwise
 * (CI logs stay readable).
 */
export function progressReporter(options: ProgressOptions = {}): TrainerCallback {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean((stream as { isTTY?: boolean }).isTTY);
  let epochs = 0;
  let lastDraw = 0;
  return {
    onTrainBegin(info) {
      epochs = info.epochs;
      const backend = info.backend ? ` on ${info.backend.candidate}` : '';
      stream.write(`training ${info.tasks.join(', ')} with ${info.rule}${backend}: ${info.epochs} epochs x ${info.batchesPerEpoch} batches\n`);
    },
    onStepEnd(stats) {
      if (!tty) return;
      const now = Date.now();
      if (now - lastDraw < 100 && stats.batch + 1 < stats.batchesPerEpoch) return;
      lastDraw = now;
      const width = 24;
      const done = Math.round(((stats.batch + 1) / stats.batchesPerEpoch) * width);
      const bar = '#'.repeat(done) + '-'.repeat(width - done);
      stream.write(`\repoch ${stats.epoch + 1}/${epochs} [${bar}] ${formatRecord(stats.losses)}\x1b[K`);
    },
    onEpochEnd(log) {
      if (tty) stream.write('\r\x1b[K');
      const val = log.validation ? ` | val ${formatRecord(log.validation)}` : '';
      stream.write(`epoch ${log.epoch + 1}/${epochs} ${log.seconds.toFixed(1)}s ${log.stepsPerSecond.toFixed(1)} steps/s | train ${formatRecord(log.trainLoss)}${val}\n`);
    },
    onTrainEnd(info) {
      if (info.stoppedEarly) stream.write(`stopped early; best epoch ${(info.bestEpoch ?? 0) + 1}\n`);
    },
  };
}

export function formatRecord(record: Readonly<Record<string, number>>): string {
  return Object.entries(record)
    .map(([k, v]) => `${k} ${Math.abs(v) >= 100 || v === 0 ? v.toFixed(1) : v.toPrecision(4)}`)
    .join(' ');
}
