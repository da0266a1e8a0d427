import type { BackendChoice } from './backend.js';

/**
 * What an accelerator did when a backend was activated, as `useBestBackend` reports it:
 * `active` with the kernels it serves, or why it is not in use (absent, not built, other backend).
 */
export interface AcceleratorReport {
  readonly name: string;
  readonly active: boolean;
  /** One line: what runs where (library, threads, kernels), or why not. */
  readonly detail: string;
}

/**
 * A package that makes a backend faster by registering kernels on it (e.g. `@mtl/backend-blas`:
 * OpenBLAS products on the wasm backend). It registers itself with {@link registerAccelerator} when
 * imported; `useBestBackend` activates it for the backend it picks and reports what it said.
 */
export interface Accelerator {
  readonly name: string;
  /** Installs the accelerator for the backend just activated (idempotent); says what it did. */
  activate(choice: BackendChoice): { active: boolean; detail: string };
  /** Removes whatever `activate` installed (`useBestBackend({ accelerators: false })`). */
  deactivate(): void;
}

/**
 * Accelerator packages `useBestBackend` imports when they are installed, as it does with
 * `@tensorflow/tfjs-node`. Core does not depend on them; an absent one is reported, not an error.
 */
export const OPTIONAL_ACCELERATOR_PACKAGES: readonly { readonly name: string; readonly specifier: string }[] = [
  { name: 'blas', specifier: '@mtl/backend-blas' },
];

const registry = new Map<string, Accelerator>();

/** Set by backend.ts: activates an accelerator registered after a backend was already chosen. */
let onLateRegistration: ((accelerator: Accelerator) => void) | undefined;
export function setLateRegistrationHandler(handler: (accelerator: Accelerator) => void): void {
  onLateRegistration = handler;
}

/**
 * Registers an accelerator (an accelerator package calls this when imported). Every later
 * `useBestBackend` activates it; if a backend is already active it is activated for it now.
 */
export function registerAccelerator(accelerator: Accelerator): void {
  registry.set(accelerator.name, accelerator);
  onLateRegistration?.(accelerator);
}

let probed: Promise<AcceleratorReport[]> | undefined;

/**
 * Imports each optional accelerator package once (it registers itself on import). Returns a report
 * for each one that could not be imported, so `useBestBackend` can say why it is not used.
 */
export function loadOptionalAccelerators(importOptional: (specifier: string) => Promise<unknown>): Promise<AcceleratorReport[]> {
  probed ??= Promise.all(
    OPTIONAL_ACCELERATOR_PACKAGES.map(async ({ name, specifier }): Promise<AcceleratorReport | undefined> => {
      if (registry.has(name)) return undefined;
      try {
        await importOptional(specifier);
        return registry.has(name) ? undefined : { name, active: false, detail: `${specifier} did not register itself` };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return { name, active: false, detail: message === 'not installed' ? `${specifier} is not installed` : `${specifier} failed to load: ${message}` };
      }
    }),
  ).then((reports) => reports.filter((r): r is AcceleratorReport => r !== undefined));
  return probed;
}

/** Activates (or, when `enabled` is false, removes) every registered accelerator for `choice`. */
export function activateAccelerators(choice: BackendChoice, enabled: string | true): AcceleratorReport[] {
  const reports: AcceleratorReport[] = [];
  for (const accelerator of registry.values()) {
    if (enabled !== true) {
      accelerator.deactivate();
      reports.push({ name: accelerator.name, active: false, detail: `disabled by ${enabled}` });
      continue;
    }
    try {
      reports.push({ name: accelerator.name, ...accelerator.activate(choice) });
    } catch (error) {
      // A broken accelerator must not take the backend down with it: the plain kernels still work.
      accelerator.deactivate();
      reports.push({ name: accelerator.name, active: false, detail: `failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` });
    }
  }
  return reports;
}
