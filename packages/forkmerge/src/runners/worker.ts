import { Worker } from 'node:worker_threads';
import { MtlError, ParamSnapshot, currentBackend, type OptimizerConfig, type SnapshotData } from '@mtl/core';
import { moduleHref, resolveTsxApi } from '@mtl/core/internal';
import type { ResolvedBranch } from '../branches.js';
import type { WorkerOptions } from '../options.js';
import type { BranchOutcome, BranchRunner, OptimizerSync, RunContext } from './branch-runner.js';
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
  readonly taskWeights: 'loss' | 'sampling';
  readonly workers: WorkerOptions & { readonly timeoutMs: number };
  /** The main model's parameter layout: the worker's model must match it. */
  readonly shapes: SnapshotData['shapes'];
  readonly taskNames: readonly string[];
  readonly hasRule: boolean;
}

/** The least time a worker gets to start. */
const START_TIMEOUT_MS = 120_000;

/** How long a closing worker may take to answer before it is terminated. */
const CLOSE_GRACE_MS = 5_000;

type Pending = { resolve: (message: FromWorker) => void; reject: (error: Error) => void; timer: NodeJS.Timeout; what: string };

/** Runs a branch in its own worker thread with its own tfjs instance. */
export class WorkerBranchRunner implements BranchRunner {
  readonly name: string;
  private pending: Pending | undefined;
  private failure: Error | undefined;
  private closed = false;
  /** The round of the request in flight (for error messages). */
  private round: number | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly branch: ResolvedBranch,
    private readonly timeoutMs: number,
  ) {
    this.name = branch.name;
    worker.on('message', (message: FromWorker) => this.settle(message));
    worker.on('error', (error) => this.fail(this.workerFailed(`failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(this.workerFailed(`exited with code ${code}`, { exitCode: code }));
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
      taskWeights: init.taskWeights,
      backend: currentBackend()?.candidate,
      entry,
      tsx: needsTypeScript ? resolveTsxApi(here, 'workers.setupModule') : undefined,
    };
    const execArgv = [...(init.workers.execArgv ?? (fromSource ? ['--conditions=@mtl/source'] : []))];
    const worker = needsTypeScript
      ? new Worker(TYPESCRIPT_BOOTSTRAP, { eval: true, workerData, execArgv })
      : new Worker(new URL(entry), { workerData, execArgv });
    const runner = new WorkerBranchRunner(worker, init.branch, init.workers.timeoutMs);
    let ready: FromWorker;
    try {
      ready = await runner.request(undefined, [], 'start');
    } catch (error) {
      await runner.dispose();
      throw error;
    }
    if (ready.type !== 'ready') throw new Error(`forkmerge worker for branch "${init.branch.name}" answered ${ready.type} instead of ready`);
    try {
      checkMatches(init, ready);
    } catch (error) {
      await runner.dispose();
      throw error;
    }
    return runner;
  }

  async run(start: ParamSnapshot, steps: number, sync: OptimizerSync, wantOptimizer: boolean, context: RunContext): Promise<BranchOutcome> {
    const params = start.toData();
    const state = sync.kind === 'set' ? optimizerToData(sync.state) : undefined;
    const message: ToWorker = {
      type: 'run',
      params,
      sync: state ? { kind: 'set', state } : sync.kind === 'reset' ? { kind: 'reset' } : { kind: 'keep' },
      steps,
      wantOptimizer,
      round: context.round,
    };
    const transfer = [params.values.buffer as ArrayBuffer, ...(state ? [state.slots.values.buffer as ArrayBuffer] : [])];
    this.round = context.round;
    const reply = await this.request(message, transfer, `training ${steps} steps`);
    if (reply.type !== 'done') throw this.workerFailed(`answered ${reply.type} instead of done`);
    return {
      params: ParamSnapshot.fromData(reply.params),
      optimizer: reply.optimizer ? optimizerFromData(reply.optimizer) : undefined,
      trainLoss: reply.trainLoss,
    };
  }

  async save(dir: string, context: RunContext): Promise<void> {
    this.round = context.round;
    const reply = await this.request({ type: 'save', dir, round: context.round }, [], 'saving its checkpoint');
    if (reply.type !== 'saved') throw this.workerFailed(`answered ${reply.type} instead of saved`);
  }

  async restore(dir: string, context: RunContext): Promise<void> {
    this.round = context.round;
    const reply = await this.request({ type: 'restore', dir, round: context.round }, [], 'restoring its checkpoint');
    if (reply.type !== 'restored') throw this.workerFailed(`answered ${reply.type} instead of restored`);
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    if (!this.failure) {
      // A polite close first (the worker frees its tensors); a worker that does not answer within
      // a few seconds is terminated below either way.
      const closing = this.request({ type: 'close' }, [], 'closing').catch(() => undefined);
      await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref())]);
    }
    if (this.pending) clearTimeout(this.pending.timer);
    this.pending = undefined;
    this.closed = true;
    await this.worker.terminate();
  }

  /** Sends `message` (none: wait for `ready`) and waits at most `timeoutMs` for the answer. */
  private request(message: ToWorker | undefined, transfer: ArrayBuffer[], what: string): Promise<FromWorker> {
    // Start-up (tsx, a tfjs backend, the setup module) may take long on a busy machine: at least 2 minutes.
    const timeoutMs = message ? this.timeoutMs : Math.max(this.timeoutMs, START_TIMEOUT_MS);
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(this.workerFailed(`is busy (${this.pending.what})`));
    return new Promise<FromWorker>((resolve, reject) => {
      // A hung worker must fail the run, naming itself, rather than hang it forever.
      const timer = setTimeout(() => {
        const error = this.workerFailed(`did not finish ${what} within ${timeoutMs} ms (workers.timeoutMs); it was terminated`, { timeoutMs });
        this.fail(error);
        this.closed = true;
        void this.worker.terminate();
      }, timeoutMs);
      this.pending = { resolve, reject, timer, what };
      if (message) this.worker.postMessage(message, transfer);
    });
  }

  private settle(message: FromWorker): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) clearTimeout(pending.timer);
    if (message.type === 'error') {
      const error = errorFromData(message.error, this.name, this.round);
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
    if (pending) clearTimeout(pending.timer);
    pending?.reject(error);
  }

  private workerFailed(what: string, details: Record<string, unknown> = {}): MtlError {
    const where = this.round === undefined ? 'while starting' : `in round ${this.round}`;
    const { cause, ...rest } = details;
    return new MtlError('WORKER_FAILED', `forkmerge worker for branch "${this.name}" ${what} (${where})`, { ...rest, branch: this.name, round: this.round }, cause ? { cause } : undefined);
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
