import { MtlError, type UpdateRule } from '@mtl/core';
import { invalidOption } from '@mtl/core/internal';
import { compose } from './compose.js';
import { weightingAsAggregator } from './define.js';
import { toUpdateRule, type RuleOptions } from './rule.js';
import { COMMON_OPTION_KEYS, checkKnownOptions } from './validate.js';
import type { Aggregator, Weighting } from './types.js';
import { equalWeighting } from './methods/ew.js';
import { scalarize, type ScalarizeOptions } from './methods/scalarize.js';
import { dwa } from './methods/dwa.js';
import { rlw } from './methods/rlw.js';
import { uncertaintyWeighting } from './methods/uw.js';
import { pcgrad } from './methods/pcgrad.js';
import { gradvac } from './methods/gradvac.js';
import { mgda } from './methods/mgda.js';
import { cagrad } from './methods/cagrad.js';
import { imtl } from './methods/imtl.js';
import { nashMtl } from './methods/nash-mtl.js';
import { alignedMtl } from './methods/aligned-mtl.js';
import { upgrad } from './methods/upgrad.js';
import { gradnorm } from './methods/gradnorm.js';
import { gls } from './methods/gls.js';
import { stch } from './methods/stch.js';
import { famo } from './methods/famo.js';
import { imtlL } from './methods/imtl-l.js';
import { dualproj } from './methods/dualproj.js';
import { config } from './methods/config.js';
import { fairgrad } from './methods/fairgrad.js';
import { excessMtl } from './methods/excess-mtl.js';
import { dbMtl } from './methods/db-mtl.js';
import { moco } from './methods/moco.js';
import { graddrop } from './methods/graddrop.js';
import { modo } from './methods/modo.js';
import { sdmgrad } from './methods/sdmgrad.js';
import { krum } from './methods/krum.js';
import { trimmedMean } from './methods/trimmed-mean.js';

/** Options passed through to a method's factory (each method documents its own). */
export type MethodOptions = Readonly<Record<string, unknown>>;

/** A registry entry: a loss weighting (losses → weights) or a gradient aggregator (Jacobian → direction). */
export type MethodEntry =
  | { readonly kind: 'weighting'; readonly create: (options: MethodOptions) => Weighting<unknown> }
  | { readonly kind: 'aggregator'; readonly create: (options: MethodOptions) => Aggregator<unknown> };

/* eslint-disable @typescript-eslint/no-explicit-any -- factories take their own option types */
const weightingEntry = (create: (options: any) => Weighting<any>): MethodEntry => ({ kind: 'weighting', create });
const aggregatorEntry = (create: (options: any) => Aggregator<any>): MethodEntry => ({ kind: 'aggregator', create });
/* eslint-enable @typescript-eslint/no-explicit-any */

const entries = new Map<string, MethodEntry>([
  ['ew', weightingEntry(equalWeighting)],
  ['scalarize', weightingEntry((o: ScalarizeOptions) => scalarize(o))],
  ['dwa', weightingEntry(dwa)],
  ['rlw', weightingEntry(rlw)],
  ['uw', weightingEntry(uncertaintyWeighting)],
  ['pcgrad', aggregatorEntry(pcgrad)],
  ['gradvac', aggregatorEntry(gradvac)],
  ['mgda', aggregatorEntry(mgda)],
  ['mgda-ub', aggregatorEntry((o: MethodOptions) => mgda({ ...o, space: 'representation' }))],
  ['cagrad', aggregatorEntry(cagrad)],
  ['imtl', aggregatorEntry(imtl)],
  ['nash-mtl', aggregatorEntry(nashMtl)],
  ['aligned-mtl', aggregatorEntry(alignedMtl)],
  ['upgrad', aggregatorEntry(upgrad)],
  ['gradnorm', aggregatorEntry(gradnorm)],
  ['uw-pcgrad', aggregatorEntry((o: MethodOptions) => uwPcgrad(o))],
  ['gls', weightingEntry(gls)],
  ['geometric-mean', weightingEntry((o: MethodOptions) => ({ ...gls(o), name: 'geometric-mean' }))],
  ['stch', weightingEntry(stch)],
  ['famo', weightingEntry(famo)],
  ['imtl-l', weightingEntry(imtlL)],
  ['imtl-g', aggregatorEntry((o: MethodOptions) => ({ ...imtl({ ...o, lossScale: false }), name: 'imtl-g' }))],
  ['dualproj', aggregatorEntry(dualproj)],
  ['config', aggregatorEntry(config)],
  ['fairgrad', aggregatorEntry(fairgrad)],
  ['excess-mtl', aggregatorEntry(excessMtl)],
  ['db-mtl', aggregatorEntry(dbMtl)],
  ['moco', aggregatorEntry(moco)],
  ['graddrop', aggregatorEntry(graddrop)],
  ['modo', aggregatorEntry(modo)],
  ['sdmgrad', aggregatorEntry(sdmgrad)],
  ['krum', aggregatorEntry(krum)],
  ['trimmed-mean', aggregatorEntry(trimmedMean)],
]);

/** UW-PCGrad: UW's options (`init`, `optimizer`) go to UW, PCGrad's (`epsilon`) to PCGrad, the common ones to both. */
function uwPcgrad(options: MethodOptions): Aggregator<unknown> {
  checkKnownOptions('uw-pcgrad', options, ['init', 'optimizer', 'epsilon']);
  const pick = (keys: readonly string[]) => Object.fromEntries(Object.entries(options).filter(([k]) => keys.includes(k) || (COMMON_OPTION_KEYS as readonly string[]).includes(k)));
  return compose(uncertaintyWeighting(pick(['init', 'optimizer'])), pcgrad(pick(['epsilon'])));
}

function entry(name: string): MethodEntry {
  const e = typeof name === 'string' ? entries.get(name) : undefined;
  if (!e) {
    throw new MtlError('INVALID_OPTION', `unknown weighting method ${JSON.stringify(name)}; registered: ${[...entries.keys()].join(', ')}`, {
      option: 'method',
      value: name,
      known: [...entries.keys()],
    });
  }
  return e;
}

/**
 * Registers a method under `name` so apps can select it by name; another package can register its
 * own. Throws INVALID_OPTION if the name is taken, unless `replace` is set.
 */
export function registerMethod(name: string, method: MethodEntry, options: { replace?: boolean } = {}): void {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-_.+]*$/i.test(name)) invalidOption('name', name, 'a method name (letters, digits, - _ . +)');
  if (!method || (method.kind !== 'weighting' && method.kind !== 'aggregator') || typeof method.create !== 'function') {
    invalidOption('method', method, "{ kind: 'weighting' | 'aggregator', create(options) }");
  }
  if (entries.has(name) && !options.replace) {
    throw new MtlError('INVALID_OPTION', `method "${name}" is already registered (pass { replace: true } to override)`, { option: 'name', value: name });
  }
  entries.set(name, method);
}

/** Names of the registered methods and their kinds. */
export function listMethods(): { readonly name: string; readonly kind: MethodEntry['kind'] }[] {
  return [...entries].map(([name, e]) => ({ name, kind: e.kind }));
}

/** A registered method as an aggregator on the Jacobian (loss weightings combine the rows with their weights). */
export function createAggregator(name: string, options: MethodOptions = {}): Aggregator<unknown> {
  const e = entry(name);
  return e.kind === 'aggregator' ? e.create(options) : weightingAsAggregator(e.create(options));
}

/** A registered loss weighting (INVALID_OPTION for aggregators: they need the Jacobian). */
export function createWeighting(name: string, options: MethodOptions = {}): Weighting<unknown> {
  const e = entry(name);
  if (e.kind !== 'weighting') {
    throw new MtlError('INVALID_OPTION', `"${name}" is a gradient aggregator, not a loss weighting; use createAggregator or createRule`, { option: 'method', value: name });
  }
  return e.create(options);
}

/**
 * A registered method as a trainer rule, in one line: `new Trainer({ ..., rule: createRule('pcgrad', { seed: 1 }) })`.
 * Loss weightings cost one backward pass; aggregators one per task.
 */
export function createRule(name: string, options: MethodOptions & RuleOptions = {}): UpdateRule {
  const e = entry(name);
  // `space` is a rule option (MGDA's own `space` only names it MGDA-UB; the rule runs in the space given).
  const { representationForm, gramian, space: _space, ...methodOptions } = options;
  const ruleOptions: RuleOptions = {
    ...(options.space ? { space: options.space } : {}),
    ...(representationForm ? { representationForm } : {}),
    ...(gramian === undefined ? {} : { gramian }),
  };
  return e.kind === 'weighting' ? toUpdateRule(e.create(methodOptions)) : toUpdateRule(e.create(methodOptions), ruleOptions);
}
