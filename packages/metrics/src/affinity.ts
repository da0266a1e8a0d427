import { MtlError } from '@mtl/core';
import { invalidOption, isArray } from '@mtl/core/internal';

/** A square inter-task affinity matrix: `matrix[source][target]`, e.g. Z(i → j) of TAG. */
export type AffinityMatrix = readonly (readonly number[])[];

/** Checks a matrix is square, non-empty and finite; returns its size. */
export function checkAffinity(matrix: AffinityMatrix, what = 'affinity matrix'): number {
  if (!isArray(matrix) || matrix.length === 0) throw new MtlError('EMPTY_DATA', `${what} has no rows`, { what });
  const n = matrix.length;
  matrix.forEach((row, i) => {
    if (!isArray(row) || row.length !== n) {
      throw new MtlError('SHAPE_MISMATCH', `${what} row ${i} has ${isArray(row) ? row.length : 'no'} entries; a ${n}×${n} matrix needs ${n}`, { what, row: i, expected: n });
    }
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new MtlError('INVALID_DATA', `${what}[${i}][${j}] is not a finite number (${String(v)})`, { what, row: i, column: j, value: v });
    });
  });
  return n;
}

/**
 * Divides column j by the diagonal entry M[j][j] (a task's effect on itself), so affinities onto
 * each target task are on a comparable scale — the normalisation of selective task group updates
 * before clustering. A zero diagonal entry is INVALID_DATA naming the task.
 */
export function normaliseAffinity(matrix: AffinityMatrix, names?: readonly string[]): number[][] {
  const n = checkAffinity(matrix);
  checkNames(names, n);
  for (let j = 0; j < n; j++) {
    if (matrix[j]![j] === 0) {
      const task = names ? `task "${names[j]}"` : `task ${j}`;
      throw new MtlError('INVALID_DATA', `diagonal affinity of ${task} is 0; cannot normalise its column`, { task: names?.[j] ?? j });
    }
  }
  return matrix.map((row) => row.map((v, j) => v / matrix[j]![j]!));
}

/** `(M + Mᵀ) / 2`: a symmetric affinity for clustering methods that need one. */
export function symmetriseAffinity(matrix: AffinityMatrix): number[][] {
  checkAffinity(matrix);
  return matrix.map((row, i) => row.map((v, j) => (v + matrix[j]![i]!) / 2));
}

export interface FormatAffinityOptions {
  /** Decimal places. Default 3. */
  readonly digits?: number;
}

/** A fixed-width text grid with task names on both axes (rows: source, columns: target). */
export function formatAffinity(matrix: AffinityMatrix, names?: readonly string[], options: FormatAffinityOptions = {}): string {
  const n = checkAffinity(matrix);
  checkNames(names, n);
  const digits = options.digits ?? 3;
  if (!Number.isInteger(digits) || digits < 0 || digits > 12) invalidOption('digits', digits, 'an integer in [0, 12]');
  const labels = names ? [...names] : Array.from({ length: n }, (_, i) => String(i));
  const cells = matrix.map((row) => row.map((v) => v.toFixed(digits)));
  const width = Math.max(...labels.map((l) => l.length), ...cells.flat().map((c) => c.length));
  const labelWidth = Math.max('source\\target'.length, ...labels.map((l) => l.length));
  const header = ['source\\target'.padEnd(labelWidth), ...labels.map((l) => l.padStart(width))].join('  ');
  const lines = cells.map((row, i) => [labels[i]!.padEnd(labelWidth), ...row.map((c) => c.padStart(width))].join('  '));
  return [header, ...lines].join('\n');
}

function checkNames(names: readonly string[] | undefined, n: number): void {
  if (names !== undefined && (!isArray(names) || names.length !== n)) {
    throw new MtlError('SHAPE_MISMATCH', `${isArray(names) ? names.length : 'no'} task names for a ${n}×${n} affinity matrix`, { expected: n });
  }
}
