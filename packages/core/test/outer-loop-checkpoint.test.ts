import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import './setup.js';
import { ParamSnapshot, Trainer, adam, hardSharingMlp } from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

// Outer loops (ForkMerge branches) drive runSteps and keep one checkpoint folder per round.
describe('Trainer checkpoints for outer loops', () => {
  it('restoreCheckpoint from a chosen folder continues runSteps exactly as an uninterrupted trainer', async () => {
    const problem = toyTwoTaskProblem({ seed: 4, size: 200 });
    const make = () => {
      const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed: 4 });
      return { model, trainer: new Trainer({ model, tasks: problem.tasks, optimizer: adam(1e-2), batchSize: 32, seed: 4 }) };
    };
    const dir = mkdtempSync(join(tmpdir(), 'mtl-outer-'));
    try {
      const straight = make();
      straight.trainer.runSteps(problem.train, 17); // crosses an epoch boundary (7 batches an epoch)
      const expected = ParamSnapshot.capture(straight.model.parameters).flatten();

      const first = make();
      first.trainer.runSteps(problem.train, 10);
      await first.trainer.saveCheckpoint(problem.train, { dir: join(dir, 'round-1') });
      first.trainer.runSteps(problem.train, 3); // work after the checkpoint is lost in the "crash"

      const second = make();
      const resumed = await second.trainer.restoreCheckpoint(problem.train, { dir: join(dir, 'round-1') });
      expect(resumed).toMatchObject({ step: 10 });
      second.trainer.runSteps(problem.train, 7);
      expect(ParamSnapshot.capture(second.model.parameters).flatten()).toEqual(expected);
      expect(await make().trainer.restoreCheckpoint(problem.train, { dir: join(dir, 'empty') })).toBeUndefined();
      for (const m of [straight, first, second]) m.model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
