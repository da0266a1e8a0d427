#!/usr/bin/env node
// Proves @mtl/core works when installed alone from its packed tarball: build, `pnpm pack`, install
// into an empty npm project (no workspace, no source condition), import it and train.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
const work = mkdtempSync(join(tmpdir(), 'mtl-pack-smoke-'));
try {
  run('pnpm', ['--filter', '@mtl/core', 'build'], root);
  run('pnpm', ['pack', '--pack-destination', work], join(root, 'packages', 'core'));
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('pnpm pack produced no tarball');
  const app = join(work, 'app');
  run('mkdir', ['-p', app], work);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'mtl-smoke', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', join(work, tarball)], app);
  writeFileSync(
    join(app, 'smoke.mjs'),
    `import { Trainer, adam, hardSharingMlp, useBestBackend, describeBackend } from '@mtl/core';
import { toyTwoTaskProblem } from '@mtl/core/testing';
const backend = await useBestBackend();
console.log(describeBackend(backend));
const problem = toyTwoTaskProblem({ seed: 1, size: 512 });
const model = hardSharingMlp({ inputSize: problem.inputSize, tasks: problem.tasks, trunk: [32] });
const trainer = new Trainer({ model, tasks: problem.tasks, optimizer: adam(0.01) });
await trainer.fit(problem.train, { epochs: 5 });
const result = trainer.evaluate(problem.test);
console.log('installed @mtl/core trained:', JSON.stringify(result));
if (!(result['sign/accuracy'] > 0.85)) { console.error('accuracy too low'); process.exit(1); }
`,
  );
  run('node', ['smoke.mjs'], app);
  console.log('pack smoke test passed');
} finally {
  rmSync(work, { recursive: true, force: true });
}
