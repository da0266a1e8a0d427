import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { instrument, type CodeBlock } from './readme-blocks.js';

export interface BlockRun {
  readonly block: CodeBlock;
  readonly status: number | null;
  readonly output: string;
}

export interface RunOptions {
  /** Where the blocks are written; module resolution of `@mtl/*` starts here. Emptied first. */
  readonly dir: string;
  /** Extra `node` arguments before the script (e.g. the `@mtl/source` condition in the workspace). */
  readonly nodeArgs?: readonly string[];
  /** The module exporting `expectLogged`, as a path. */
  readonly checkModule: string;
  readonly timeoutMs?: number;
}

/**
 * Writes one README's blocks into `dir` (`file=` blocks under their own names, so the others can
 * import them) and runs each other block as its own ES module, in order.
 */
export function runReadmeBlocks(blocks: readonly CodeBlock[], options: RunOptions): BlockRun[] {
  rmSync(options.dir, { recursive: true, force: true });
  mkdirSync(options.dir, { recursive: true });
  // A relative specifier, so the blocks also type-check as written files (packed-install's strict check).
  const checkModule = `./${relative(options.dir, options.checkModule).split('\\').join('/')}`;
  for (const block of blocks) if (block.file) writeFileSync(join(options.dir, block.file), instrument(block.code, checkModule));
  return blocks
    .filter((block) => !block.file)
    .map((block, n) => {
      const script = join(options.dir, `block-${n + 1}-line-${block.line}.${block.lang === 'ts' ? 'ts' : 'mjs'}`);
      writeFileSync(script, instrument(block.code, checkModule));
      const child = spawnSync(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script], {
        cwd: options.dir,
        encoding: 'utf8',
        timeout: options.timeoutMs ?? 180_000,
        env: { ...process.env, FORCE_COLOR: '0' },
      });
      return { block, status: child.status, output: `${child.stdout}${child.stderr}${child.error ? String(child.error) : ''}` };
    });
}
