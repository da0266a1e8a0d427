#!/usr/bin/env node
/* global process, console */
// Builds the OpenBLAS addon with node-gyp when a BLAS and a compiler are present; otherwise prints
// why it skipped and exits 0, so installing @mtl/backend-blas never fails (the package then loads
// and reports itself absent). Run on install, by `build` and `test`, or by hand:
//   node scripts/build-native.mjs            build (or skip with a reason)
//   node scripts/build-native.mjs --if-missing   only when no addon is built yet
// The outcome (built, or the skip reason) is written to build/status.json for the loader's message.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

const packageDir = join(import.meta.dirname, '..');
const addon = join(packageDir, 'build', 'Release', 'mtl_blas.node');
const statusFile = join(packageDir, 'build', 'status.json');

function finish(built, reason) {
  try {
    mkdirSync(dirname(statusFile), { recursive: true });
    writeFileSync(statusFile, JSON.stringify({ built, reason, at: new Date().toISOString() }) + '\n');
  } catch {
    // A read-only install directory: the loader then gives its generic reason.
  }
  console.log(`@mtl/backend-blas: ${built ? 'addon built' : `addon not built (${reason}); @mtl runs on plain wasm kernels`}`);
  process.exit(0);
}

// Whatever goes wrong below, installing the package must not fail.
process.on('uncaughtException', (error) => finish(false, `build script error: ${error.message}`));

if (process.argv.includes('--if-missing') && existsSync(addon)) process.exit(0);
if (/^(0|off|false|no)$/i.test(process.env.MTL_BLAS_BUILD ?? '')) finish(false, 'MTL_BLAS_BUILD=off');

const headerDirs = [
  process.env.MTL_BLAS_INCLUDE,
  '/usr/include',
  '/usr/include/openblas',
  '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu',
  '/usr/include/x86_64-linux-gnu/openblas-pthread',
  '/usr/include/aarch64-linux-gnu/openblas-pthread',
  '/usr/local/include',
  '/opt/homebrew/opt/openblas/include',
  '/usr/local/opt/openblas/include',
].filter(Boolean);
if (!headerDirs.some((dir) => existsSync(join(dir, 'cblas.h')))) {
  finish(false, 'cblas.h not found; on Debian/Ubuntu: apt-get install libopenblas-dev, on macOS: brew install openblas');
}

const libDirs = ['/usr/lib', '/usr/lib64', '/usr/local/lib', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib'];
const hasLib = libDirs.some((dir) => existsSync(dir) && readdirSync(dir).some((f) => /^libopenblas\.(so|dylib|a)/.test(f)));
if (!hasLib) finish(false, 'libopenblas not found (-lopenblas); on Debian/Ubuntu: apt-get install libopenblas-dev');

// node-gyp: the one npm or pnpm hands to install scripts, one on PATH, or the copy bundled with npm.
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) candidates.push(join(dir, 'node-gyp'));
  const prefix = dirname(dirname(process.execPath));
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => c && existsSync(c));
}
const nodeGyp = findNodeGyp();
if (!nodeGyp) finish(false, 'node-gyp not found (it ships with npm)');

// Node's own headers when installed next to it (Debian's nodejs, the official tarballs): no download.
const args = ['rebuild'];
const nodePrefix = dirname(dirname(process.execPath));
if (existsSync(join(nodePrefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${nodePrefix}`);
const command = nodeGyp.endsWith('.js') ? process.execPath : nodeGyp;
const commandArgs = nodeGyp.endsWith('.js') ? [nodeGyp, ...args] : args;
const result = spawnSync(command, commandArgs, { cwd: packageDir, encoding: 'utf8', timeout: 120_000 });
if (result.status !== 0 || !existsSync(addon)) {
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
  if (output) console.log(output);
  finish(false, `node-gyp failed${result.error ? `: ${result.error.message}` : ` (exit ${result.status})`}`);
}
finish(true, `built against ${nodePrefix} headers`);
