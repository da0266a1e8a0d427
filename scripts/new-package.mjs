#!/usr/bin/env node
// Creates packages/<name> from packages/_template: `node scripts/new-package.mjs my-method "What it does"`.
import { cpSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, description = 'A multi-task learning method for @mtl.'] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: node scripts/new-package.mjs <name: lowercase letters, digits, -> ["description"]');
  process.exit(2);
}
const root = join(import.meta.dirname, '..');
const target = join(root, 'packages', name);
if (existsSync(target)) {
  console.error(`packages/${name} already exists`);
  process.exit(2);
}
cpSync(join(root, 'packages', '_template'), target, { recursive: true });
const fill = (dir) => {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) fill(path);
    else writeFileSync(path, readFileSync(path, 'utf8').replaceAll('packages/_template', `packages/${name}`).replaceAll('__name__', name).replaceAll('__description__', description));
  }
};
fill(target);
console.log(`created packages/${name}; next: pnpm install, then add a changeset (pnpm changeset)`);
