import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Optimizer, Trainer } from '@mtl/core';
import './setup.js';
import { ConalSearchSpace, conalSearchRule } from '../src/index.js';
import { conflictProblem } from './fixtures/conflict-problem.js';

const problem = conflictProblem({ inputSize: 6, size: 64, validationSize: 48 });
const spaceOptions = { inputShape: [problem.inputSize], tasks: problem.tasks, blocks: [{ kind: 'dense', units: 6 }, { kind: 'dense', units: 3 }] as const, seed: 2 };

function searchTrainer(dir: string) {
  const space = new ConalSearchSpace(spaceOptions);
  const rule = conalSearchRule(space, { architectureOptimizer: { kind: 'adam', learningRate: 0.05 }, clipNorm: 5, noticing: true });
  const optimizer = new Optimizer({ kind: 'adam', learningRate: 0.01 });
  const trainer = new Trainer({ model: space, tasks: problem.tasks, rule, optimizer, batchSize: 16, seed: 9, validation: problem.validation, checkpoint: { dir } });
  const close = () => {
    trainer.dispose();
    optimizer.dispose();
    space.dispose();
  };
  return { space, rule, trainer, close };
}

describe('search rule checkpoints', () => {
  it('a search resumed from a checkpoint equals the uninterrupted one (α, weights, α optimiser, noticing counters)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conal-resume-'));
    try {
      const full = searchTrainer(join(dir, 'full'));
      full.trainer.runSteps(problem.train, 10);
      const half = searchTrainer(join(dir, 'half'));
      half.trainer.runSteps(problem.train, 5);
      await half.trainer.saveCheckpoint(problem.train);
      half.close();
      const resumed = searchTrainer(join(dir, 'half'));
      await resumed.trainer.restoreCheckpoint(problem.train);
      resumed.trainer.runSteps(problem.train, 5);
      expect(resumed.space.branchDistribution()).toEqual(full.space.branchDistribution());
      const values = (s: ConalSearchSpace) => s.parameters.map((p) => Array.from(p.variable.dataSync()));
      expect(values(resumed.space)).toEqual(values(full.space));
      expect(resumed.rule.counters).toEqual(full.rule.counters);
      expect(resumed.rule.counters.steps).toBe(10);
      full.close();
      resumed.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
