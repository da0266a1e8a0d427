import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import './setup.js';
import { MtlError, ParamSnapshot, Trainer, adam, disposeCheckpoint, hardSharingMlp, loadLatestCheckpoint, sgd, tf, type UpdateRule } from '../src/index.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'mtl-checkpoint-test-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const problem = toyTwoTaskProblem({ seed: 5, size: 64 });
const makeModel = (seed = 1) => hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [6], seed });
const values = (model: ReturnType<typeof makeModel>) => {
  const s = ParamSnapshot.capture(model.parameters);
  const v = Array.from(s.flatten());
  s.dispose();
  return v;
};
const trainerFor = (model: ReturnType<typeof makeModel>, dir: string, extra: { keep?: number } = {}) =>
  new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.01), batchSize: 16, seed: 2, checkpoint: { dir, ...extra } });
const checkpoints = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('step-')).sort();

/** Rewrites a checkpoint's state.json as a (buggy) writer would, with matching checksums. */
function rewriteState(path: string, mutate: (manifest: Record<string, unknown>) => void): void {
  const manifest = JSON.parse(readFileSync(join(path, 'state.json'), 'utf8')) as Record<string, unknown>;
  mutate(manifest);
  const { checksums, ...body } = manifest as { checksums: Record<string, string> };
  checksums['state'] = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  writeFileSync(join(path, 'state.json'), JSON.stringify({ ...body, checksums }));
}

/** Trains two epochs into `dir` (a checkpoint each epoch); returns the final parameters. */
async function trainTwoEpochs(dir: string, keep?: number) {
  const model = makeModel();
  await trainerFor(model, dir, keep === undefined ? {} : { keep }).fit(problem.train, { epochs: 2 });
  const v = values(model);
  model.dispose();
  return v;
}

/** Resumes in a fresh trainer with a different initialisation; returns it, its model and the error if any. */
async function tryResume(dir: string) {
  const model = makeModel(77);
  const before = values(model);
  const trainer = trainerFor(model, dir);
  const error = await trainer.fit(problem.train, { epochs: 3, resume: true }).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { model, trainer, before, error: error as MtlError | undefined };
}

async function collectWarnings<T>(fn: () => Promise<T>): Promise<{ result: T; warnings: string[] }> {
  const warnings: string[] = [];
  const listener = (w: Error) => warnings.push(w.message);
  process.on('warning', listener);
  try {
    const result = await fn();
    await new Promise((resolve) => setTimeout(resolve, 10)); // warnings are emitted on the next tick
    return { result, warnings };
  } finally {
    process.off('warning', listener);
  }
}

describe('checkpoint integrity', () => {
  it('detects a flipped bit in tensors.bin by checksum, and falls back to the older intact checkpoint with a warning', async () => {
    const dir = tempDir();
    await trainTwoEpochs(dir);
    const [older, newest] = checkpoints(dir);
    const bin = join(dir, newest!, 'tensors.bin');
    const bytes = readFileSync(bin);
    bytes[bytes.length - 3]! ^= 0x01; // a low mantissa bit: the value stays finite and plausible
    writeFileSync(bin, bytes);
    const warnings: string[] = [];
    const state = (await loadLatestCheckpoint(dir, { onWarning: (m) => warnings.push(m) }))!;
    expect(state.path).toBe(join(dir, older!));
    expect(state.epoch).toBe(1);
    expect(warnings.join('\n')).toMatch(/tensors\.bin does not match its checksum/);
    disposeCheckpoint(state);
    // The only checkpoint damaged: a typed error, not silently wrong parameters.
    rmSync(join(dir, older!), { recursive: true });
    await expect(loadLatestCheckpoint(dir, { onWarning: () => undefined })).rejects.toMatchObject({ code: 'CHECKPOINT' });
  });

  it('rejects an edited state.json (checksum), and a re-signed one with missing fields or out-of-range batch indices, before touching the model', async () => {
    for (const damage of ['edit', 'no-history', 'bad-order', 'no-optimizer'] as const) {
      const dir = tempDir();
      await trainTwoEpochs(dir, 1);
      const [only] = checkpoints(dir);
      const path = join(dir, only!);
      if (damage === 'edit') {
        const text = readFileSync(join(path, 'state.json'), 'utf8').replace('"epoch":2', '"epoch":1');
        writeFileSync(join(path, 'state.json'), text);
      } else {
        rewriteState(path, (m) => {
          const trainer = m['trainer'] as Record<string, unknown>;
          if (damage === 'no-history') delete trainer['history'];
          if (damage === 'bad-order') (trainer['schedule'] as { order: number[] }).order[3] = 10_000;
          if (damage === 'no-optimizer') delete m['optimizer'];
        });
      }
      const { model, trainer, before, error } = await tryResume(dir);
      expect(error, damage).toBeInstanceOf(MtlError);
      expect(error!.code, damage).toBe('CHECKPOINT');
      expect(error!.message, damage).toMatch({ edit: /checksum/, 'no-history': /history/, 'bad-order': /batch order .*permutation/, 'no-optimizer': /optimizer/ }[damage]);
      expect(values(model), damage).toEqual(before);
      expect(trainer.step, damage).toBe(0);
      expect(trainer.history, damage).toHaveLength(0);
      model.dispose();
    }
  });

  it('a checkpoint of another model is rejected before anything changes; one that fails half-way is rolled back', async () => {
    const dir = tempDir();
    await trainTwoEpochs(dir);
    const other = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [7], seed: 3 });
    const before = values(other);
    const error = (await new Trainer({ model: other, tasks: problem.tasks, batchSize: 16, checkpoint: { dir } }).fit(problem.train, { epochs: 3, resume: true }).catch((e: unknown) => e)) as MtlError;
    expect(error).toMatchObject({ code: 'CHECKPOINT' });
    expect(error.message).toMatch(/does not fit this model: "trunk\/.*" has shape/);
    expect(values(other)).toEqual(before);
    other.dispose();
    // Same model, other optimizer: the parameters are restored first, then the optimizer refuses
    // its state; everything is put back.
    const model = makeModel(5);
    const start = values(model);
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: sgd(0.1), batchSize: 16, seed: 2, checkpoint: { dir } });
    const refused = (await trainer.fit(problem.train, { epochs: 3, resume: true }).catch((e: unknown) => e)) as MtlError;
    expect(refused).toMatchObject({ code: 'CHECKPOINT' });
    expect(refused.message).toMatch(/does not fit this trainer: .*adam/);
    expect(values(model)).toEqual(start);
    expect([trainer.step, trainer.epoch, trainer.history.length]).toEqual([0, 0, 0]);
    model.dispose();
  });

  it('says when a resume found nothing to resume, and resumes from the newest checkpoint when latest.json is gone', async () => {
    const empty = tempDir();
    const model = makeModel();
    const { result, warnings } = await collectWarnings(() => trainerFor(model, empty).fit(problem.train, { epochs: 1, resume: true }));
    expect(warnings.join('\n')).toMatch(/no checkpoint in .*training starts from the beginning/);
    expect(result.resumedFrom).toBeUndefined();
    model.dispose();

    const dir = tempDir();
    const straight = await trainTwoEpochs(dir);
    unlinkSync(join(dir, 'latest.json'));
    const resumed = makeModel(9);
    const trainer = trainerFor(resumed, dir);
    const run = await collectWarnings(() => trainer.fit(problem.train, { epochs: 2, resume: true }));
    expect(run.warnings.join('\n')).toMatch(/latest\.json is missing/);
    expect(run.result.resumedFrom).toMatchObject({ epoch: 2, step: 8 });
    expect(trainer.step).toBe(8); // nothing retrained: it was done
    expect(values(resumed)).toEqual(straight);
    resumed.dispose();
  });
});

describe('checkpoint writes', () => {
  it('refuse non-finite parameters with NON_FINITE_PARAMETER naming the parameter, keeping the previous checkpoint', async () => {
    const dir = tempDir();
    const model = makeModel();
    const victim = model.parameters[1]!;
    // A step whose loss is finite but whose update overflows one parameter (the epoch's last step).
    let steps = 0;
    const overflow: UpdateRule = {
      name: 'overflow',
      step(ctx) {
        ctx.losses();
        if (++steps === 8) tf.tidy(() => victim.variable.assign(tf.fill(victim.variable.shape, Number.POSITIVE_INFINITY)));
      },
    };
    const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: sgd(0.1), rule: overflow, batchSize: 16, checkpoint: { dir } });
    const error = (await trainer.fit(problem.train, { epochs: 3 }).catch((e: unknown) => e)) as MtlError;
    expect(error).toBeInstanceOf(MtlError);
    expect(error.code).toBe('NON_FINITE_PARAMETER');
    expect(error.details['parameter']).toBe(victim.key);
    expect(error.message).toContain(`"${victim.key}"`);
    const state = (await loadLatestCheckpoint(dir))!;
    expect(state.epoch).toBe(1);
    expect(Array.from(state.parameters.flatten()).every(Number.isFinite)).toBe(true);
    disposeCheckpoint(state);
    model.dispose();
  });

  it('clean leftover *.tmp-<pid> entries of killed writers on the next save', async () => {
    const dir = tempDir();
    await trainTwoEpochs(dir);
    const dead = 2 ** 22 + 12_345; // above Linux's pid_max: no such process
    mkdirSync(join(dir, `step-000000004.tmp-${dead}`));
    writeFileSync(join(dir, `step-000000004.tmp-${dead}`, 'tensors.bin'), 'partial');
    writeFileSync(join(dir, `latest.json.tmp-${dead}`), '{"checkpoint":');
    mkdirSync(join(dir, `step-000000008.tmp-${process.pid}`)); // this process's own, from a failed save
    const model = makeModel();
    await trainerFor(model, dir).fit(problem.train, { epochs: 3, resume: true });
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(checkpoints(dir)).toEqual(['step-000000008', 'step-000000012']);
    model.dispose();
  });

  it('check an unwritable checkpoint directory before the first step', async () => {
    const base = tempDir();
    const file = join(base, 'a-file');
    writeFileSync(file, 'not a directory');
    let steps = 0;
    const model = makeModel();
    const trainer = new Trainer({ model, tasks: problem.tasks, batchSize: 16, checkpoint: { dir: join(file, 'checkpoints') }, callbacks: [{ onStepEnd: () => steps++ }] });
    const error = (await trainer.fit(problem.train, { epochs: 2 }).catch((e: unknown) => e)) as MtlError;
    expect(error).toBeInstanceOf(MtlError);
    expect(error.code).toBe('CHECKPOINT');
    expect(error.details['option']).toBe('checkpoint.dir');
    expect(error.message).toMatch(/checkpoint\.dir.*ENOTDIR/);
    expect(steps).toBe(0);
    expect(existsSync(join(base, 'checkpoints'))).toBe(false);
    model.dispose();
  });
});
