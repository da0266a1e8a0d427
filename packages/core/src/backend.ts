import { tf } from './tf.js';
import { MtlError } from './errors.js';
import { booleanOption, checkOptions, functionOption, oneOf } from './options.js';
import { registerFastKernels } from './kernels/register.js';
import { activateAccelerators, loadOptionalAccelerators, setLateRegistrationHandler, type AcceleratorReport } from './accelerators.js';

export type { AcceleratorReport } from './accelerators.js';

/** What `MTL_BACKEND` and {@link useBestBackend} accept, fastest first. */
export const BACKEND_CANDIDATES = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendCandidate = (typeof BACKEND_CANDIDATES)[number];

export interface BackendAttempt {
  readonly candidate: BackendCandidate;
  readonly error: string;
}

/** Which backend runs, and why: printed by the examples, stored in benchmark results. */
export interface BackendChoice {
  readonly candidate: BackendCandidate;
  /** The tfjs backend name (`tensorflow` for the two native packages). */
  readonly tfjsBackend: string;
  readonly reason: string;
  /** Candidates tried before this one, with why each failed. */
  readonly skipped: readonly BackendAttempt[];
  /**
   * Accelerator packages (e.g. `@mtl/backend-blas`) and what each did for this backend: active with
   * its library, threads and kernels, or why not (not installed, not built, another backend, disabled).
   */
  readonly accelerators: readonly AcceleratorReport[];
}

export interface UseBackendOptions {
  /** Force a candidate; defaults to the `MTL_BACKEND` environment variable, else automatic. */
  readonly backend?: BackendCandidate | undefined;
  /** Called once with a one-line report of the choice; default: silent. */
  readonly log?: ((line: string) => void) | undefined;
  /**
   * Use accelerator packages when installed (`@mtl/backend-blas`); default true, or false when the
   * `MTL_ACCELERATORS` environment variable is `none`/`off`/`0`. With false, installed ones are removed.
   */
  readonly accelerators?: boolean | undefined;
}

/** Optional hooks run after a backend is activated (faster kernels register themselves here). */
const activationHooks: ((choice: BackendChoice) => void)[] = [];

export function onBackendActivated(hook: (choice: BackendChoice) => void): void {
  activationHooks.push(hook);
  if (current) hook(current);
}

let current: BackendChoice | undefined;

// @mtl's wasm kernels (missing conv gradients, fast transposed products) install on activation.
onBackendActivated((choice) => registerFastKernels(choice.tfjsBackend));

/** The backend chosen by the last {@link useBestBackend} call, if any. */
export function currentBackend(): BackendChoice | undefined {
  return current;
}

const WHY: Record<BackendCandidate, string> = {
  'tfjs-node-gpu': 'native TensorFlow with CUDA is installed',
  'tfjs-node': 'native TensorFlow is installed',
  wasm: 'fastest backend that installs from npm alone (SIMD kernels, ~20x the pure-JS backend on matmul)',
  cpu: 'pure-JS fallback; always available',
};

/**
 * Chooses and activates the fastest working backend: `MTL_BACKEND` (or `options.backend`) when set,
 * else `@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node` (optional peers, used only when
 * installed), else wasm, else cpu. A backend requested explicitly must work: it never falls back.
 */
export async function useBestBackend(options: UseBackendOptions = {}): Promise<BackendChoice> {
  checkOptions(options, { backend: oneOf(BACKEND_CANDIDATES), log: functionOption, accelerators: booleanOption }, 'useBestBackend');
  const requested = options.backend ?? readEnvBackend();
  const candidates: readonly BackendCandidate[] = requested ? [requested] : BACKEND_CANDIDATES;
  const skipped: BackendAttempt[] = [];
  const accelerated = acceleratorsEnabled(options);
  const absent = accelerated === true ? await loadOptionalAccelerators(importOptional) : [];
  for (const candidate of candidates) {
    try {
      const tfjsBackend = await withoutAddedProcessHandlers(() => activate(candidate));
      const reason = requested ? `requested by ${options.backend ? 'options.backend' : 'MTL_BACKEND'}` : WHY[candidate];
      current = { candidate, tfjsBackend, reason, skipped, accelerators: [] };
      for (const hook of activationHooks) hook(current);
      // After the hooks: an accelerator wraps core's fast kernels and falls back to them.
      current = { ...current, accelerators: [...activateAccelerators(current, accelerated), ...absent] };
      options.log?.(describeBackend(current));
      return current;
    } catch (error) {
      skipped.push({ candidate, error: error instanceof Error ? error.message.split('\n')[0]! : String(error) });
    }
  }
  throw new MtlError(
    'BACKEND_UNAVAILABLE',
    requested
      ? `backend "${requested}" was requested but could not start: ${skipped[0]?.error ?? 'unknown error'}`
      : `no tfjs backend could start: ${skipped.map((s) => `${s.candidate}: ${s.error}`).join('; ')}`,
    { requested, skipped },
  );
}

/** Activates the best backend once; later calls return the same choice. */
let pending: Promise<BackendChoice> | undefined;
export function ensureBackend(options: UseBackendOptions = {}): Promise<BackendChoice> {
  if (current && tf.getBackend() === current.tfjsBackend) return Promise.resolve(current);
  pending ??= useBestBackend(options).finally(() => {
    pending = undefined;
  });
  return pending;
}

export function describeBackend(choice: BackendChoice): string {
  const skipped = choice.skipped.length
    ? ` (skipped: ${choice.skipped.map((s) => `${s.candidate}: ${s.error}`).join('; ')})`
    : '';
  const accelerators = (choice.accelerators ?? []).map((a) => `; accelerator ${a.name}: ${a.active ? '' : 'not used, '}${a.detail}`).join('');
  return `@mtl backend: ${choice.candidate} - ${choice.reason}${skipped}${accelerators}`;
}

/** `true`, or what disabled accelerators (for the report). */
function acceleratorsEnabled(options: UseBackendOptions): string | true {
  if (options.accelerators === false) return 'options.accelerators';
  if (options.accelerators === undefined && /^(none|off|0|false)$/i.test(process.env['MTL_ACCELERATORS']?.trim() ?? '')) return 'MTL_ACCELERATORS';
  return true;
}

// An accelerator imported after `useBestBackend` serves the backend already chosen.
setLateRegistrationHandler((accelerator) => {
  if (!current) return;
  const others = current.accelerators.filter((a) => a.name !== accelerator.name);
  const [report] = activateAccelerators({ ...current, accelerators: others }, true).filter((a) => a.name === accelerator.name);
  current = { ...current, accelerators: [...others, ...(report ? [report] : [])] };
});

/** Throws BACKEND_NOT_READY unless some tfjs backend is active (tensors cannot be made before). */
export function requireBackend(what: string): void {
  const engine = tf.engine() as unknown as { backendName?: string | null };
  if (!engine.backendName) {
    throw new MtlError('BACKEND_NOT_READY', `${what} needs a tfjs backend: call \`await useBestBackend()\` first`, {
      what,
    });
  }
}

function readEnvBackend(): BackendCandidate | undefined {
  const value = process.env['MTL_BACKEND']?.trim();
  if (!value) return undefined;
  if ((BACKEND_CANDIDATES as readonly string[]).includes(value)) return value as BackendCandidate;
  throw new MtlError(
    'INVALID_OPTION',
    `MTL_BACKEND=${JSON.stringify(value)} is not a backend; use one of ${BACKEND_CANDIDATES.join(', ')}`,
    { option: 'MTL_BACKEND', value, expected: BACKEND_CANDIDATES },
  );
}

async function activate(candidate: BackendCandidate): Promise<string> {
  switch (candidate) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      await importOptional(`@tensorflow/${candidate}`);
      return setOrThrow('tensorflow');
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      return setOrThrow('wasm');
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      await setOrThrow('cpu');
      silenceCpuNodeAdvice();
      return 'cpu';
  }
}

const PROCESS_ERROR_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/**
 * The wasm backend's Emscripten glue installs `uncaughtException` / `unhandledRejection` handlers
 * that rethrow from inside its own file, so every later error of the user's program was reported
 * under the wasm file's name and exited with code 7. A backend has no business owning the
 * process's error handling: remove whatever handlers activation added, keeping the user's.
 */
async function withoutAddedProcessHandlers<T>(activation: () => Promise<T>): Promise<T> {
  const emitter: NodeJS.EventEmitter = process;
  const before = new Map(PROCESS_ERROR_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  try {
    return await activation();
  } finally {
    for (const event of PROCESS_ERROR_EVENTS) {
      for (const listener of emitter.listeners(event)) {
        if (!before.get(event)!.has(listener)) emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    }
  }
}

async function importOptional(specifier: string): Promise<unknown> {
  try {
    // A variable specifier keeps bundlers and tsc from requiring the optional peer.
    return await import(/* @vite-ignore */ specifier);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(/Cannot find (module|package)/.test(message) ? 'not installed' : message);
  }
}

async function setOrThrow(name: string): Promise<string> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend("${name}") failed`);
  return name;
}

/**
 * The cpu backend prints advice to install tfjs-node on its first tensor. We already report the
 * backend choice and why; swallow that one message (only it) during a first write.
 */
function silenceCpuNodeAdvice(): void {
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('tfjs-node')) return;
    original(...args);
  };
  try {
    tf.tidy(() => tf.scalar(0));
  } finally {
    console.warn = original;
  }
}
