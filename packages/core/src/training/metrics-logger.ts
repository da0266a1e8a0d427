import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { invalidOption } from '../errors.js';
import type { EpochLog, StepStats, TrainerCallback } from './callbacks.js';

export interface MetricsLoggerOptions {
  /** File to append to; its folder is created. */
  readonly path: string;
  /** `'jsonl'` (one JSON object a line) or `'csv'`; default from the file's extension, else `'jsonl'`. */
  readonly format?: 'jsonl' | 'csv';
  /** Write a row per epoch (default) or per training step too. */
  readonly every?: 'epoch' | 'step';
}

/**
 * A {@link TrainerCallback} that appends training metrics to a JSONL or CSV file: per epoch the mean
 * training loss of each task (`train/<task>`), the validation results (`val/<key>`), seconds and
 * steps/s; with `every: 'step'` also each step's losses and task weights. Each row is written
 * synchronously when it is known, so a killed run keeps every finished row, and a resumed run appends
 * to the same file (CSV: the header is written once; a row whose columns differ from it is an error).
 */
export function metricsLogger(options: MetricsLoggerOptions): TrainerCallback {
  if (typeof options.path !== 'string' || options.path.length === 0) invalidOption('path', options.path, 'a file path');
  const format = options.format ?? (options.path.endsWith('.csv') ? 'csv' : 'jsonl');
  if (format !== 'csv' && format !== 'jsonl') invalidOption('format', format, "'jsonl' or 'csv'");
  const every = options.every ?? 'epoch';
  if (every !== 'epoch' && every !== 'step') invalidOption('every', every, "'epoch' or 'step'");
  let csvColumns: string[] | undefined;

  const write = (row: Record<string, string | number>) => {
    mkdirSync(dirname(options.path), { recursive: true });
    if (format === 'jsonl') return appendFileSync(options.path, `${JSON.stringify(row)}\n`);
    csvColumns ??= existingHeader(options.path);
    if (!csvColumns) {
      csvColumns = Object.keys(row);
      appendFileSync(options.path, `${csvColumns.map(csvCell).join(',')}\n`);
    }
    const keys = Object.keys(row);
    if (keys.length !== csvColumns.length || keys.some((k, i) => k !== csvColumns![i])) {
      invalidOption('path', options.path, `a CSV whose columns are ${csvColumns.join(', ')} (this row has ${keys.join(', ')}; log steps and epochs to separate files)`);
    }
    appendFileSync(options.path, `${keys.map((k) => csvCell(row[k]!)).join(',')}\n`);
  };

  return {
    onStepEnd(stats: StepStats) {
      if (every !== 'step') return;
      write({
        kind: 'step',
        epoch: stats.epoch,
        step: stats.step,
        ...prefixed('loss/', stats.losses),
        ...prefixed('weight/', stats.weights ?? {}),
        ms: stats.milliseconds,
      });
    },
    onEpochEnd(log: EpochLog) {
      if (every === 'step' && format === 'csv') return; // one CSV, one shape of row: steps only
      write({
        kind: 'epoch',
        epoch: log.epoch,
        steps: log.steps,
        ...prefixed('train/', log.trainLoss),
        ...prefixed('val/', log.validation ?? {}),
        seconds: log.seconds,
        stepsPerSecond: log.stepsPerSecond,
      });
    },
  };
}

function prefixed(prefix: string, record: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [`${prefix}${k}`, v]));
}

function existingHeader(path: string): string[] | undefined {
  if (!existsSync(path) || statSync(path).size === 0) return undefined;
  const first = readFileSync(path, 'utf8').split('\n', 1)[0]!;
  return first.split(',').map((c) => (c.startsWith('"') ? c.slice(1, -1).replaceAll('""', '"') : c));
}

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
