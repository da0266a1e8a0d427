import { describe, expect, it } from 'vitest';
import './setup.js';
import { Trainer, adam, hardSharingMlp, tf } from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

describe('Trainer', () => {
  it('learns both tasks of the toy problem', async () => {
    const problem = toyTwoTaskProblem({ seed: 3 });
    const tensorsBefore = tf.memory().numTensors;
    const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [32], seed: 1 });
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 32, seed: 2 });
    const before = trainer.evaluate(problem.validation);
    const result = await trainer.fit(problem.train, { epochs: 8, validation: problem.validation });
    const after = result.history.at(-1)!.validation!;
    expect(after['sign/accuracy']).toBeGreaterThan(0.9);
    expect(after['value/mse']).toBeLessThan(before['value/mse']! * 0.2);
    // Everything training created belongs to the model or the optimizer: freeing both frees it all.
    expect(tf.memory().numTensors).toBeGreaterThan(tensorsBefore);
    model.dispose();
    trainer.optimizer.dispose();
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});
