import { describe, expect, it } from 'vitest';
import { regressionTask, tf } from '@mtl/core';
import './setup.js';
import { buildDerivedModel, countWeights, conalProSearch, parseArchitecture, proArchitecture } from '../src/index.js';
import { conflictProblem } from './fixtures/conflict-problem.js';

describe('CoNAL-Pro', () => {
  it('builds the progressive tree from the stage subgroups (counted by hand)', () => {
    const tasks = ['a', 'b', 'c', 'd', 'e'].map((n) => regressionTask(n));
    const description = { inputShape: [6], blocks: [{ kind: 'dense', units: 5 }, { kind: 'dense', units: 4 }, { kind: 'dense', units: 3 }] as const, head: [] };
    // Stage 1 (module 3): a, b keep it; stage 2 (module 2): c, d keep it; stage 3 (module 1): nobody; e ends separate.
    const arch = proArchitecture(description, tasks, [['a', 'b'], ['c', 'd'], []], 0);
    expect(arch.method).toBe('conal-pro');
    expect(arch.branchPoints).toEqual({ a: 4, b: 4, c: 3, d: 3, e: 1 });
    expect(arch.groups).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(arch.nodes.map((n) => [n.block, n.tasks])).toEqual([
      [0, ['a', 'b', 'c', 'd']],
      [1, ['a', 'b', 'c', 'd']],
      [2, ['a', 'b']],
      [2, ['c', 'd']], // h_S: the second subgroup's own shared copy of module 3
      [0, ['e']],
      [1, ['e']],
      [2, ['e']],
    ]);
    // By hand: modules 6*5+5 = 35, 5*4+4 = 24, 4*3+3 = 15; 35 + 24 + 2*15 + (35 + 24 + 15) + decoders 5 * (3+1).
    expect(arch.parameterCounts.derived).toBe(35 + 24 + 30 + 74 + 20);
    expect(parseArchitecture(JSON.stringify(arch))).toEqual(arch);
    const model = buildDerivedModel(arch, { tasks });
    expect(countWeights(model)).toBe(arch.parameterCounts.derived);
    expect(model.sharedParameters.filter((p) => p.key.startsWith('n3/')).map((p) => p.tasks)).toEqual([['c', 'd'], ['c', 'd']]);
    model.dispose();
    expect(() => proArchitecture(description, tasks, [['a'], ['a']], 0)).toThrow(/subgroups\[1\]/);
  });

  it('searches stage by stage from the last shared module: the agreeing pair keeps it, the others leave (seeded)', () => {
    const problem = conflictProblem({ inputSize: 16, agreeNoise: 1, noise: 0.1, size: 48, validationSize: 128 });
    const before = tf.memory().numTensors;
    const result = conalProSearch({
      inputShape: [problem.inputSize],
      tasks: problem.tasks,
      blocks: [{ kind: 'dense', units: 16 }, { kind: 'dense', units: 1, activation: 'linear' }],
      train: problem.train,
      validation: problem.validation,
      batchSize: 16,
      epochs: 60,
      weightOptimizer: { kind: 'momentum', learningRate: 0.05 },
      architectureOptimizer: { kind: 'adam', learningRate: 3e-2 },
      pretrainSteps: 100,
      seed: 1,
    });
    expect(tf.memory().numTensors).toBe(before);
    const [first, second] = result.stages;
    expect(first!.candidates).toEqual([2, 3]);
    expect(first!.tasks).toEqual(['agree1', 'agree2', 'conflict1', 'conflict2']);
    expect(first!.subgroup).toEqual(['agree1', 'agree2']);
    // Stage 1's space has copies of the last module only: shared 16*16+16 + 16+1, four copies of 17, four decoders of 2.
    expect(first!.searchSpaceParameters).toBe(272 + 17 + 4 * 17 + 4 * 2);
    expect(second!.candidates).toEqual([1, 3]);
    expect(second!.tasks).toEqual(['conflict1', 'conflict2']);
    // Stage 2 searches the two others only, with copies of both modules.
    expect(second!.searchSpaceParameters).toBe(289 + 2 * 289 + 2 * 2);
    expect(result.architecture.branchPoints['agree1']).toBe(3);
    expect(result.architecture.branchPoints['agree2']).toBe(3);
    const subgrouped = result.stages.flatMap((s) => s.subgroup);
    expect(new Set(subgrouped).size).toBe(subgrouped.length);
    // The storage the search needed: its largest stage, below CoNAL's one-shot space (289 + 4 * 289 + 4 * 2).
    expect(result.architecture.parameterCounts.searchSpace).toBe(Math.max(first!.searchSpaceParameters, second!.searchSpaceParameters));
    expect(result.architecture.parameterCounts.searchSpace).toBeLessThan(289 + 4 * 289 + 8);
  });
});
