/**
 * Worker process entry (child_process.fork): receives one job as JSON, runs it with its own tfjs,
 * sends progress messages and the result, then exits. The parent owns all files in `--out`.
 */
import { runJob } from './run-job.js';
import type { JobSpec } from './job.js';
import type { WorkerMessage } from './worker-protocol.js';

const send = (message: WorkerMessage) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });

process.on('message', (message: { type: 'run'; job: JobSpec }) => {
  if (message?.type !== 'run') return;
  void (async () => {
    const result = await runJob(message.job, (progress) => void send({ type: 'progress', progress }));
    await send({ type: 'result', result });
    process.disconnect?.();
    process.exit(0);
  })();
});
process.on('disconnect', () => process.exit(0));
