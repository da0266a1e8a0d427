import { describeBackend, formatRecord, useBestBackend } from '@mtl/core';
import { defaultCallbacks, runQuickstart } from './quickstart.js';

const backend = await useBestBackend();
console.log(describeBackend(backend));
const started = performance.now();
const { fit, test, stepsPerSecond } = await runQuickstart({ callbacks: defaultCallbacks() });
console.log(`\ntest set after ${fit.history.length} epochs (${((performance.now() - started) / 1000).toFixed(1)} s, ${stepsPerSecond.toFixed(0)} steps/s):`);
console.log(`  sign : accuracy ${(test['sign/accuracy']! * 100).toFixed(1)}%  loss ${test['sign/loss']!.toFixed(4)}`);
console.log(`  value: mse ${test['value/mse']!.toFixed(4)}  mae ${test['value/mae']!.toFixed(4)}`);
console.log(`  (${formatRecord({ loss: test['loss']! })})`);
