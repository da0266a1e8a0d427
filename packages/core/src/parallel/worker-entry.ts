/**
 * The code a gradient worker runs: rebuild the model and tasks from the setup module, report them,
 * then serve jobs in a synchronous loop (the thread blocks in `Atomics.wait` between jobs; jobs and
 * their results never touch the event loop).
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { tf } from '../tf.js';
import { MtlError } from '../errors.js';
import { useBestBackend } from '../backend.js';
import { unregisterFastKernels } from '../kernels/register.js';
import { computeTaskGradients, disposeTaskGradients } from '../gradients.js';
import { ParameterLayout, modelState, type Parameter } from '../parameters.js';
import type { Batch } from '../data.js';
import type { WasmBackend } from '../kernels/wasm-heap.js';
import type { Task } from '../tasks.js';
import type { GradientWorkerSetup } from './setup.js';
import {
  CLOSE_JOB,
  DONE,
  JOB,
  OutputLayout,
  RESULT,
  RESULT_ERROR,
  RESULT_OK,
  STATUS,
  STATUS_FAILED,
  STATUS_READY,
  WORDS,
  errorToData,
  type BatchLayout,
  type FromWorker,
  type Job,
  type ParameterInfo,
  type TensorSlot,
  type WorkerInit,
} from './protocol.js';

const init = workerData as WorkerInit;
const control = new Int32Array(init.control);
const base = init.index * WORDS;
const params = new Float32Array(init.params);
const outputs = new Float32Array(init.outputs);
const send = (message: FromWorker) => init.port.postMessage(message);

function signal(word: number, value: number): void {
  Atomics.store(control, base + word, value);
  Atomics.notify(control, base + word);
}

async function setup(): Promise<GradientWorkerSetup> {
  await useBestBackend(init.backend ? { backend: init.backend } : {});
  if (!init.fastKernels) unregisterFastKernels();
  const imported = (await import(init.setupModule)) as { default?: unknown };
  if (typeof imported.default !== 'function') {
    throw new MtlError('INVALID_OPTION', `option "setupModule" must default-export a function returning { model, tasks }, got ${typeof imported.default}`, {
      option: 'setupModule',
      value: init.setupModule,
    });
  }
  const result = (await (imported.default as (args: unknown) => unknown)(init.setupArgs)) as Partial<GradientWorkerSetup> | undefined;
  if (!result?.model || !Array.isArray(result.tasks)) {
    throw new MtlError('INVALID_OPTION', 'option "setupModule": its default export must return { model, tasks }', { option: 'setupModule', value: init.setupModule });
  }
  return result as GradientWorkerSetup;
}

class Server {
  private readonly tasks: Map<string, Task>;
  private readonly layout: OutputLayout;
  private readonly paramLayout: ParameterLayout;
  private batch: Batch | undefined;

  constructor(private readonly setup: GradientWorkerSetup) {
    this.tasks = new Map(setup.tasks.map((t) => [t.name, t]));
    const ownSize = init.slots.reduce((n, s) => n + ParameterLayout.of(setup.model.taskParameters(s.name)).size, 0);
    this.layout = new OutputLayout(init.slots.length, init.sharedSize, ownSize);
    this.paramLayout = ParameterLayout.of(modelState(setup.model));
  }

  serve(): void {
    let seen = 0;
    for (;;) {
      Atomics.wait(control, base + JOB, seen);
      const job = Atomics.load(control, base + JOB);
      if (job === seen) continue;
      if (job === CLOSE_JOB) break;
      seen = job;
      try {
        // postMessage enqueues synchronously, and the main thread posts before it signals.
        const message = receiveMessageOnPort(init.port)?.message as Job | undefined;
        if (!message) throw new Error(`job ${job} arrived without its message`);
        this.run(message);
        Atomics.store(control, base + RESULT, RESULT_OK);
      } catch (error) {
        send({ type: 'error', error: errorToData(error) });
        Atomics.store(control, base + RESULT, RESULT_ERROR);
      }
      signal(DONE, job);
    }
    this.disposeBatch();
    this.setup.model.dispose();
    init.port.close();
  }

  private run(job: Job): void {
    if (job.batch) this.loadBatch(job.batch);
    const batch = this.batch;
    if (!batch) throw new Error('no batch was sent');
    const model = this.setup.model;
    tf.tidy(() => {
      // Copies: a cpu-backend tensor would otherwise alias shared memory the main thread rewrites.
      modelState(model).forEach((p, i) => {
        const e = this.paramLayout.entries[i]!;
        p.variable.assign(tf.tensor(copyOf(params, e.offset, e.size), [...e.shape], 'float32'));
      });
    });
    const tasks = job.tasks.map((name) => this.tasks.get(name)!);
    const g = computeTaskGradients(model, tasks, batch, 'parameters', { forward: job.forward });
    try {
      const losses = values(g.losses);
      const rows = values(g.jacobian);
      const d = init.sharedSize;
      tasks.forEach((task, k) => {
        const slot = init.slots.find((s) => s.name === task.name)!;
        outputs[this.layout.loss(slot.index)] = losses[k]!;
        outputs.set(rows.subarray(k * d, (k + 1) * d), this.layout.row(slot.index));
        let offset = this.layout.own(slot);
        for (const p of model.taskParameters(task.name)) {
          const grad = values(g.taskSpecific.get(task.name)!.get(p.key)!);
          outputs.set(grad, offset);
          offset += grad.length;
        }
      });
    } finally {
      disposeTaskGradients(g);
    }
  }

  private loadBatch(layout: BatchLayout): void {
    this.disposeBatch();
    const read = (slot: TensorSlot): tf.Tensor => {
      const size = slot.shape.reduce((a, b) => a * b, 1);
      const values = slot.dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
      values.set(slot.dtype === 'int32' ? new Int32Array(layout.buffer, slot.offset * 4, size) : new Float32Array(layout.buffer, slot.offset * 4, size));
      return tf.tensor(values, [...slot.shape], slot.dtype);
    };
    const x = read(layout.x);
    const targets = Object.fromEntries(Object.entries(layout.targets).map(([name, slot]) => [name, read(slot)]));
    this.batch = { size: layout.x.shape[0] ?? 0, x, targets };
  }

  private disposeBatch(): void {
    if (!this.batch) return;
    tf.dispose([this.batch.x, ...Object.values(this.batch.targets)]);
    this.batch = undefined;
  }
}

/**
 * A float32 tensor's values without a copy where the backend allows (the wasm heap; `dataSync`
 * would copy 1 MB per row before we copy it again into shared memory). Read before allocating more.
 */
function values(tensor: tf.Tensor): Float32Array {
  const backend = tf.backend() as Partial<WasmBackend>;
  const view = backend.typedArrayFromHeap ? backend.typedArrayFromHeap(tensor) : tensor.dataSync();
  if (!(view instanceof Float32Array)) throw new Error(`expected a float32 result, got ${tensor.dtype}`);
  return view;
}

/** A private copy (`slice` of shared memory is several times slower than `set`). */
function copyOf(source: Float32Array, offset: number, size: number): Float32Array {
  const out = new Float32Array(size);
  out.set(source.subarray(offset, offset + size));
  return out;
}

function parameterInfo(p: Parameter): ParameterInfo {
  return { key: p.key, shape: p.variable.shape, task: p.task, tasks: p.tasks };
}

setup().then(
  (result) => {
    send({
      type: 'ready',
      parameters: result.model.parameters.map(parameterInfo),
      buffers: (result.model.buffers ?? []).map(parameterInfo),
      taskNames: result.tasks.map((t) => t.name),
    });
    signal(STATUS, STATUS_READY);
    // The ready check on the main thread may still reject this setup; it then closes the worker.
    new Server(result).serve();
  },
  (error: unknown) => {
    send({ type: 'error', error: errorToData(error) });
    signal(STATUS, STATUS_FAILED);
  },
);
