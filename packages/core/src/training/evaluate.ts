import { tf } from '../tf.js';
import { requirePositiveInteger } from '../errors.js';
import { checkOptions, functionOption, positiveInt } from '../options.js';
import { checkGathered, disposeBatch, toBatch, type MultiTaskDataset } from '../data.js';
import { targetOf } from '../gradients.js';
import type { MultiTaskModel } from '../models/model.js';
import type { Task } from '../tasks.js';

/** The keys {@link evaluateModel} reports besides `loss`, in its order: `<task>/loss`, `<task>/<metric>`. */
export function taskEvaluationKeys(tasks: readonly Task[]): string[] {
  return tasks.flatMap((t) => [`${t.name}/loss`, ...Object.keys(t.metrics).map((m) => `${t.name}/${m}`)]);
}

/**
 * Mean loss and metrics of every task over a dataset, keyed `<task>/loss`, `<task>/<metric>`, plus
 * `loss` (the sum of the task losses). Metrics are exact dataset means, not means of batch means.
 */
export function evaluateModel(
  model: MultiTaskModel,
  tasks: readonly Task[],
  dataset: MultiTaskDataset,
  options: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Record<string, number> {
  checkOptions(options, { batchSize: positiveInt, onBatch: functionOption }, 'evaluateModel');
  const batchSize = requirePositiveInteger('batchSize', options.batchSize ?? 256);
  const batches = Math.ceil(dataset.size / batchSize);
  const names = taskEvaluationKeys(tasks);
  const sums = new Float64Array(names.length);
  for (let start = 0; start < dataset.size; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, dataset.size - start) }, (_, i) => start + i);
    const raw = dataset.gather(indices);
    checkGathered(raw, indices.length, model.inputShape, tasks, 'evaluation data');
    const batch = toBatch(raw, model.inputShape, tasks);
    try {
      const values = tf.tidy(() => {
        const outputs = model.forward(batch.x);
        const parts: tf.Scalar[] = [];
        for (const task of tasks) {
          const pred = outputs[task.name]!;
          const target = targetOf(batch, task);
          parts.push(tf.mul(task.loss(pred, target), batch.size));
          for (const metric of Object.values(task.metrics)) parts.push(metric.evaluate(pred, target));
        }
        return tf.stack(parts);
      });
      const data = values.dataSync();
      values.dispose();
      data.forEach((v, i) => (sums[i]! += v));
    } finally {
      disposeBatch(batch);
    }
    options.onBatch?.(start / batchSize + 1, batches);
  }
  const result: Record<string, number> = {};
  let total = 0;
  names.forEach((name, i) => {
    result[name] = sums[i]! / dataset.size;
    if (name.endsWith('/loss')) total += result[name];
  });
  return { loss: total, ...result };
}

/** Whether a higher value of a monitored quantity (`loss`, `<task>/loss`, `<task>/<metric>`) is better. */
export function higherIsBetter(monitor: string, tasks: readonly Task[]): boolean {
  const [taskName, metricName] = monitor.split('/');
  if (!metricName || metricName === 'loss') return false;
  return tasks.find((t) => t.name === taskName)?.metrics[metricName]?.higherIsBetter ?? false;
}
