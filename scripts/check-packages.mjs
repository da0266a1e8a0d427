#!/usr/bin/env node
// Publishing checks for every package under packages/ (run by `pnpm lint` at the root and in CI):
// license file, repository / homepage / bugs / engines metadata, a peer range on @mtl/core that the
// current core satisfies, a pending changeset or a CHANGELOG, and README links that still work once
// the package is on npm (nothing relative that leaves the package; nothing that leaves the repository).
// `node scripts/check-packages.mjs --fix` writes the metadata and license files it can derive.
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = join(import.meta.dirname, '..');
const fix = process.argv.includes('--fix');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const repositoryUrl = rootManifest.repository?.url;
const problems = [];
const problem = (where, what) => problems.push(`${where}: ${what}`);

if (!repositoryUrl) problem('package.json', 'root "repository.url" is missing (every package derives its metadata from it)');
if (!existsSync(join(root, 'LICENSE'))) problem('LICENSE', 'the repository has no LICENSE file');

const githubBase = repositoryUrl?.replace(/^git\+/, '').replace(/\.git$/, '');
const core = JSON.parse(readFileSync(join(root, 'packages', 'core', 'package.json'), 'utf8'));
const pendingChangesets = readdirSync(join(root, '.changeset'))
  .filter((f) => f.endsWith('.md') && f !== 'README.md')
  .map((f) => readFileSync(join(root, '.changeset', f), 'utf8'));

for (const dir of readdirSync(join(root, 'packages')).sort()) {
  const packageDir = join(root, 'packages', dir);
  const manifestPath = join(packageDir, 'package.json');
  if (!existsSync(manifestPath) || (only && !only.includes(dir))) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (manifest.private) continue;
  const where = `packages/${dir}`;
  const expected = {
    repository: { type: 'git', url: repositoryUrl, directory: `packages/${dir}` },
    homepage: `${githubBase}/tree/main/packages/${dir}#readme`,
    bugs: { url: `${githubBase}/issues` },
    engines: { node: rootManifest.engines?.node ?? '>=20' },
  };
  let changed = false;
  for (const [field, value] of Object.entries(expected)) {
    if (JSON.stringify(manifest[field]) === JSON.stringify(value)) continue;
    if (fix) {
      manifest[field] = value;
      changed = true;
    } else problem(where, `package.json "${field}" should be ${JSON.stringify(value)} (run node scripts/check-packages.mjs --fix)`);
  }
  if (manifest.license !== 'MIT') problem(where, `license is ${JSON.stringify(manifest.license)}, expected "MIT" (the repository's LICENSE)`);
  if (!existsSync(join(packageDir, 'LICENSE'))) {
    if (fix) copyFileSync(join(root, 'LICENSE'), join(packageDir, 'LICENSE'));
    else problem(where, 'no LICENSE file (npm ships it with the package; run --fix)');
  }
  if (Array.isArray(manifest.files) && !manifest.files.includes('LICENSE')) {
    if (fix) {
      manifest.files.push('LICENSE');
      changed = true;
    } else problem(where, '"files" does not list LICENSE');
  }
  const peer = manifest.peerDependencies?.['@mtl/core'];
  if (peer && !rangeAccepts(peer, core.version)) problem(where, `peer range @mtl/core "${peer}" rejects the workspace's core ${core.version}`);
  if (dir !== '_template') {
    const named = pendingChangesets.some((text) => new RegExp(`['"]${manifest.name.replace('/', '\\/')}['"]\\s*:`).test(text));
    if (!named && !existsSync(join(packageDir, 'CHANGELOG.md'))) problem(where, 'no pending changeset names it and it has no CHANGELOG.md (pnpm changeset)');
  }
  if (changed) writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  checkReadmeLinks(join(packageDir, 'README.md'), packageDir, where);
}
checkReadmeLinks(join(root, 'README.md'), root, 'README.md');

if (problems.length) {
  console.error(`check-packages: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('check-packages: every package has its license, metadata, peer range, changelog source and working README links');

/** Relative links must stay inside `boundary` (the package: npm shows its README alone) and exist. */
function checkReadmeLinks(readme, boundary, where) {
  if (!existsSync(readme)) return problem(where, 'no README.md');
  const text = readFileSync(readme, 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^(https?:|mailto:|#)/.test(target)) continue;
    const path = resolve(dirname(readme), target.split('#')[0]);
    if (relative(boundary, path).startsWith('..')) problem(where, `README link "${target}" points outside ${boundary === root ? 'the repository' : 'the package'} (use an absolute ${githubBase} URL)`);
    else if (!existsSync(path)) problem(where, `README link "${target}" points to nothing`);
  }
}

/** Enough of semver for our peer ranges: `||` of caret ranges. */
function rangeAccepts(range, version) {
  const [major, minor, patch] = version.split('.').map(Number);
  return range.split('||').some((part) => {
    const m = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    if (!m) return false;
    const [a, b, c] = m.slice(1).map(Number);
    if (a > 0) return major === a && (minor > b || (minor === b && patch >= c));
    if (b > 0) return major === 0 && minor === b && patch >= c;
    return major === 0 && minor === 0 && patch === c;
  });
}
