import { describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, Trainer, classificationTask, createGradientWorkers, evaluateModel, hardSharingMlp, inMemoryDataset, regressionTask, saveCheckpoint, useBestBackend } from '../src/index.js';
import { arrayOf, checkOptions, finite, integer, oneOf, positiveInt, required, stringOption } from '../src/internal.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

const problem = toyTwoTaskProblem({ seed: 3, size: 32 });
const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [4], seed: 1 });
const base = { model, tasks: problem.tasks };

function invalid(fn: () => unknown, option: string): MtlError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, option).toBeInstanceOf(MtlError);
  expect((error as MtlError).code, option).toBe('INVALID_OPTION');
  expect((error as MtlError).details['option'], option).toBe(option);
  return error as MtlError;
}

describe('checkOptions', () => {
  const spec = { size: required(positiveInt), rate: finite({ min: 0, max: 1 }), mode: oneOf(['a', 'b']), names: arrayOf(stringOption, { unique: true }), depth: integer(0, 3) };

  it('names unknown keys (with a hint for a near miss), missing required keys and out-of-range values', () => {
    expect(invalid(() => checkOptions({ size: 2, Rate: 0.5 }, spec, 'thing()'), 'Rate').message).toMatch(/unknown option "Rate" for thing\(\) \(did you mean "rate"\?\); known options: size, rate, mode, names, depth/);
    invalid(() => checkOptions({ rate: 0.5 }, spec, 'thing()'), 'size');
    invalid(() => checkOptions({ size: 0 }, spec, 'thing()'), 'size');
    invalid(() => checkOptions({ size: 1, rate: 1.5 }, spec, 'thing()'), 'rate');
    invalid(() => checkOptions({ size: 1, rate: Number.NaN }, spec, 'thing()'), 'rate');
    invalid(() => checkOptions({ size: 1, mode: 'c' }, spec, 'thing()'), 'mode');
    invalid(() => checkOptions({ size: 1, names: ['x', 'y', 'x'] }, spec, 'thing()'), 'names[2]');
    invalid(() => checkOptions({ size: 1, depth: 4 }, spec, 'thing()'), 'depth');
    expect(invalid(() => checkOptions({ keep: -1 }, { keep: positiveInt }, 'Trainer', 'checkpoint.'), 'checkpoint.keep').message).toMatch(/option "checkpoint.keep" must be a positive integer, got -1/);
    expect(() => checkOptions({ size: 3, rate: 0, mode: 'b', names: ['x'], depth: 0, extra: undefined }, { ...spec, extra: positiveInt }, 'thing()')).not.toThrow();
  });
});

describe("core's public options reject unknown keys and bad values by name", () => {
  it('Trainer, its checkpoint and early-stopping options, fit', async () => {
    invalid(() => new Trainer({ ...base, batchsize: 8 } as never), 'batchsize');
    invalid(() => new Trainer({ ...base, seed: Number.POSITIVE_INFINITY }), 'seed');
    invalid(() => new Trainer({ ...base, checkpoint: { dir: '/tmp/x', every: 2 } as never }), 'checkpoint.every');
    invalid(() => new Trainer({ ...base, checkpoint: { dir: '/tmp/x', keep: 0 } }), 'checkpoint.keep');
    invalid(() => new Trainer({ ...base, earlyStopping: { monitor: 'loss', patients: 3 } as never }), 'earlyStopping.patients');
    invalid(() => new Trainer({ ...base, earlyStopping: { monitor: 'loss', patience: 2, restoreBest: 'yes' } as never }), 'earlyStopping.restoreBest');
    const trainer = new Trainer(base);
    await expect(trainer.fit(problem.train, { epoch: 2 } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'epoch' } });
    await expect(trainer.fit(problem.train, { epochs: 1, resume: 1 } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'resume' } });
  });

  it('gradient workers, evaluation, datasets and checkpoint helpers', async () => {
    await expect(createGradientWorkers({ setupModule: 'x.js', model, tasks: problem.tasks, worker: 2 } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'worker' } });
    await expect(createGradientWorkers({ setupModule: 'x.js', model, tasks: problem.tasks, timeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'timeoutMs' } });
    invalid(() => evaluateModel(model, problem.tasks, problem.validation, { batch: 4 } as never), 'batch');
    invalid(() => inMemoryDataset({ x: [1, 2], inputShape: [2], targets: { a: [1] }, labels: {} } as never), 'labels');
    await expect(saveCheckpoint('/tmp/never-written', {} as never, { keeps: 2 } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'keeps' } });
    invalid(() => classificationTask('digit', { classes: 10, clases: 3 } as never), 'digit.clases');
    invalid(() => regressionTask('depth', { size: 0 }), 'depth.size');
    await expect(useBestBackend({ backend: 'webgl' } as never)).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'backend' } });
  });
});
