#!/usr/bin/env node
// Uses the packages as published, the way a new user would: builds and packs every public package,
// installs all the tarballs together into an empty npm project outside the workspace (no source
// condition, no workspace links), then
//   1. runs every README code block of every package against the installed copies,
//   2. type-checks those blocks in strict TypeScript with a consumer tsconfig of `"types": ["node"]`
//      and `skipLibCheck: false`,
//   3. bundles a small training app with esbuild (our packages bundled in, tfjs external) and trains.
// Run: `node --import tsx scripts/packed-install.ts` (CI does). `--keep` leaves the folder for a look.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBlocks } from '../examples/doctest/src/readme-blocks.js';
import { runReadmeBlocks } from '../examples/doctest/src/run-blocks.js';

const root = join(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const run = (cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  execFileSync(cmd, args, { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const publicPackages = readdirSync(join(root, 'packages'))
  .filter((dir) => !dir.startsWith('_') && (!only || only.includes(dir)))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as Manifest }))
  .filter((p) => !p.manifest.private);

const work = mkdtempSync(join(tmpdir(), 'mtl-packed-'));
const failures: string[] = [];
try {
  run('pnpm', ['turbo', 'run', 'build', ...publicPackages.flatMap((p) => ['--filter', p.manifest.name]), '--output-logs=errors-only'], root);
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const p of publicPackages) execFileSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(root, 'packages', p.dir), stdio: 'ignore' });

  const app = join(work, 'app');
  mkdirSync(app);
  const tfjsRange = publicPackages.find((p) => p.manifest.name === '@mtl/core')!.manifest.peerDependencies!['@tensorflow/tfjs-core']!;
  const versionIn = (dir: string, name: string) => JSON.parse(readFileSync(join(root, dir, 'node_modules', name, 'package.json'), 'utf8')).version as string;
  const devTool = (name: string) => versionIn('.', name);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'mtl-packed-app', private: true, type: 'module' }, null, 2));
  // One install of everything together, as a user would: npm resolves the peer ranges against each other.
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...readdirSync(tarballs).map((f) => join(tarballs, f)),
      `@tensorflow/tfjs-core@${tfjsRange}`,
      // Optional peer of core that a README example uses (the bring-your-own-backbone adapter), as a user would add it.
      `@tensorflow/tfjs-layers@${versionIn('examples/doctest', '@tensorflow/tfjs-layers')}`,
      `tsx@${devTool('tsx')}`,
      `typescript@${devTool('typescript')}`,
      `esbuild@${devTool('esbuild')}`,
      `@types/node@${devTool('@types/node')}`,
    ],
    app,
  );

  // 1. README blocks against the installed copies (plain Node resolution: dist/, exports map).
  const checkModule = join(app, 'expect-logged.ts');
  cpSync(join(root, 'examples', 'doctest', 'src', 'expect-logged.ts'), checkModule);
  const typecheckFiles: string[] = [];
  for (const p of publicPackages) {
    const readme = `packages/${p.dir}/README.md`;
    const blocks = readBlocks(root, readme);
    const dir = join(app, 'readmes', p.dir);
    for (const r of runReadmeBlocks(blocks, { dir, checkModule })) {
      if (r.status === 0) console.log(`ok    ${readme}:${r.block.line} (installed copies)`);
      else failures.push(`${readme}:${r.block.line} failed against the installed packages (exit ${r.status}):\n${r.output.slice(-2000)}`);
    }
    typecheckFiles.push(...readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join('readmes', p.dir, f)));
  }

  // 2. Strict TypeScript as a consumer with types: ["node"] and library checking on.
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          allowImportingTsExtensions: true,
        },
        files: typecheckFiles,
      },
      null,
      2,
    ),
  );
  // tfjs-layers 4.x's own declarations fail library checking in strict mode (upstream, whatever the
  // consumer writes); everything else, our declarations and tfjs-core's among them, must be clean.
  const upstreamOnly = /^node_modules\/@tensorflow\/tfjs-layers\//;
  const tsc = spawnSync(join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], { cwd: app, encoding: 'utf8' });
  const errors = `${tsc.stdout}${tsc.stderr}`.split('\n').filter((line) => /error TS\d+/.test(line) && !upstreamOnly.test(line));
  if (tsc.status === 0 || (errors.length === 0 && tsc.error === undefined)) {
    console.log(`ok    strict TypeScript (types: ["node"], skipLibCheck: false) on ${typecheckFiles.length} README blocks`);
  } else {
    failures.push(`strict TypeScript check of the README blocks against the installed packages failed:\n${errors.join('\n') || tsc.stdout}`);
  }

  // 3. A bundled app trains: @mtl/* inside the bundle, tfjs packages external (one tfjs engine).
  writeFileSync(
    join(app, 'bundled-app.ts'),
    `import { Trainer, adam, hardSharingMlp, useBestBackend } from '@mtl/core';
import { toyTwoTaskProblem } from '@mtl/core/testing';
await useBestBackend();
const { tasks, train, inputSize } = toyTwoTaskProblem({ seed: 1, size: 256 });
const model = hardSharingMlp({ inputSize, tasks, trunk: [16], seed: 1 });
const trainer = new Trainer({ model, tasks, optimizer: adam(0.01), seed: 1, progress: { tty: true } }); // draws the live bar: cli-progress loads at run time
const { history } = await trainer.fit(train, { epochs: 2 });
console.log('bundled app trained', history.length, 'epochs');
`,
  );
  run(join(app, 'node_modules', '.bin', 'esbuild'), ['bundled-app.ts', '--bundle', '--platform=node', '--format=esm', '--external:@tensorflow/*', '--outfile=dist/bundled-app.mjs', '--log-level=warning'], app);
  try {
    run(process.execPath, ['dist/bundled-app.mjs'], app);
    console.log('ok    esbuild bundle trains');
  } catch {
    failures.push('the esbuild-bundled app failed to train (output above)');
  }
} finally {
  if (keep) console.log(`left in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
if (failures.length) {
  console.error(`\npacked install: ${failures.length} failure(s)\n\n${failures.join('\n\n')}`);
  process.exit(1);
}
console.log(`packed install passed: ${publicPackages.length} packages installed together from their tarballs`);
