import { MtlError, matrixFromRows, type Matrix } from '@mtl/core';
import { anyValue, checkOptions, invalidOption, type OptionSpec } from '@mtl/core/internal';
import type { JacobianInput, MethodInput, Normalize } from './types.js';

/** Turns plain rows into a {@link Matrix} and checks shape and finiteness. */
export function checkJacobian(method: string, jacobian: JacobianInput, minTasks = 1): Matrix {
  const g: Matrix = Array.isArray(jacobian) ? matrixFromRows(jacobian as readonly number[][]) : (jacobian as Matrix);
  if (!g || typeof g.rows !== 'number' || typeof g.cols !== 'number' || !g.data) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}": the Jacobian must be a Matrix or an array of rows`, { method });
  }
  if (!Number.isInteger(g.rows) || !Number.isInteger(g.cols) || g.rows < 1 || g.cols < 1 || g.data.length !== g.rows * g.cols) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}": a ${g.rows} x ${g.cols} Jacobian needs ${g.rows * g.cols} numbers, got ${g.data.length}`, {
      method,
      rows: g.rows,
      cols: g.cols,
      length: g.data.length,
    });
  }
  if (g.rows < minTasks) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}" needs at least ${minTasks} tasks, got ${g.rows}`, { method, expected: minTasks, actual: g.rows });
  }
  const { data } = g;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      const row = Math.floor(i / g.cols);
      throw new MtlError('NON_FINITE_GRADIENT', `"${method}": gradient of task ${row} has a non-finite entry (${data[i]}) at column ${i % g.cols}`, {
        method,
        taskIndex: row,
        column: i % g.cols,
        value: data[i],
      });
    }
  }
  return g;
}

/** Checks a T x T Gramian (square, finite, symmetric to rounding, non-negative diagonal); returns it row-major. */
export function checkGramian(method: string, gramian: JacobianInput, minTasks = 1): Float64Array {
  const m = checkJacobian(method, gramian, minTasks);
  if (m.rows !== m.cols) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}": a Gramian must be square (T x T), got ${m.rows} x ${m.cols}`, { method, rows: m.rows, cols: m.cols });
  }
  const T = m.rows;
  const a = Float64Array.from(m.data);
  let scale = 0;
  for (let i = 0; i < T; i++) scale = Math.max(scale, Math.abs(a[i * T + i]!));
  for (let i = 0; i < T; i++) {
    if (a[i * T + i]! < 0) {
      throw new MtlError('INVALID_DATA', `"${method}": Gramian diagonal entry ${i} is negative (${a[i * T + i]}); expected G Gᵀ`, { method, taskIndex: i, value: a[i * T + i] });
    }
    for (let j = i + 1; j < T; j++) {
      if (Math.abs(a[i * T + j]! - a[j * T + i]!) > 1e-6 * scale) {
        throw new MtlError('INVALID_DATA', `"${method}": Gramian is not symmetric at (${i}, ${j}): ${a[i * T + j]} vs ${a[j * T + i]}`, { method, row: i, column: j });
      }
      // Symmetrise float32 rounding so the result does not depend on which triangle was rounded.
      const v = 0.5 * (a[i * T + j]! + a[j * T + i]!);
      a[i * T + j] = v;
      a[j * T + i] = v;
    }
  }
  return a;
}

/** Checks there is one finite loss per task. */
export function checkLosses(method: string, input: MethodInput | undefined, numTasks: number): readonly number[] {
  const given: unknown = input?.losses;
  if (!Array.isArray(given)) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}": input.losses must be an array of ${numTasks} numbers`, { method, expected: numTasks });
  }
  const losses = given as readonly number[];
  if (losses.length !== numTasks) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}": ${losses.length} losses for ${numTasks} tasks`, { method, expected: numTasks, actual: losses.length });
  }
  const bad = losses.findIndex((l) => typeof l !== 'number' || !Number.isFinite(l));
  if (bad >= 0) {
    throw new MtlError('NON_FINITE_LOSS', `"${method}": loss of task ${bad} is ${losses[bad]}`, { method, taskIndex: bad, value: losses[bad] });
  }
  return losses;
}

/** Checks a P-sized state array (T x P, row-major) matches this Jacobian: a resumed state for another model is an error, not silently reset. */
export function checkStateSize(method: string, field: string, values: readonly number[], expected: number): readonly number[] {
  if (values.length !== expected) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}": state.${field} has ${values.length} numbers, this Jacobian needs ${expected} (T x P); was the state made for another model?`, {
      method,
      field,
      expected,
      actual: values.length,
    });
  }
  return values;
}

/** Checks a state carries the task count it was made for. */
export function checkStateTasks(method: string, stateTasks: number, numTasks: number): void {
  if (stateTasks !== numTasks) {
    throw new MtlError('SHAPE_MISMATCH', `"${method}": state was made for ${stateTasks} tasks, the Jacobian has ${numTasks}`, {
      method,
      expected: stateTasks,
      actual: numTasks,
    });
  }
}

export function checkNormalize(value: unknown): Normalize {
  if (value === undefined) return 'libmtl';
  if (value !== 'libmtl' && value !== 'sum' && value !== 'mean') invalidOption('normalize', value, "'libmtl', 'sum' or 'mean'");
  return value;
}

/** Factor turning a method's native scale into the requested one. */
export function scaleFactor(native: 'sum' | 'mean', normalize: Normalize, numTasks: number): number {
  if (normalize === 'libmtl' || normalize === native) return 1;
  return normalize === 'mean' ? 1 / numTasks : numTasks;
}

export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalidOption(option, value, allowed.map((a) => `'${a}'`).join(' | '));
  }
  return value as T;
}

export function checkBoolean(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') invalidOption(option, value, 'a boolean');
  return value;
}

/**
 * Rejects unknown option keys (`{ C: -1 }` for `c`) and runs `spec`'s validators, naming the key;
 * the options every method shares (normalize, seed, random) are accepted here and checked by
 * defineAggregator / defineWeighting, and so is `space`, which `createRule` hands every method.
 */
export function checkMethodOptions(method: string, options: object | undefined, spec: OptionSpec): void {
  checkOptions(options, { normalize: anyValue, seed: anyValue, random: anyValue, space: anyValue, ...spec }, `${method}()`);
}

/** The options every method accepts (see CommonOptions). */
export const COMMON_OPTION_KEYS = ['normalize', 'seed', 'random'] as const;

/** Unknown option keys are INVALID_OPTION errors naming the key (core's `checkOptions`: with a "did you mean" hint). */
export function checkKnownOptions(method: string, options: object | undefined, keys: readonly string[], common: readonly string[] = COMMON_OPTION_KEYS): void {
  checkOptions(options, Object.fromEntries([...keys, ...common].map((k) => [k, anyValue])), `${method}()`);
}
