import { describe, expect, it } from 'vitest';
import { progressView } from '../src/progress.js';
import type { JobSpec } from '../src/job.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 160, rows: 40, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream };
}

const job = (method: string, seed: number) => ({ id: `${method}--seed${seed}`, method, seed }) as JobSpec;
// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');

describe('progress', () => {
  it('on a TTY: one live line per running job (method, seed, epoch, step, loss, ETA) under the overall line', async () => {
    const { stream, writes } = fakeStream(true);
    const view = progressView({ stream, tty: true });
    view.begin(3, 1);
    view.start(job('EW', 0));
    view.start(job('PCGrad', 1));
    view.progress({ id: 'EW--seed0', epoch: 2, epochs: 4, step: 3, stepsPerEpoch: 10, loss: 0.5, fraction: 0.3, phase: 'training' });
    await new Promise((r) => setTimeout(r, 450));
    const frame = plain(writes.at(-1)!);
    expect(frame).toMatch(/benchmark: 1\/3 jobs done · elapsed \d+:\d\d · left ~\d+:\d\d/);
    expect(frame).toMatch(/EW s0 +epoch 2\/4 +step +3\/10 +loss 0\.5000 +30% +ETA \d+:\d\d/);
    expect(frame).toMatch(/PCGrad s1 +starting/);
    view.finish({ id: 'EW--seed0', method: 'EW', seed: 0, status: 'ok', wallMs: 1200, test: {}, params: 1, history: [] });
    view.end();
    const all = plain(writes.join(''));
    expect(all).toContain('EW seed 0: done in 0:01');
    expect(plain(writes.at(-1)!)).toMatch(/2\/3 jobs done/);
  });

  it('not on a TTY: plain lines, no escape codes', () => {
    const { stream, writes } = fakeStream(false);
    const view = progressView({ stream });
    view.begin(2, 0);
    view.start(job('EW', 0));
    view.progress({ id: 'EW--seed0', epoch: 1, epochs: 2, step: 10, stepsPerEpoch: 10, loss: 0.25, fraction: 0.5, phase: 'epoch done' });
    view.finish({ id: 'EW--seed0', method: 'EW', seed: 0, status: 'failed', wallMs: 10, error: 'diverged' });
    view.end();
    expect(writes.join('')).not.toContain('\u001b');
    expect(writes).toEqual(['[0/2] start EW seed 0\n', '  EW seed 0: epoch 1/2 loss 0.2500\n', expect.stringMatching(/^\[1\/2\] EW seed 0: FAILED: diverged · left ~/)]);
  });
});
