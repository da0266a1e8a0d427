/**
 * `pnpm --filter @mtl/backend-blas memory-kernels [rounds] [steps]`: the LeNet per-task step (as
 * core's `lenet` bench: conv 5x5x10, pool, conv 5x5x20, pool, dense 50, two heads, batch 256, one
 * forward and one backward per task, SGD) with this package's memory-bound kernels (MaxPool, MaxPoolGrad,
 * Sum, Add) on and off, in alternating rounds, products on BLAS in both. Prints each
 * round's ratio of median step times (on / off) and their median: a noisy neighbour hits both alike.
 */
import { SeededRandom, classificationTask, computeTaskGradients, hardSharingConv, sgd, sharedGradientsFromDirection, tf, useBestBackend } from '@mtl/core';
import { blasStatus, disableBlas, enableBlas } from '../src/index.js';

const MEMORY_KERNELS = ['MaxPool', 'MaxPoolGrad', 'Sum', 'Add'];
const rounds = Number(process.argv[2] ?? 8);
const steps = Number(process.argv[3] ?? 3);

await useBestBackend({ backend: 'wasm' });
if (!blasStatus().enabled) {
  console.log(`BLAS addon absent: ${blasStatus().reason}`);
  process.exit(0);
}
disableBlas();
const before = new Map(MEMORY_KERNELS.map((name) => [name, tf.getKernel(name, 'wasm')]));
enableBlas();
const ours = new Map(MEMORY_KERNELS.map((name) => [name, tf.getKernel(name, 'wasm')]));
const use = (configs: Map<string, tf.KernelConfig>) => {
  for (const [name, config] of configs) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
};

const tasks = [classificationTask('left', { classes: 10 }), classificationTask('right', { classes: 10 })];
const model = hardSharingConv({ inputShape: [36, 36, 1], tasks, seed: 1 });
const rng = new SeededRandom(3);
const batch = {
  size: 256,
  x: tf.tensor(Float32Array.from({ length: 256 * 36 * 36 }, () => rng.next()), [256, 36, 36, 1]),
  targets: Object.fromEntries(tasks.map((t) => [t.name, tf.tensor1d(Int32Array.from({ length: 256 }, () => rng.int(10)), 'int32')])),
};
const optimizer = sgd(0.01);
const step = () =>
  tf.tidy(() => {
    const g = computeTaskGradients(model, tasks, batch, 'parameters');
    const grads = new Map(sharedGradientsFromDirection(model, batch, g, tf.sum<tf.Tensor1D>(g.jacobian, 0)));
    for (const own of g.taskSpecific.values()) for (const [key, t] of own) grads.set(key, t);
    optimizer.apply(model.parameters, grads);
    g.losses.dataSync();
  });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ratios: number[] = [];
const times: Record<'on' | 'off', number[]> = { on: [], off: [] };
for (let r = 0; r < rounds; r++) {
  const round: Record<string, number> = {};
  for (const side of r % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
    use(side === 'on' ? ours : before);
    step(); // warm
    const t: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      step();
      t.push(performance.now() - t0);
    }
    round[side] = median(t);
    times[side].push(round[side]);
  }
  ratios.push(round['on']! / round['off']!);
}
use(ours);
model.dispose();
tf.dispose([batch.x, ...Object.values(batch.targets)]);
console.log(`${blasStatus().library}; ${blasStatus().threads} threads; ${rounds} rounds of ${steps} steps`);
console.log(`LeNet per-task step: memory kernels off ${median(times.off).toFixed(1)} ms, on ${median(times.on).toFixed(1)} ms (medians over rounds)`);
console.log(`on/off per round: ${ratios.map((x) => x.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}`);
