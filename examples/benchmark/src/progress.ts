import { createLogUpdate } from 'log-update';
import type { JobProgress, JobResult, JobSpec } from './job.js';

/** What the benchmark tells its progress display. */
export interface ProgressView {
  begin(total: number, skipped: number): void;
  start(job: JobSpec): void;
  progress(progress: JobProgress): void;
  finish(result: JobResult): void;
  end(): void;
}

interface Running {
  readonly job: JobSpec;
  readonly started: number;
  progress?: JobProgress;
}

export const formatDuration = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return '--:--';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
};

/**
 * Progress of a benchmark: on a TTY a live view (log-update) with one line per running job
 * (method, seed, epoch, step, loss, ETA) under an overall line (done / total, failed, elapsed, time
 * left); otherwise plain log lines when a job starts, finishes an epoch and ends.
 */
export function progressView(options: { stream?: NodeJS.WriteStream; tty?: boolean } = {}): ProgressView {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const running = new Map<string, Running>();
  let total = 0;
  let done = 0;
  let failed = 0;
  let begun = Date.now();
  let doneThisRun = 0;
  const live = tty ? createLogUpdate(stream, { showCursor: true }) : undefined;
  let timer: NodeJS.Timeout | undefined;
  const lastEpoch = new Map<string, number>();

  const timeLeft = (): number => {
    // Work still to do, in jobs: the ones not started plus what the running ones have left; the
    // rate is this run's work done per millisecond (resumed jobs excluded).
    const partial = [...running.values()].reduce((s, r) => s + (r.progress?.fraction ?? 0), 0);
    const workDone = doneThisRun + partial;
    if (workDone <= 0) return NaN;
    const rate = workDone / (Date.now() - begun);
    return (total - done - partial) / rate;
  };
  const jobLine = (r: Running): string => {
    const p = r.progress;
    const name = `${r.job.method} s${r.job.seed}`.padEnd(18);
    if (!p) return `  ${name} starting…`;
    const eta = p.fraction > 0 ? ((Date.now() - r.started) / p.fraction) * (1 - p.fraction) : NaN;
    const loss = p.loss === undefined ? '' : `  loss ${p.loss.toFixed(4)}`;
    const step = p.stepsPerEpoch > 1 ? `  step ${String(p.step).padStart(4)}/${p.stepsPerEpoch}` : '';
    return `  ${name} epoch ${p.epoch}/${p.epochs}${step}${loss}  ${(p.fraction * 100).toFixed(0).padStart(3)}%  ETA ${formatDuration(eta)}${p.phase && p.phase !== 'training' ? `  (${p.phase})` : ''}`;
  };
  const render = () => {
    if (!live) return;
    const header = `benchmark: ${done}/${total} jobs done${failed ? `, ${failed} failed` : ''} · elapsed ${formatDuration(Date.now() - begun)} · left ~${formatDuration(timeLeft())}`;
    live([header, ...[...running.values()].map(jobLine)].join('\n'));
  };
  const log = (line: string) => stream.write(`${line}\n`);

  return {
    begin(count, skipped) {
      total = count;
      done = skipped;
      begun = Date.now();
      if (skipped > 0) log(`resuming: ${skipped} of ${count} jobs already done`);
      if (live) timer = setInterval(render, 200);
    },
    start(job) {
      running.set(job.id, { job, started: Date.now() });
      if (!live) log(`[${done}/${total}] start ${job.method} seed ${job.seed}`);
      render();
    },
    progress(p) {
      const r = running.get(p.id);
      if (!r) return;
      r.progress = p;
      if (!live && p.phase?.startsWith('resumed')) log(`  ${r.job.method} seed ${r.job.seed}: ${p.phase} (from its checkpoint)`);
      if (!live && lastEpoch.get(p.id) !== p.epoch && p.epoch > 0 && (p.phase === 'epoch done' || p.stepsPerEpoch <= 1)) {
        lastEpoch.set(p.id, p.epoch);
        log(`  ${r.job.method} seed ${r.job.seed}: epoch ${p.epoch}/${p.epochs}${p.loss === undefined ? '' : ` loss ${p.loss.toFixed(4)}`}`);
      }
    },
    finish(result) {
      running.delete(result.id);
      done++;
      doneThisRun++;
      if (result.status === 'failed') failed++;
      const what = result.status === 'ok' ? `done in ${formatDuration(result.wallMs)}` : `FAILED: ${result.error}`;
      if (live) {
        live.clear();
        log(`${result.method} seed ${result.seed}: ${what}`);
        render();
      } else log(`[${done}/${total}] ${result.method} seed ${result.seed}: ${what} · left ~${formatDuration(timeLeft())}`);
    },
    end() {
      if (timer) clearInterval(timer);
      if (live) {
        render();
        live.done();
      }
    },
  };
}

/** A view that shows nothing (library use, tests). */
export const silentProgress: ProgressView = { begin() {}, start() {}, progress() {}, finish() {}, end() {} };
