import { unknownName } from '../errors.js';
import { forkmerge } from './forkmerge.js';
import { optionalAdapters } from './optional.js';
import { stl } from './stl.js';
import type { MethodAdapter } from './types.js';
import { weightingAdapters } from './weighting.js';

export type { MethodAdapter, MethodContext, TrainOptions, TrainedModel } from './types.js';

/** The default `--methods`: the baselines, the weighting methods and every method package. */
export const DEFAULT_METHODS: readonly string[] = ['STL', 'EW', 'UW', 'DWA', 'RLW', 'PCGrad', 'CAGrad', 'MGDA', 'Nash-MTL', 'group-update', 'IT-MTL', 'ForkMerge', 'CoNAL'];

let adapters: readonly MethodAdapter[] | undefined;

/** Every method the benchmark can run, one adapter each. */
export function listMethodAdapters(): readonly MethodAdapter[] {
  adapters ??= [stl, ...weightingAdapters(), forkmerge, ...optionalAdapters()];
  return adapters;
}

/** The adapter for a method name (case-insensitive, aliases allowed); unknown names list what exists. */
export function findMethod(name: string): MethodAdapter {
  const key = String(name).toLowerCase();
  const found = listMethodAdapters().find((a) => a.name.toLowerCase() === key || a.aliases?.some((x) => x.toLowerCase() === key));
  if (!found) throw unknownName('method', name, listMethodAdapters().map((a) => a.name));
  return found;
}
