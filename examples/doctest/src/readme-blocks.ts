import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One fenced code block of a README that the doc-test runs (or writes beside the runs, for `file=`). */
export interface CodeBlock {
  /** The README, relative to the repository root. */
  readonly readme: string;
  /** 1-based line of the opening fence, for error messages. */
  readonly line: number;
  readonly lang: 'ts' | 'js';
  /** Set by an info string such as ```ts file=setup.ts: the block is a module other blocks import, not a run of its own. */
  readonly file?: string;
  readonly code: string;
}

const RUNNABLE = new Map<string, 'ts' | 'js'>([
  ['ts', 'ts'],
  ['typescript', 'ts'],
  ['js', 'js'],
  ['javascript', 'js'],
  ['mjs', 'js'],
]);

/** The README files whose code must run: the root's, every package's and every example's (not the template's placeholders). */
export function findReadmes(root: string): string[] {
  const found = [join(root, 'README.md')];
  for (const parent of ['packages', 'examples']) {
    for (const dir of readdirSync(join(root, parent)).sort()) {
      if (dir.startsWith('_')) continue;
      const readme = join(root, parent, dir, 'README.md');
      if (existsSync(readme)) found.push(readme);
    }
  }
  return found.map((file) => relative(root, file));
}

/** The ts/js blocks of one README, in order; shell, text and other blocks are documentation only. */
export function extractBlocks(markdown: string, readme: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*([\w-]*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info = '', rest = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j]!)) body.push(lines[j++]!.slice(indent!.length));
    if (j >= lines.length) throw new Error(`${readme}:${i + 1}: code block is never closed`);
    const lang = RUNNABLE.get(info.toLowerCase());
    if (lang) {
      const file = /(?:^|\s)file=(\S+)/.exec(rest)?.[1];
      blocks.push({ readme, line: i + 1, lang, ...(file ? { file } : {}), code: body.join('\n') });
    }
    i = j;
  }
  return blocks;
}

export function readBlocks(root: string, readme: string): CodeBlock[] {
  return extractBlocks(readFileSync(join(root, readme), 'utf8'), readme);
}

/** `console.log(expr); //=> text` states an output: the doc-test checks what is printed equals `text`. */
const STATED_OUTPUT = /^(\s*)console\.log\((.*)\);?\s*\/\/=>\s?(.*)$/;

/**
 * The block as it runs: lines that state their output become checks (the value is still printed).
 * `checkModule` is the import specifier of the module exporting `expectLogged`.
 */
export function instrument(code: string, checkModule: string): string {
  let checks = 0;
  const body = code
    .split('\n')
    .map((line) => {
      const m = STATED_OUTPUT.exec(line);
      if (!m) return line;
      checks++;
      return `${m[1]}__expectLogged([${m[2]}], ${JSON.stringify(m[3]!.trim())});`;
    })
    .join('\n');
  return checks === 0 ? body : `import { expectLogged as __expectLogged } from ${JSON.stringify(checkModule)};\n${body}`;
}
