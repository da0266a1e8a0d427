import { describe, expect, it } from 'vitest';
import './setup.js';
import { Trainer, adam, hardSharingMlp, tf } from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

describe('Trainer', () => {
  it('learns both tasks of the toy problem', async () => {
    const problem = toyTwoTaskProblem({ seed: 3 });
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [32], seed: 1 });
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 32, seed: 2 });
    const before = trainer.evaluate(problem.validation);
    const result = await trainer.fit(problem.train, { epochs: 8, validation: problem.validation });
    const after = result.history.at(-1)!.validation!;
    expect(after['sign/accuracy']).toBeGreaterThan(0.9);
    expect(after['value/mse']).toBeLessThan(before['value/mse']! * 0.2);
    model.dispose();
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });
});
