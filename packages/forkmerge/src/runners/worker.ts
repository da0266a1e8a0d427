import { Worker } from 'node:worker_threads';
import { MtlError, ParamSnapshot, currentBackend, moduleHref, resolveTsxApi, type OptimizerConfig, type SnapshotData } from '@mtl/core';
import type { ResolvedBranch } from '../branches.js';
import type { WorkerOptions } from '../options.js';
import type { BranchOutcome, BranchRunner, OptimizerSync } from './branch-runner.js';
import { errorFromData, optimizerFromData, optimizerToData, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';

/** Loads tsx's ESM hooks, then the real entry: Node 20 cannot run TypeScript in a worker by itself. */
const TYPESCRIPT_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
import(pathToFileURL(workerData.tsx).href)
  .then((api) => (api.register ?? api.default.register)())
  .then(() => import(workerData.entry));
`;

export interface WorkerBranchInit {
  readonly index: number;
  readonly branch: ResolvedBranch;
  readonly optimizer: OptimizerConfig;
  readonly batchSize: number;
  readonly seed: number;
  readonly workers: WorkerOptions;
  /** The main model's parameter layout: the worker's model must match it. */
  readonly shapes: SnapshotData['shapes'];
  readonly taskNames: readonly string[];
  readonly hasRule: boolean;
}

type Pending = { resolve: (message: FromWorker) => void; reject: (error: Error) => void };

/** Runs a branch in its own worker thread with its own tfjs instance. */
export class WorkerBranchRunner implements BranchRunner {
  readonly name: string;
  private pending: Pending | undefined;
  private failure: Error | undefined;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    branch: ResolvedBranch,
  ) {
    this.name = branch.name;
    worker.on('message', (message: FromWorker) => this.settle(message));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`forkmerge worker for branch "${this.name}" exited with code ${code}`));
    });
  }

  /** Starts the worker and waits until it has rebuilt the branch; checks it matches the main model. */
  static async start(init: WorkerBranchInit): Promise<WorkerBranchRunner> {
    const here = import.meta.url;
    const fromSource = here.endsWith('.ts');
    const entry = new URL(`./worker-entry.${fromSource ? 'ts' : 'js'}`, here).href;
    const setupModule = moduleHref(init.workers.setupModule);
    const needsTypeScript = fromSource || /\.[mc]?ts$/.test(new URL(setupModule).pathname);
    const workerData: WorkerInit = {
      setupModule,
      setupArgs: init.workers.setupArgs,
      index: init.index,
      branch: init.branch,
      optimizer: init.optimizer,
      batchSize: init.batchSize,
      seed: init.seed,
      backend: currentBackend()?.candidate,
      entry,
      tsx: needsTypeScript ? resolveTsxApi(here, 'workers.setupModule') : undefined,
    };
    const execArgv = [...(init.workers.execArgv ?? (fromSource ? ['--conditions=@mtl/source'] : []))];
    const worker = needsTypeScript
      ? new Worker(TYPESCRIPT_BOOTSTRAP, { eval: true, workerData, execArgv })
      : new Worker(new URL(entry), { workerData, execArgv });
    const runner = new WorkerBranchRunner(worker, init.branch);
    const ready = await runner.request(undefined);
    if (ready.type !== 'ready') throw new Error(`forkmerge worker for branch "${init.branch.name}" answered ${ready.type} instead of ready`);
    try {
      checkMatches(init, ready);
    } catch (error) {
      await runner.dispose();
      throw error;
    }
    return runner;
  }

  async run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean): Promise<BranchOutcome> {
    const params = start.toData();
    const state = sync.kind === 'set' ? optimizerToData(sync.state) : undefined;
    const message: ToWorker = {
      type: 'run',
      params,
      sync: state ? { kind: 'set', state } : sync.kind === 'reset' ? { kind: 'reset' } : { kind: 'keep' },
      steps,
      wantOptimizer,
    };
    const transfer = [params.values.buffer as ArrayBuffer, ...(state ? [state.slots.values.buffer as ArrayBuffer] : [])];
    const reply = await this.request(message, transfer);
    if (reply.type !== 'done') throw new Error(`forkmerge worker for branch "${this.name}" answered ${reply.type} instead of done`);
    return {
      params: ParamSnapshot.fromData(reply.params),
      optimizer: reply.optimizer ? optimizerFromData(reply.optimizer) : undefined,
      trainLoss: reply.trainLoss,
    };
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    if (!this.failure) {
      try {
        await this.request({ type: 'close' });
      } catch {
        // The worker is terminated below either way.
      }
    }
    this.closed = true;
    await this.worker.terminate();
  }

  private request(message: ToWorker | undefined, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error(`forkmerge worker for branch "${this.name}" is busy`));
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending = { resolve, reject };
      if (message) this.worker.postMessage(message, transfer);
    });
  }

  private settle(message: FromWorker): void {
    const pending = this.pending;
    this.pending = undefined;
    if (message.type === 'error') {
      const error = errorFromData(message.error, this.name);
      if (pending) pending.reject(error);
      else this.failure ??= error;
      return;
    }
    pending?.resolve(message);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }
}

function checkMatches(init: WorkerBranchInit, ready: Extract<FromWorker, { type: 'ready' }>): void {
  const same =
    ready.shapes.length === init.shapes.length &&
    ready.shapes.every((s, i) => {
      const m = init.shapes[i]!;
      return s.key === m.key && s.shape.length === m.shape.length && s.shape.every((d, j) => d === m.shape[j]);
    });
  if (!same) {
    throw new MtlError('SHAPE_MISMATCH', `the model built by workers.setupModule does not have the main model's parameters`, {
      option: 'workers.setupModule',
      expected: init.shapes.map((s) => `${s.key}[${s.shape.join('x')}]`),
      actual: ready.shapes.map((s) => `${s.key}[${s.shape.join('x')}]`),
    });
  }
  const missing = init.taskNames.filter((t) => !ready.taskNames.includes(t));
  if (missing.length > 0) invalidSetup('tasks', `the setup's tasks lack ${missing.join(', ')}`);
  if (ready.hasRule !== init.hasRule) {
    invalidSetup('rule', init.hasRule ? 'options.rule is set but the setup module returns no rule' : 'the setup module returns a rule but options.rule is not set');
  }
}

function invalidSetup(part: string, why: string): never {
  throw new MtlError('INVALID_OPTION', `option "workers.setupModule" does not match the main thread: ${why}`, { option: 'workers.setupModule', value: part });
}
