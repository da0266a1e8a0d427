/**
 * How a gradient worker thread starts. The worker runs a small CommonJS script first: it marks the
 * control buffer when the thread exits (so a main thread blocked in `Atomics.wait` learns of a crash
 * without its event loop), loads tsx when TypeScript is involved (Node 20 cannot run .ts in a worker,
 * and `--import tsx` in execArgv does not apply to workers), then imports the real entry.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MtlError } from '../errors.js';
import { DONE, STATUS, STATUS_EXITED, STATUS_FAILED, WORDS } from './protocol.js';

export const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const control = new Int32Array(workerData.control);
const base = workerData.index * ${WORDS};
const mark = (status) => {
  Atomics.store(control, base + ${STATUS}, status);
  Atomics.notify(control, base + ${STATUS});
  Atomics.notify(control, base + ${DONE});
};
process.on('exit', () => mark(${STATUS_EXITED}));
(workerData.tsx
  ? import(pathToFileURL(workerData.tsx).href).then((api) => (api.register ?? api.default.register)())
  : Promise.resolve()
)
  .then(() => import(workerData.entry))
  .catch((error) => {
    workerData.port.postMessage({ type: 'error', error: { message: String((error && error.stack) || error) } });
    mark(${STATUS_FAILED});
  });
`;

/** A module specifier as an absolute URL (paths are resolved against the working directory). */
export function moduleHref(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (/^(file|data):/.test(module)) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

/**
 * The file of tsx's ESM API (`register()`), resolved from `from`: a worker loads it first when it
 * must run TypeScript. `option` names the user option that made TypeScript necessary, for the error.
 */
export function resolveTsxApi(from: string, option = 'setupModule'): string {
  try {
    const manifest = createRequire(from).resolve('tsx/package.json');
    const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, { import?: { default?: string } }> };
    const api = exports?.['./esm/api']?.import?.default;
    if (!api) throw new Error('this tsx version has no ESM API (tsx/esm/api)');
    return join(dirname(manifest), api);
  } catch (error) {
    throw new MtlError('INVALID_OPTION', `option "${option}" is TypeScript (or @mtl runs from sources): worker threads need the "tsx" package installed`, {
      option,
      value: from,
      cause: error instanceof Error ? error.message : String(error),
    });
  }
}
