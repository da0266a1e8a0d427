import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { findReadmes, readBlocks } from '../src/readme-blocks.js';
import { runReadmeBlocks } from '../src/run-blocks.js';

// Every ts/js block of every README runs as written, against the workspace sources (`@mtl/source`).
const root = join(import.meta.dirname, '..', '..', '..');
const here = join(import.meta.dirname, '..');

describe.each(findReadmes(root))('%s', (readme) => {
  const blocks = readBlocks(root, readme);
  const runnable = blocks.filter((b) => !b.file);
  it.skipIf(runnable.length === 0)(`runs its ${runnable.length} code block(s) as written`, () => {
    const dir = join(here, '.runs', readme.replace(/[^\w]+/g, '-'));
    const runs = runReadmeBlocks(blocks, { dir, nodeArgs: ['--conditions=@mtl/source'], checkModule: join(here, 'src', 'expect-logged.ts') });
    const failed = runs.filter((r) => r.status !== 0).map((r) => `${readme}:${r.block.line} exited with ${r.status}\n${r.output.slice(-3000)}`);
    expect(failed, failed.join('\n\n')).toEqual([]);
  });
});
