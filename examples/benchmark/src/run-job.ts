import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import {
  BACKEND_CANDIDATES,
  Optimizer,
  Trainer,
  evaluateModel,
  useBestBackend,
  type BackendCandidate,
  type MultiTaskModel,
  type OptimizerConfig,
  type Task,
  type TrainerCallback,
} from '@mtl/core';
import { architectureEntry, viewFor } from './architectures.js';
import { buildData } from './data.js';
import { messageOf } from './errors.js';
import type { HistoryEntry, JobOutput, JobProgress, JobResult, JobSpec } from './job.js';
import { findMethod } from './methods/index.js';
import type { MethodContext, TrainOptions } from './methods/types.js';

/**
 * Runs one job in this process: backend, data, model, the method's adapter, test evaluation.
 * Never throws: any failure (bad option, missing package, NaN) becomes a `failed` result with its
 * reason, so the other jobs of a benchmark complete.
 */
export async function runJob(spec: JobSpec, onProgress: (progress: JobProgress) => void = () => {}): Promise<JobResult> {
  const started = performance.now();
  const base = { id: spec.id, method: spec.method, seed: spec.seed };
  try {
    await useBestBackend({ backend: backendOf(spec.backend) });
    const adapter = findMethod(spec.method);
    const architecture = architectureEntry(spec.architecture);
    const data = viewFor(architecture, buildData(spec.dataset.name, spec.dataset.options));
    const ctx = methodContext(spec, data, (o) => architecture.build(o), onProgress);
    const output = await adapter.run(ctx);
    checkFinite(output);
    if (spec.checkpointDir) await rm(spec.checkpointDir, { recursive: true, force: true });
    return { ...base, status: 'ok', wallMs: performance.now() - started, ...output };
  } catch (error) {
    return { ...base, status: 'failed', error: messageOf(error), wallMs: performance.now() - started };
  }
}

function backendOf(name: string | undefined): BackendCandidate | undefined {
  if (name === undefined) return undefined;
  if (!(BACKEND_CANDIDATES as readonly string[]).includes(name)) throw new Error(`unknown backend "${name}"; available: ${BACKEND_CANDIDATES.join(', ')}`);
  return name as BackendCandidate;
}

/** NaN or infinite test metrics mean the method diverged: report it as failed, not as a number. */
function checkFinite(output: JobOutput): void {
  for (const [task, metrics] of Object.entries(output.test)) {
    for (const [metric, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value)) throw new Error(`diverged: test ${task}/${metric} is ${value}`);
    }
  }
}

function methodContext(
  spec: JobSpec,
  data: MethodContext['data'],
  build: (o: { inputShape: readonly number[]; tasks: readonly Task[]; seed: number }) => MultiTaskModel,
  onProgress: (progress: JobProgress) => void,
): MethodContext {
  const optimizerConfig = spec.training.optimizer as OptimizerConfig;
  const buildModel = (tasks: readonly Task[] = data.tasks) => build({ inputShape: data.train.inputShape, tasks, seed: spec.seed });
  const progress = (update: Omit<JobProgress, 'id'>) => onProgress({ id: spec.id, ...update });
  return {
    job: spec,
    data,
    options: spec.methodOptions,
    optimizerConfig,
    buildModel,
    optimizer: () => new Optimizer(optimizerConfig),
    progress,
    evaluateTest: (model, tasks = data.tasks) => nestMetrics(evaluateModel(model, tasks, data.test), tasks),
    importPackage: async <T>(name: string) => {
      try {
        return (await import(name)) as T;
      } catch (error) {
        throw new Error(`package ${name} is not installed (${messageOf(error)})`);
      }
    },
    async trainWithRule(rule, options: TrainOptions = {}) {
      const tasks = options.tasks ?? data.tasks;
      const model = options.model ?? buildModel(tasks);
      const [from, to] = options.span ?? [0, 1];
      const epochs = spec.training.epochs;
      const dir = spec.checkpointDir ? join(spec.checkpointDir, options.part ?? 'model') : undefined;
      const reporter: TrainerCallback = progressCallback(epochs, (p) => progress({ ...p, fraction: from + (to - from) * p.fraction }));
      const trainer = new Trainer({
        model,
        tasks,
        optimizer: options.optimizer ?? new Optimizer(optimizerConfig),
        ...(rule ? { rule } : {}),
        batchSize: spec.training.batchSize,
        seed: spec.seed,
        callbacks: [reporter, ...(options.callbacks ?? [])],
        ...(dir ? { checkpoint: { dir, keep: 1 } } : {}),
      });
      try {
        const fit = await trainer.fit(data.train, { epochs, validation: data.validation, resume: dir !== undefined });
        const history: HistoryEntry[] = fit.history.map((h) => ({ epoch: h.epoch, trainLoss: h.trainLoss, ...(h.validation ? { validation: h.validation } : {}), seconds: h.seconds }));
        return { model, history };
      } catch (error) {
        if (!options.model) model.dispose();
        throw error;
      } finally {
        trainer.dispose();
      }
    },
  };
}

/** `<task>/<metric>` keys of an evaluation as `{ task: { metric } }` (the total `loss` dropped). */
export function nestMetrics(flat: Readonly<Record<string, number>>, tasks: readonly Task[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const task of tasks) {
    out[task.name] = {};
    for (const [key, value] of Object.entries(flat)) {
      if (key.startsWith(`${task.name}/`)) out[task.name]![key.slice(task.name.length + 1)] = value;
    }
  }
  return out;
}

/** A trainer callback that reports epoch, step and the running loss, at most ~4 times a second. */
function progressCallback(epochs: number, report: (p: Omit<JobProgress, 'id'>) => void): TrainerCallback {
  let last = 0;
  let startEpoch = 0;
  let stepsPerEpoch = 1;
  return {
    onTrainBegin(info) {
      startEpoch = info.startEpoch;
      stepsPerEpoch = info.batchesPerEpoch;
      report({ epoch: startEpoch, epochs, step: 0, stepsPerEpoch: info.batchesPerEpoch, fraction: startEpoch / epochs, phase: startEpoch > 0 ? `resumed at epoch ${startEpoch}` : 'training' });
    },
    onStepEnd(stats) {
      const now = Date.now();
      if (now - last < 250) return;
      last = now;
      const loss = Object.values(stats.losses).reduce((a, b) => a + b, 0);
      const fraction = (stats.epoch + (stats.batch + 1) / stats.batchesPerEpoch) / epochs;
      report({ epoch: stats.epoch + 1, epochs, step: stats.batch + 1, stepsPerEpoch: stats.batchesPerEpoch, loss, fraction: Math.min(1, fraction), phase: 'training' });
    },
    onEpochEnd(log) {
      const loss = Object.values(log.trainLoss).reduce((a, b) => a + b, 0);
      report({ epoch: log.epoch + 1, epochs, step: stepsPerEpoch, stepsPerEpoch, loss, fraction: (log.epoch + 1) / epochs, phase: 'epoch done' });
    },
  };
}
