import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import './setup.js';
import { MtlError, Trainer, adam, hardSharingMlp, metricsLogger, progressReporter } from '../src/index.js';
import { clock } from '../src/training/progress.js';
import { toyTwoTaskProblem } from '../src/testing/fixtures.js';

/** A stream that records what is written, optionally pretending to be a terminal of some width. */
function recorder(tty: boolean, columns = 100) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY?: boolean; columns?: number; cursorTo?: unknown; clearLine?: unknown; moveCursor?: unknown };
  stream.isTTY = tty;
  stream.columns = columns;
  // What cli-progress needs of a TTY stream.
  stream.cursorTo = (x: number, _y?: number, cb?: () => void) => {
    chunks.push(`<cursor ${x}>`);
    cb?.();
    return true;
  };
  stream.clearLine = (_dir: number, cb?: () => void) => {
    chunks.push('<clear>');
    cb?.();
    return true;
  };
  stream.moveCursor = (_dx: number, _dy: number, cb?: () => void) => {
    cb?.();
    return true;
  };
  return { stream, text: () => chunks.join('') };
}

function setup(progress: ConstructorParameters<typeof Trainer>[0]['progress'], callbacks: ConstructorParameters<typeof Trainer>[0]['callbacks'] = []) {
  const problem = toyTwoTaskProblem({ seed: 2, size: 256 });
  const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [8], seed: 2 });
  const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(1e-2), batchSize: 32, seed: 2, evaluationBatchSize: 32, callbacks, ...(progress === undefined ? {} : { progress }) });
  return { problem, model, trainer };
}

describe('progress reporting', () => {
  it('draws a live bar on a TTY with steps, steps/s, elapsed, ETA, losses and the validation pass, cut to the width', async () => {
    const { stream, text } = recorder(true, 80);
    const { problem, model, trainer } = setup(false, [progressReporter({ stream, redrawMs: 0 })]);
    await trainer.fit(problem.train, { epochs: 2, validation: problem.validation });
    const out = text();
    expect(out).toMatch(/training sign, value with weighted-sum.*2 epochs x 8 batches/);
    expect(out).toMatch(/epoch 2\/2 \[[#-]{20}\] \d+\/16 steps \| [\d.]+ steps\/s \| 0:0\d elapsed \| ETA [\d:-]+/);
    expect(out).toMatch(/validating \d\/\d/);
    // One summary line per epoch, above the bar.
    expect(out.match(/epoch \d\/2 [\d.]+s [\d.]+ steps\/s, 0:\d\d elapsed, ETA [\d:-]+ \| train sign [\d.]+ value [\d.]+ \| val loss/g)).toHaveLength(2);
    // The bar's lines never exceed the terminal's 80 columns.
    for (const frame of out.split(/<cursor 0>|<clear>|\n|\r/)) {
      if (frame.startsWith('epoch') && frame.includes('steps |')) expect(frame.length).toBeLessThanOrEqual(80);
    }
    model.dispose();
  });

  it('prints one plain line per epoch when not on a TTY', async () => {
    const { stream, text } = recorder(false);
    const { problem, model, trainer } = setup(false, [progressReporter({ stream })]);
    await trainer.fit(problem.train, { epochs: 3 });
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/^epoch 3\/3 .* ETA 0:00 \| train sign/);
    model.dispose();
  });

  it('is on by default only where nobody decided and stdout is a TTY; progress: true forces it', async () => {
    const { stream, text } = recorder(false);
    const { problem, model, trainer } = setup({ stream });
    await trainer.fit(problem.train, { epochs: 1 });
    expect(text()).toMatch(/^training sign, value/);
    model.dispose();
    expect(() => setup('loud' as never)).toThrow(MtlError);
  });

  it('formats durations as m:ss and h:mm:ss', () => {
    expect([clock(0), clock(59.6), clock(61), clock(3600 + 62)]).toEqual(['0:00', '1:00', '1:01', '1:01:02']);
  });
});

describe('metricsLogger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtl-metrics-log-'));

  it('appends one JSON line per epoch with train losses and validation results', async () => {
    const path = join(dir, 'a', 'log.jsonl');
    const { problem, model, trainer } = setup(false, [metricsLogger({ path })]);
    await trainer.fit(problem.train, { epochs: 2, validation: problem.validation });
    const rows = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
    expect(rows.map((r) => [r['kind'], r['epoch'], r['steps']])).toEqual([
      ['epoch', 0, 8],
      ['epoch', 1, 8],
    ]);
    expect(rows[1]!['val/sign/accuracy']).toEqual(trainer.evaluate(problem.validation)['sign/accuracy']);
    model.dispose();
  });

  it('writes a CSV header once, keeps appending on a second run, and logs steps when asked', async () => {
    const path = join(dir, 'log.csv');
    for (let run = 0; run < 2; run++) {
      const { problem, model, trainer } = setup(false, [metricsLogger({ path })]);
      await trainer.fit(problem.train, { epochs: 1 });
      model.dispose();
    }
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('kind,epoch,steps,train/sign,train/value,seconds,stepsPerSecond');
    expect(lines).toHaveLength(3);
    const steps = join(dir, 'steps.jsonl');
    const { problem, model, trainer } = setup(false, [metricsLogger({ path: steps, every: 'step' })]);
    await trainer.fit(problem.train, { epochs: 1 });
    const kinds = readFileSync(steps, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds).toEqual([...Array<string>(8).fill('step'), 'epoch']);
    model.dispose();
  });

  it('rejects bad options by name', () => {
    expect(() => metricsLogger({ path: '' })).toThrow(/path/);
    expect(() => metricsLogger({ path: 'x.log', format: 'xml' as never })).toThrow(/format/);
    expect(() => metricsLogger({ path: 'x.log', every: 'batch' as never })).toThrow(/every/);
  });

  it.sequential('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
