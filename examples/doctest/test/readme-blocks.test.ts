import { describe, expect, it } from 'vitest';
import { extractBlocks, instrument } from '../src/readme-blocks.js';
import { expectLogged } from '../src/expect-logged.js';

describe('README block extraction', () => {
  const markdown = [
    '# x',
    '```sh',
    'npm i x',
    '```',
    '```ts file=setup.ts',
    'export default 1;',
    '```',
    '  ```js',
    '  console.log(1 + 1); //=> 2',
    '  ```',
    '```text',
    'out',
    '```',
  ].join('\n');

  it('keeps ts/js blocks with their line and file name, and drops shell and text blocks', () => {
    expect(extractBlocks(markdown, 'R.md')).toEqual([
      { readme: 'R.md', line: 5, lang: 'ts', file: 'setup.ts', code: 'export default 1;' },
      { readme: 'R.md', line: 8, lang: 'js', code: 'console.log(1 + 1); //=> 2' },
    ]);
  });

  it('fails on a block that is never closed', () => {
    expect(() => extractBlocks('```ts\nlet a = 1;', 'R.md')).toThrow(/R.md:1: code block is never closed/);
  });

  it('turns a stated output into a check and leaves other lines alone', () => {
    const code = instrument('const a = 2;\nconsole.log(f(a, (b) => b)); //=> 17.5\nconsole.log(a); // a comment', 'file:///c.ts');
    expect(code.split('\n')).toEqual([
      'import { expectLogged as __expectLogged } from "file:///c.ts";',
      'const a = 2;',
      '__expectLogged([f(a, (b) => b)], "17.5");',
      'console.log(a); // a comment',
    ]);
  });

  it('compares what console.log would print', () => {
    expect(() => expectLogged([17.5], '17.5')).not.toThrow();
    expect(() => expectLogged([{ a: [1, 2] }], '{ a: [ 1, 2 ] }')).not.toThrow();
    expect(() => expectLogged([3, 'number', 'x'], '3 number x')).not.toThrow();
    expect(() => expectLogged([17.500000000000007], '17.5')).toThrow(/states the output "17.5" but the code printed "17.500000000000007"/);
  });
});
