/**
 * The code a branch worker runs: rebuild the branch from the setup module, then train on request.
 * Parameters and optimizer state arrive and leave as typed arrays.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MtlError, ParamSnapshot, modelState, useBestBackend } from '@mtl/core';
import type { BranchSetup, BranchSetupFactory } from '../options.js';
import { BranchTrainer } from './branch-trainer.js';
import type { OptimizerSync } from './branch-runner.js';
import { errorToData, optimizerFromData, optimizerToData, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('@mtl/forkmerge worker-entry must run in a worker thread');
const init = workerData as WorkerInit;
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function start(): Promise<BranchTrainer> {
  await useBestBackend(init.backend ? { backend: init.backend } : {});
  const imported = (await import(init.setupModule)) as { default?: unknown };
  if (typeof imported.default !== 'function') {
    throw new MtlError('INVALID_OPTION', `option "workers.setupModule" must default-export a setup function, got ${typeof imported.default}`, {
      option: 'workers.setupModule',
      value: init.setupModule,
    });
  }
  const setup = await (imported.default as BranchSetupFactory)(init.setupArgs);
  const trainer = new BranchTrainer({ ...setupParts(setup), index: init.index, branch: init.branch, optimizer: init.optimizer, batchSize: init.batchSize, seed: init.seed, taskWeights: init.taskWeights });
  send({
    type: 'ready',
    shapes: modelState(setup.model).map((p) => ({ key: p.key, shape: p.variable.shape })),
    taskNames: setup.tasks.map((t) => t.name),
    hasRule: setup.rule !== undefined,
  });
  return trainer;
}

function setupParts(setup: BranchSetup) {
  return { model: setup.model, tasks: setup.tasks, train: setup.train, rule: setup.rule };
}

function run(trainer: BranchTrainer, message: Extract<ToWorker, { type: 'run' }>): void {
  const start = ParamSnapshot.fromData(message.params);
  const sync: OptimizerSync = message.sync.kind === 'set' ? { kind: 'set', state: optimizerFromData(message.sync.state) } : message.sync;
  try {
    const outcome = trainer.run(start, message.steps, sync, message.wantOptimizer, { round: message.round });
    const params = outcome.params.toData();
    const optimizer = outcome.optimizer ? optimizerToData(outcome.optimizer) : undefined;
    outcome.params.dispose();
    outcome.optimizer?.slots.dispose();
    const transfer = [params.values.buffer as ArrayBuffer, ...(optimizer ? [optimizer.slots.values.buffer as ArrayBuffer] : [])];
    send({ type: 'done', params, optimizer, trainLoss: outcome.trainLoss }, transfer);
  } finally {
    start.dispose();
    if (sync.kind === 'set') sync.state.slots.dispose();
  }
}

const ready = start();
ready.catch((error: unknown) => send({ type: 'error', error: errorToData(error) }));

port.on('message', (message: ToWorker) => {
  ready.then(
    (trainer) => {
      if (message.type === 'close') {
        trainer.dispose();
        send({ type: 'closed' });
        port.close();
        return;
      }
      if (message.type === 'save' || message.type === 'restore') {
        const done = message.type === 'save' ? trainer.save(message.dir) : trainer.restore(message.dir, { round: message.round });
        done.then(
          () => send({ type: message.type === 'save' ? 'saved' : 'restored' }),
          (error: unknown) => send({ type: 'error', error: errorToData(error) }),
        );
        return;
      }
      try {
        run(trainer, message);
      } catch (error) {
        send({ type: 'error', error: errorToData(error) });
      }
    },
    () => undefined,
  );
});
