import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { tf } from '../tf.js';
import { MtlError, invalidOption, requirePositiveInteger } from '../errors.js';
import { currentBackend, type BackendCandidate } from '../backend.js';
import { fastKernelsRegistered } from '../kernels/register.js';
import { computeTaskGradients, disposeTaskGradients, sharingGroups, targetOf, trainingPass, type TaskGradientOptions, type TaskGradients } from '../gradients.js';
import { ParameterLayout, modelState } from '../parameters.js';
import { unknownTask, validateTasks, type Task } from '../tasks.js';
import type { Batch } from '../data.js';
import type { MultiTaskModel } from '../models/model.js';
import { BOOTSTRAP, moduleHref, resolveTsxApi } from './bootstrap.js';
import { splitTasks } from './split.js';
import { POLL_MS, workerStopped } from './liveness.js';
import { anyValue, arrayOf, checkOptions, either, objectOption, positiveInt, positiveNumber, required, stringOption, type OptionValidator } from '../options.js';
import {
  CLOSE_JOB,
  DONE,
  JOB,
  OutputLayout,
  RESULT,
  RESULT_ERROR,
  STATUS,
  STATUS_READY,
  STATUS_STARTING,
  WORDS,
  errorFromData,
  type BatchLayout,
  type FromWorker,
  type Job,
  type TaskSlot,
  type TensorSlot,
  type WorkerInit,
} from './protocol.js';

export interface GradientWorkersOptions {
  /**
   * Module (path or URL) whose default export returns `{ model, tasks }` (see
   * {@link GradientWorkerSetup}); each worker imports it to rebuild the model. TypeScript modules
   * need the `tsx` package.
   */
  readonly setupModule: string | URL;
  /** Passed to the setup function (structured-cloned). */
  readonly setupArgs?: unknown;
  /** The main thread's model: the workers' models must have its parameter keys and shapes. */
  readonly model: MultiTaskModel;
  /** The tasks gradients will be asked for: the workers' setup must define each of them. */
  readonly tasks: readonly Task[];
  /** Worker threads. Default: one fewer than the cores, at most one fewer than the tasks, at least 1. */
  readonly workers?: number;
  /** Node options of the workers. Default: none (`--conditions=@mtl/source` when @mtl/core runs from sources). */
  readonly execArgv?: readonly string[];
  /** Longest wait for a worker to start or to finish a job before WORKER_FAILED. Default 300 000 ms. */
  readonly timeoutMs?: number;
}

const TFJS_TO_CANDIDATE: Readonly<Record<string, BackendCandidate>> = { wasm: 'wasm', cpu: 'cpu', tensorflow: 'tfjs-node' };

/**
 * Worker threads that compute per-task gradients in parameter space alongside the main thread,
 * each with its own tfjs engine: `compute` hands them the current parameters and the batch through
 * shared memory, computes its own share of the tasks, and blocks (`Atomics.wait`) until the workers'
 * Jacobian rows are in. The result equals {@link computeTaskGradients} bit for bit on the same
 * backend. Create with {@link createGradientWorkers}; pass to the trainer as `gradientWorkers`;
 * {@link close} when done.
 *
 * Worth it where one backward pass is single-threaded (wasm, cpu) and there are free cores; the
 * native backends already use every core. The threads are unref'd: a forgotten `close` never keeps
 * the process alive.
 */
export class GradientWorkers {
  /** Number of worker threads (the main thread computes a share too). */
  readonly size: number;
  private readonly control: Int32Array;
  private readonly params: Float32Array;
  private readonly outputs: Float32Array;
  private readonly output: OutputLayout;
  private readonly slots: ReadonlyMap<string, TaskSlot>;
  private readonly layout: ParameterLayout;
  private readonly checkedModels = new WeakSet<MultiTaskModel>();
  private batch: { key: string; layout: BatchLayout } | undefined;
  private readonly sentBatch: (string | undefined)[];
  private seq = 0;
  private failure: MtlError | undefined;
  private closed = false;

  /** @internal Use {@link createGradientWorkers}. */
  constructor(
    private readonly workers: readonly Worker[],
    private readonly ports: readonly MessagePort[],
    private readonly shared: { control: SharedArrayBuffer; params: SharedArrayBuffer; outputs: SharedArrayBuffer },
    plan: { layout: ParameterLayout; output: OutputLayout; slots: readonly TaskSlot[] },
    private readonly timeoutMs: number,
  ) {
    this.size = workers.length;
    this.control = new Int32Array(shared.control);
    this.params = new Float32Array(shared.params);
    this.outputs = new Float32Array(shared.outputs);
    this.layout = plan.layout;
    this.output = plan.output;
    this.slots = new Map(plan.slots.map((s) => [s.name, s]));
    this.sentBatch = workers.map(() => undefined);
    workers.forEach((worker, i) => {
      worker.on('error', (error) => this.fail(new MtlError('WORKER_FAILED', `gradient worker ${i} failed: ${error.message}`, { worker: i, cause: error.message })));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(new MtlError('WORKER_FAILED', `gradient worker ${i} exited with code ${code}`, { worker: i, exitCode: code }));
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * {@link computeTaskGradients}`(model, tasks, batch, 'parameters')`, with the tasks split evenly
   * between the main thread (the first share) and the workers. Synchronous; the tensors are fresh.
   */
  compute(model: MultiTaskModel, tasks: readonly Task[], batch: Batch, options: TaskGradientOptions = {}): TaskGradients {
    if (this.closed) throw new MtlError('DISPOSED', 'these gradient workers were closed');
    if (this.failure) throw this.failure;
    const gone = this.workers.findIndex((w) => workerStopped(w));
    if (gone >= 0) throw this.broken(new MtlError('WORKER_FAILED', `gradient worker ${gone} has exited`, { worker: gone }));
    this.checkModel(model);
    for (const task of tasks) if (!this.slots.has(task.name)) throw unknownTask(task.name, [...this.slots.keys()]);
    const [mine = [], ...theirs] = splitTasks(tasks, this.size);
    const busy = theirs.map((share, i) => (share.length > 0 ? i : -1)).filter((i) => i >= 0);
    // One pass description (mode, dropout seed) for the main thread's share and every worker's.
    const forward = trainingPass(model, options.forward);
    const pass = { training: forward.training ?? true, seed: forward.seed ?? 0 };
    if (busy.length === 0) return computeTaskGradients(model, tasks, batch, 'parameters', { forward: pass });
    this.writeParameters(model);
    const layout = this.writeBatch(batch, tasks);
    this.seq = this.seq >= 0x7ffffffe ? 1 : this.seq + 1;
    for (const i of busy) {
      const job: Job = { tasks: theirs[i]!.map((t) => t.name), forward: pass, batch: this.sentBatch[i] === layout.key ? undefined : layout.layout };
      this.ports[i]!.postMessage(job);
      this.sentBatch[i] = layout.key;
      Atomics.store(this.control, i * WORDS + JOB, this.seq);
      Atomics.notify(this.control, i * WORDS + JOB);
    }
    let own: TaskGradients | undefined;
    try {
      if (mine.length > 0) own = computeTaskGradients(model, mine, batch, 'parameters', { forward: pass });
    } catch (error) {
      // Wait even so: a worker still writing must not overlap the next call's copies.
      this.waitFor(busy);
      throw error;
    }
    const workerError = this.waitFor(busy);
    if (workerError) {
      if (own) disposeTaskGradients(own);
      throw workerError;
    }
    return this.assemble(model, tasks, mine.length, own);
  }

  /** Ends the worker threads. Later `compute` calls throw DISPOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.workers.forEach((_, i) => {
      Atomics.store(this.control, i * WORDS + JOB, CLOSE_JOB);
      Atomics.notify(this.control, i * WORDS + JOB);
    });
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const port of this.ports) port.close();
  }

  private fail(error: MtlError): void {
    this.failure ??= error;
  }

  private checkModel(model: MultiTaskModel): void {
    if (this.checkedModels.has(model)) return;
    const layout = ParameterLayout.of(modelState(model));
    if (!layout.sameAs(this.layout)) {
      throw new MtlError('SHAPE_MISMATCH', 'the model does not have the parameters the gradient workers were created for', {
        expected: describeLayout(this.layout),
        actual: describeLayout(layout),
      });
    }
    this.checkedModels.add(model);
  }

  private writeParameters(model: MultiTaskModel): void {
    modelState(model).forEach((p, i) => this.params.set(p.variable.dataSync(), this.layout.entries[i]!.offset));
  }

  /** Copies the batch into shared memory unless these very tensors are already there (ids are never reused). */
  private writeBatch(batch: Batch, tasks: readonly Task[]): { key: string; layout: BatchLayout } {
    const targets = tasks.map((t) => [t.name, targetOf(batch, t)] as const);
    const key = [batch.x.id, ...targets.map(([name, t]) => `${name}:${t.id}`)].join(',');
    if (this.batch?.key === key) return this.batch;
    let offset = 0;
    const place = (tensor: tf.Tensor, what: string): TensorSlot => {
      if (tensor.dtype !== 'float32' && tensor.dtype !== 'int32') {
        throw new MtlError('INVALID_DATA', `gradient workers take float32 or int32 batches; ${what} is ${tensor.dtype}`, { what, dtype: tensor.dtype });
      }
      const slot: TensorSlot = { offset, shape: tensor.shape, dtype: tensor.dtype };
      offset += tensor.size;
      return slot;
    };
    const x = place(batch.x, 'x');
    const slots = Object.fromEntries(targets.map(([name, t]) => [name, place(t, `targets of "${name}"`)]));
    const previous = this.batch?.layout.buffer;
    const buffer = previous && previous.byteLength >= offset * 4 ? previous : new SharedArrayBuffer(offset * 4);
    const write = (tensor: tf.Tensor, slot: TensorSlot) => {
      const view = slot.dtype === 'int32' ? new Int32Array(buffer, slot.offset * 4, tensor.size) : new Float32Array(buffer, slot.offset * 4, tensor.size);
      view.set(tensor.dataSync());
    };
    write(batch.x, x);
    for (const [name, t] of targets) write(t, slots[name]!);
    this.batch = { key, layout: { buffer, x, targets: slots } };
    return this.batch;
  }

  private waitFor(busy: readonly number[]): MtlError | undefined {
    let first: MtlError | undefined;
    for (const i of busy) {
      const base = i * WORDS;
      const deadline = performance.now() + this.timeoutMs;
      for (;;) {
        const done = Atomics.load(this.control, base + DONE);
        if (done === this.seq) break;
        if (Atomics.load(this.control, base + STATUS) !== STATUS_READY || workerStopped(this.workers[i]!)) {
          return this.broken(new MtlError('WORKER_FAILED', `gradient worker ${i} exited during a job`, { worker: i }));
        }
        const left = deadline - performance.now();
        if (left <= 0) {
          return this.broken(new MtlError('WORKER_FAILED', `gradient worker ${i} did not finish within ${this.timeoutMs} ms`, { worker: i, timeoutMs: this.timeoutMs }));
        }
        // Short slices: a terminated worker notifies nobody, so its exit is seen by looking.
        Atomics.wait(this.control, base + DONE, done, Math.min(left, POLL_MS));
      }
      if (Atomics.load(this.control, base + RESULT) === RESULT_ERROR) {
        const message = receiveMessageOnPort(this.ports[i]!)?.message as FromWorker | undefined;
        first ??= message?.type === 'error' ? errorFromData(message.error, i) : new MtlError('WORKER_FAILED', `gradient worker ${i} failed`, { worker: i });
      }
    }
    return first;
  }

  /** A worker is gone or stuck: the pool cannot be used any more. */
  private broken(error: MtlError): MtlError {
    this.fail(error);
    void this.close();
    return error;
  }

  private assemble(model: MultiTaskModel, tasks: readonly Task[], mine: number, own: TaskGradients | undefined): TaskGradients {
    const theirs = tasks.slice(mine);
    const d = this.output.sharedSize;
    const losses = new Float32Array(theirs.length);
    const rows = new Float32Array(theirs.length * d);
    const taskSpecific = new Map<string, ReadonlyMap<string, tf.Tensor>>(own?.taskSpecific ?? []);
    theirs.forEach((task, k) => {
      const slot = this.slots.get(task.name)!;
      losses[k] = this.outputs[this.output.loss(slot.index)]!;
      rows.set(this.outputs.subarray(this.output.row(slot.index), this.output.row(slot.index) + d), k * d);
      let offset = this.output.own(slot);
      const grads = new Map<string, tf.Tensor>();
      for (const p of model.taskParameters(task.name)) {
        const values = new Float32Array(p.variable.size);
        values.set(this.outputs.subarray(offset, offset + p.variable.size));
        grads.set(p.key, tf.tensor(values, p.variable.shape, 'float32'));
        offset += p.variable.size;
      }
      taskSpecific.set(task.name, grads);
    });
    const lossTensor = tf.tensor1d(losses);
    const rowTensor = tf.tensor2d(rows, [theirs.length, d]);
    const sharedLayout = own?.sharedLayout ?? ParameterLayout.of(model.sharedParameters);
    let lossVector: tf.Tensor1D = lossTensor;
    let jacobian: tf.Tensor2D = rowTensor;
    if (own) {
      lossVector = tf.concat1d([own.losses, lossTensor]);
      jacobian = tf.concat2d([own.jacobian, rowTensor], 0);
      tf.dispose([own.losses, own.jacobian, lossTensor, rowTensor]);
    }
    const sharedGroups = own?.sharedGroups ?? sharingGroups(model);
    return { taskNames: tasks.map((t) => t.name), space: 'parameters', losses: lossVector, jacobian, sharedLayout, taskSpecific, sharedGroups };
  }
}

/**
 * Starts gradient worker threads and waits until each has rebuilt the model from `setupModule` and
 * the model matches `options.model` (SHAPE_MISMATCH otherwise) and defines `options.tasks`
 * (UNKNOWN_TASK otherwise). Activate the backend first: the workers use the same one.
 */
export async function createGradientWorkers(options: GradientWorkersOptions): Promise<GradientWorkers> {
  const start = launch(options);
  try {
    for (let i = 0; i < start.workers.length; i++) {
      const deadline = performance.now() + start.timeoutMs;
      while (Atomics.load(start.control, i * WORDS + STATUS) === STATUS_STARTING && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    return start.finish();
  } catch (error) {
    await start.abort();
    throw error;
  }
}

/**
 * {@link createGradientWorkers} for synchronous code (benchmarks, scripts): blocks the calling
 * thread (`Atomics.wait`) while the workers start, about a second.
 */
export function createGradientWorkersSync(options: GradientWorkersOptions): GradientWorkers {
  const start = launch(options);
  try {
    for (let i = 0; i < start.workers.length; i++) {
      const deadline = performance.now() + start.timeoutMs;
      while (Atomics.load(start.control, i * WORDS + STATUS) === STATUS_STARTING && performance.now() < deadline) {
        Atomics.wait(start.control, i * WORDS + STATUS, STATUS_STARTING, Math.max(1, deadline - performance.now()));
      }
    }
    return start.finish();
  } catch (error) {
    void start.abort();
    throw error;
  }
}

/** Every option of {@link createGradientWorkers} (typed: a new option must be listed here). */
const OPTIONS: { readonly [K in keyof Required<GradientWorkersOptions>]: OptionValidator } = {
  setupModule: required(either(stringOption, objectOption, 'a module path or URL')),
  setupArgs: anyValue,
  model: required(objectOption),
  tasks: required(anyValue), // validateTasks names what is wrong
  workers: positiveInt,
  execArgv: arrayOf(stringOption),
  timeoutMs: positiveNumber,
};

function launch(options: GradientWorkersOptions) {
  checkOptions(options, OPTIONS, 'createGradientWorkers');
  const { model } = options;
  const tasks = validateTasks(options.tasks);
  for (const task of tasks) if (!model.taskNames.includes(task.name)) throw unknownTask(task.name, model.taskNames);
  const count = requirePositiveInteger('workers', options.workers ?? Math.max(1, Math.min(availableParallelism() - 1, tasks.length - 1)));
  const timeoutMs = options.timeoutMs ?? 300_000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) invalidOption('timeoutMs', timeoutMs, 'a positive number of milliseconds');
  const tfjsBackend = tf.getBackend() as string | undefined;
  if (!tfjsBackend) throw new MtlError('BACKEND_NOT_READY', 'createGradientWorkers needs a tfjs backend: call `await useBestBackend()` first', { what: 'createGradientWorkers' });
  const layout = ParameterLayout.of(modelState(model));
  const sharedSize = ParameterLayout.of(model.sharedParameters).size;
  let ownOffset = 0;
  const slots: TaskSlot[] = model.taskNames.map((name, index) => {
    const slot = { name, index, ownOffset };
    ownOffset += ParameterLayout.of(model.taskParameters(name)).size;
    return slot;
  });
  const output = new OutputLayout(slots.length, sharedSize, ownOffset);
  const shared = {
    control: new SharedArrayBuffer(count * WORDS * 4),
    params: new SharedArrayBuffer(layout.size * 4),
    outputs: new SharedArrayBuffer(output.size * 4),
  };
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const entry = new URL(`./worker-entry.${fromSource ? 'ts' : 'js'}`, here).href;
  const setupModule = moduleHref(options.setupModule);
  const tsx = fromSource || /\.[mc]?ts$/.test(new URL(setupModule).pathname) ? resolveTsxApi(here) : undefined;
  const execArgv = [...(options.execArgv ?? (fromSource ? ['--conditions=@mtl/source'] : []))];
  const ports: MessagePort[] = [];
  const workers = Array.from({ length: count }, (_, index) => {
    const { port1, port2 } = new MessageChannel();
    ports.push(port1);
    const workerData: WorkerInit = {
      index,
      setupModule,
      setupArgs: options.setupArgs,
      backend: currentBackend()?.tfjsBackend === tfjsBackend ? currentBackend()!.candidate : TFJS_TO_CANDIDATE[tfjsBackend],
      fastKernels: fastKernelsRegistered(),
      entry,
      tsx,
      ...shared,
      sharedSize,
      slots,
      port: port2,
    };
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData, transferList: [port2], execArgv });
    worker.unref();
    return worker;
  });
  const control = new Int32Array(shared.control);
  const abort = async () => {
    await Promise.all(workers.map((w) => w.terminate()));
    for (const port of ports) port.close();
  };
  const finish = (): GradientWorkers => {
    for (let i = 0; i < count; i++) {
      const status = Atomics.load(control, i * WORDS + STATUS);
      const message = receiveMessageOnPort(ports[i]!)?.message as FromWorker | undefined;
      if (message?.type === 'error') throw errorFromData(message.error, i);
      if (status === STATUS_STARTING) throw new MtlError('WORKER_FAILED', `gradient worker ${i} did not start within ${timeoutMs} ms`, { worker: i, timeoutMs });
      if (message?.type !== 'ready') throw new MtlError('WORKER_FAILED', `gradient worker ${i} exited while starting`, { worker: i });
      checkSetup(i, layout, model, tasks, message);
    }
    return new GradientWorkers(workers, ports, shared, { layout, output, slots }, timeoutMs);
  };
  return { workers, control, timeoutMs, finish, abort };
}

function checkSetup(index: number, layout: ParameterLayout, model: MultiTaskModel, tasks: readonly Task[], ready: Extract<FromWorker, { type: 'ready' }>): void {
  const theirInfo = [...ready.parameters, ...ready.buffers];
  const theirs = new ParameterLayout(theirInfo.map((p) => ({ key: p.key, shape: p.shape })));
  const mine = modelState(model);
  const sameOwners = theirInfo.every((p, i) => p.task === mine[i]?.task && String(p.tasks) === String(mine[i]?.tasks));
  if (!theirs.sameAs(layout) || !sameOwners) {
    throw new MtlError('SHAPE_MISMATCH', `the model built by setupModule in gradient worker ${index} does not have the main model's parameters`, {
      option: 'setupModule',
      expected: describeLayout(layout),
      actual: describeLayout(theirs),
    });
  }
  const missing = tasks.find((t) => !ready.taskNames.includes(t.name));
  if (missing) {
    throw new MtlError('UNKNOWN_TASK', `the setup module of gradient worker ${index} defines no task "${missing.name}"; it defines ${ready.taskNames.join(', ')}`, {
      task: missing.name,
      known: ready.taskNames,
      option: 'setupModule',
    });
  }
}

function describeLayout(layout: ParameterLayout): string[] {
  return layout.entries.map((e) => `${e.key}[${e.shape.join('x')}]`);
}
