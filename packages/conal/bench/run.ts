/**
 * CoNAL's cost and result against hard sharing, side by side in one run: search time (with and
 * without conflict noticing, and CoNAL-Pro) and retraining time of the derived network, each as a
 * ratio to training the all-shared network for the same number of epochs; parameter counts; Δ_I of
 * the retrained network against hard sharing on validation MSE. Prints α over the search and the
 * derived architecture JSON (for the benchmark report's picture of the tree).
 * Run: pnpm --filter @mtl/conal bench   (BENCH_EPOCHS, BENCH_SIZE to change the workload)
 */
import { availableParallelism } from 'node:os';
import { currentBackend, useBestBackend } from '@mtl/core';
import { ConalSearchSpace, architectureFromBranchPoints, conalProSearch, conalSearch, retrain } from '../src/index.js';
import type { BlockSpec } from '../src/index.js';
import { conflictProblem } from '../test/fixtures/conflict-problem.js';

await useBestBackend();
const EPOCHS = Number(process.env['BENCH_EPOCHS'] ?? 20);
const SIZE = Number(process.env['BENCH_SIZE'] ?? 256);
const problem = conflictProblem({ inputSize: 16, agreeNoise: 1, noise: 0.1, size: SIZE, validationSize: 256 });
const { tasks, train, validation } = problem;
const blocks: BlockSpec[] = [{ kind: 'dense', units: 16 }, { kind: 'dense', units: 1, activation: 'linear' }];
const common = { inputShape: [problem.inputSize], tasks, blocks, train, validation, batchSize: 16, epochs: EPOCHS, seed: 3 };
const searchSettings = { weightOptimizer: { kind: 'momentum', learningRate: 0.05 }, architectureOptimizer: { kind: 'adam', learningRate: 3e-2 }, pretrainSteps: 100 } as const;
const retrainSettings = { tasks, train, validation, epochs: EPOCHS, batchSize: 16, optimizer: { kind: 'adam', learningRate: 1e-2, clipNorm: 5 } as const, seed: 1 };

const space = new ConalSearchSpace({ inputShape: [problem.inputSize], tasks, blocks });
const hardSharing = architectureFromBranchPoints(space, tasks, Object.fromEntries(tasks.map((t) => [t.name, space.branchPoints])));
space.dispose();

// Warm-up (kernel compilation, JIT), then hard sharing before and after the others: the baseline is the faster of the two.
(await retrain({ architecture: hardSharing, ...retrainSettings, epochs: 2 })).model.dispose();
const hpsBefore = await retrain({ architecture: hardSharing, ...retrainSettings });
const searched = conalSearch({ ...common, ...searchSettings });
const plain = conalSearch({ ...common, ...searchSettings, noticing: false });
const pro = conalProSearch({ ...common, ...searchSettings });
const derived = await retrain({ architecture: searched.architecture, ...retrainSettings });
const hpsAfter = await retrain({ architecture: hardSharing, ...retrainSettings });
const hps = hpsAfter.milliseconds < hpsBefore.milliseconds ? hpsAfter : hpsBefore;
(hps === hpsAfter ? hpsBefore : hpsAfter).model.dispose();

const mse = (h: typeof hps.history) => tasks.map((t) => h.at(-1)!.validation![`${t.name}/mse`]!);
const hpsMse = mse(hps.history);
const deltaI = (m: number[]) => (100 * m.reduce((s, v, i) => s - (v - hpsMse[i]!) / hpsMse[i]!, 0)) / m.length;
const ratio = (ms: number) => `${(ms / hps.milliseconds).toFixed(2)} × hard sharing`;

console.log(`backend ${currentBackend()?.candidate}, ${availableParallelism()} cores; ${tasks.length} tasks, ${SIZE} training examples, ${EPOCHS} epochs, blocks ${JSON.stringify(blocks)}`);
console.log(`hard sharing, train ${EPOCHS} epochs:   ${hps.milliseconds.toFixed(0)} ms  (${hardSharing.parameterCounts.derived} weights)`);
console.log(`CoNAL search (noticing):           ${searched.milliseconds.toFixed(0)} ms = ${ratio(searched.milliseconds)}  (search space ${searched.architecture.parameterCounts.searchSpace} weights + α)`);
console.log(`CoNAL search (noticing: false):    ${plain.milliseconds.toFixed(0)} ms = ${ratio(plain.milliseconds)}`);
console.log(`CoNAL-Pro search (${pro.stages.length} stages):       ${pro.milliseconds.toFixed(0)} ms = ${ratio(pro.milliseconds)}  (largest stage ${pro.architecture.parameterCounts.searchSpace} weights)`);
console.log(`retrain derived, ${EPOCHS} epochs:       ${derived.milliseconds.toFixed(0)} ms = ${ratio(derived.milliseconds)}  (${searched.architecture.parameterCounts.derived} weights)`);
console.log(`branch points: CoNAL ${JSON.stringify(searched.architecture.branchPoints)}; no noticing ${JSON.stringify(plain.architecture.branchPoints)}; CoNAL-Pro ${JSON.stringify(pro.architecture.branchPoints)}`);
console.log(`validation MSE hard sharing [${hpsMse.map((v) => v.toFixed(3)).join(', ')}], CoNAL [${mse(derived.history).map((v) => v.toFixed(3)).join(', ')}]: Δ_I vs hard sharing ${deltaI(mse(derived.history)).toFixed(1)} %`);
console.log(`noticing: ${searched.noticing.conflictSteps}/${searched.noticing.steps} steps with a conflict; shared modules kept ${searched.noticing.keptFraction.map((k) => k.toFixed(2)).join(', ')} of the steps`);
console.log('α over the search (softmax, every 5 epochs):');
for (const record of searched.alphaHistory.filter((r) => r.epoch % 5 === 0)) {
  console.log(`  epoch ${String(record.epoch).padStart(3)}: ${tasks.map((t) => `${t.name} [${record.alpha[t.name]!.map((q) => q.toFixed(2)).join(' ')}]`).join('  ')}`);
}
console.log('derived architecture JSON:');
console.log(JSON.stringify(searched.architecture));
hps.model.dispose();
derived.model.dispose();
