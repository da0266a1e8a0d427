import { createRequire } from 'node:module';
import type cliProgress from 'cli-progress';
import type { EpochLog, StepStats, TrainBeginInfo, TrainerCallback, ValidationProgress } from './callbacks.js';
import { formatRecord } from './callbacks.js';

type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  /** Where progress goes; default `process.stdout` (logs belong on stdout, errors on stderr). */
  readonly stream?: ProgressStream;
  /** Force the live bar (true) or plain lines (false); default: the bar only on a TTY. */
  readonly tty?: boolean;
  /** Least time between two redraws of the bar, in ms; default 100. */
  readonly redrawMs?: number;
}

/**
 * Progress output for {@link Trainer}. On a TTY a live bar (cli-progress) over the whole run: epoch,
 * steps done / total, steps/s, elapsed, ETA, the running losses, and the validation pass while it runs,
 * cut to the terminal's width. Elsewhere (CI, pipes) one plain line per epoch, so logs stay readable.
 */
export function progressReporter(options: ProgressOptions = {}): TrainerCallback {
  const reporter = createReporter(options);
  reporters.add(reporter);
  return reporter;
}

const reporters = new WeakSet<TrainerCallback>();

/**
 * The trainer's callbacks with progress added where the user asked for it (`progress: true` or
 * options) or, by default, where nobody decided: on a TTY, when no progress reporter is among them.
 * `progress` was validated with the trainer's options.
 */
export function withProgress(callbacks: readonly TrainerCallback[], progress: boolean | ProgressOptions | undefined): readonly TrainerCallback[] {
  if (progress === false || callbacks.some((cb) => reporters.has(cb))) return callbacks;
  if (progress === undefined && !process.stdout.isTTY) return callbacks;
  return [...callbacks, progressReporter(typeof progress === 'object' ? progress : {})];
}

function createReporter(options: ProgressOptions): TrainerCallback {
  const stream = options.stream ?? process.stdout;
  const tty = options.tty ?? Boolean(stream.isTTY);
  let run: { epochs: number; batchesPerEpoch: number; firstStep: number; started: number } | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let stepsDone = 0;

  const elapsedSeconds = () => (performance.now() - run!.started) / 1000;
  const rate = () => (stepsDone - run!.firstStep) / Math.max(elapsedSeconds(), 1e-9);

  return {
    onTrainBegin(info: TrainBeginInfo) {
      run = { epochs: info.epochs, batchesPerEpoch: info.batchesPerEpoch, firstStep: info.startEpoch * info.batchesPerEpoch, started: performance.now() };
      stepsDone = run.firstStep;
      const backend = info.backend ? ` on ${info.backend.candidate}` : '';
      const resumed = info.startEpoch > 0 ? `, resuming at epoch ${info.startEpoch + 1}` : '';
      stream.write(`training ${info.tasks.join(', ')} with ${info.rule}${backend}: ${info.epochs} epochs x ${info.batchesPerEpoch} batches${resumed}\n`);
      if (!tty) return;
      const { SingleBar, Presets } = loadCliProgress();
      bar = new SingleBar(
        {
          stream,
          format: (_options, params, payload: { epoch: string; status: string }) =>
            `epoch ${payload.epoch} ${drawBar(params.progress, 20)} ${params.value}/${params.total} steps | ${rate().toFixed(1)} steps/s | ${clock(elapsedSeconds())} elapsed | ETA ${eta(params.total - params.value, rate())} | ${payload.status}`,
          fps: 1000 / (options.redrawMs ?? 100),
          hideCursor: false,
          clearOnComplete: true,
          linewrap: false,
          noTTYOutput: true,
          notTTYSchedule: 1e9,
        },
        Presets.shades_classic,
      );
      bar.start(run.epochs * run.batchesPerEpoch, stepsDone, { epoch: `${info.startEpoch + 1}/${info.epochs}`, status: '' });
    },
    onStepEnd(stats: StepStats) {
      stepsDone++;
      bar?.update(stepsDone, { epoch: `${stats.epoch + 1}/${run?.epochs ?? '?'}`, status: formatRecord(stats.losses) });
    },
    onValidationProgress(progress: ValidationProgress) {
      bar?.update(stepsDone, { epoch: `${progress.epoch + 1}/${run?.epochs ?? '?'}`, status: `validating ${progress.batch}/${progress.batches}` });
    },
    onEpochEnd(log: EpochLog) {
      const line = `epoch ${log.epoch + 1}/${run?.epochs ?? '?'} ${log.seconds.toFixed(1)}s ${log.stepsPerSecond.toFixed(1)} steps/s, ${clock(elapsedSeconds())} elapsed, ETA ${eta(
        (run!.epochs - log.epoch - 1) * run!.batchesPerEpoch,
        rate(),
      )} | train ${formatRecord(log.trainLoss)}${log.validation ? ` | val ${formatRecord(log.validation)}` : ''}`;
      if (bar) {
        // Above the live bar: clear its line, print the epoch's summary, let the bar redraw below.
        stream.write(`\r\x1b[K${line}\n`);
        bar.update(stepsDone);
      } else stream.write(`${line}\n`);
    },
    onTrainEnd(info) {
      bar?.stop();
      bar = undefined;
      if (info.stoppedEarly) stream.write(`stopped early; best epoch ${(info.bestEpoch ?? 0) + 1}\n`);
    },
  };
}

function drawBar(progress: number, width: number): string {
  const done = Math.max(0, Math.min(width, Math.round(progress * width)));
  return `[${'#'.repeat(done)}${'-'.repeat(width - done)}]`;
}

/** Seconds as `m:ss` or `h:mm:ss`. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function eta(stepsLeft: number, stepsPerSecond: number): string {
  return stepsPerSecond > 0 && Number.isFinite(stepsPerSecond) ? clock(stepsLeft / stepsPerSecond) : '--:--';
}

/**
 * cli-progress is CommonJS and requires Node built-ins at run time, which an ESM bundle (esbuild)
 * cannot do. Loading it only when a live bar is drawn, through `createRequire`, keeps bundled apps
 * working: the bundler leaves the call alone, and plain-line progress never loads it.
 */
function loadCliProgress(): typeof cliProgress {
  return createRequire(import.meta.url)('cli-progress') as typeof cliProgress;
}
