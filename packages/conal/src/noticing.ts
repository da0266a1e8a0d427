import { MtlError } from '@mtl/core';
import type { Matrix } from '@mtl/core';

/** Where one all-shared module's parameters sit in the flattened shared-parameter vector. */
export interface ModuleColumns {
  readonly offset: number;
  readonly size: number;
}

export interface NoticingResult {
  /** The gradient to apply to the shared parameters: Σ_t grad_t on kept modules, 0 elsewhere. */
  readonly direction: Float64Array;
  /** Per shared module, in network order: true when its summed gradient was kept. */
  readonly kept: readonly boolean[];
  /** Index of the first module with a conflicting pair, or -1 when none conflicts (or noticing is off). */
  readonly firstConflict: number;
  /** The first conflicting task pair found on `firstConflict` (row indices), if any. */
  readonly conflictingPair?: readonly [number, number];
}

/**
 * Conflict noticing, Eq. (5) of the CoNAL paper, on plain numbers. `jacobian` row t is task t's
 * gradient w.r.t. the all-shared parameters; `modules` lists each all-shared module's columns in
 * network order (input side first). Module p keeps Σ_t grad_t^(p) only if every pair of tasks has a
 * non-negative cosine on every module p' ≤ p; otherwise p and every later module get 0.
 *
 * cos(a, b) ≥ 0 ⇔ a·b ≥ 0 when both are non-zero; a zero gradient has no direction and is treated
 * as not conflicting (its dot product is 0), as the authors' `NOCLGrad` does (it tests `g_i·g_j < 0`).
 *
 * `noticing: false` returns the plain sum on every module: the behaviour of the released code,
 * which defines this rule (`NOCLGrad._project_conflicting`) but never calls it. Note also that the
 * released rule, had it been called, zeroes only the conflicting module, not the later ones; we
 * follow the paper's "this and successive all-shared modules".
 *
 * Columns not covered by any module are summed as usual (they belong to no all-shared module).
 */
export function noticeConflicts(jacobian: Matrix, modules: readonly ModuleColumns[], options: { noticing?: boolean } = {}): NoticingResult {
  const { rows, cols, data } = jacobian;
  if (data.length !== rows * cols) {
    throw new MtlError('SHAPE_MISMATCH', `jacobian data has ${data.length} numbers for ${rows}x${cols}`, { expected: rows * cols, actual: data.length });
  }
  checkModules(modules, cols);
  const direction = new Float64Array(cols);
  for (let t = 0; t < rows; t++) for (let c = 0; c < cols; c++) direction[c]! += data[t * cols + c]!;
  const kept = modules.map(() => true);
  if (options.noticing === false) return { direction, kept, firstConflict: -1 };

  for (let p = 0; p < modules.length; p++) {
    const pair = firstConflictingPair(jacobian, modules[p]!);
    if (pair) {
      for (let q = p; q < modules.length; q++) {
        kept[q] = false;
        const { offset, size } = modules[q]!;
        direction.fill(0, offset, offset + size);
      }
      return { direction, kept, firstConflict: p, conflictingPair: pair };
    }
  }
  return { direction, kept, firstConflict: -1 };
}

/**
 * The same rule on gradients already split by task and module: `gradients[t][p]` is task t's
 * gradient on all-shared module p. Returns the per-module gradient to apply (summed or zero).
 */
export function noticeConflictsByModule(
  gradients: readonly (readonly ArrayLike<number>[])[],
  options: { noticing?: boolean } = {},
): { readonly moduleGradients: readonly Float64Array[]; readonly kept: readonly boolean[]; readonly firstConflict: number } {
  if (gradients.length === 0) throw new MtlError('SHAPE_MISMATCH', 'need the gradients of at least one task', { tasks: 0 });
  const sizes = gradients[0]!.map((g) => g.length);
  gradients.forEach((task, t) => {
    if (task.length !== sizes.length) {
      throw new MtlError('SHAPE_MISMATCH', `task ${t} has gradients for ${task.length} modules, task 0 for ${sizes.length}`, { task: t, expected: sizes.length, actual: task.length });
    }
    task.forEach((g, p) => {
      if (g.length !== sizes[p]) {
        throw new MtlError('SHAPE_MISMATCH', `task ${t}, module ${p}: gradient of ${g.length} numbers, task 0 has ${sizes[p]}`, { task: t, module: p, expected: sizes[p], actual: g.length });
      }
    });
  });
  const modules: ModuleColumns[] = [];
  let offset = 0;
  for (const size of sizes) {
    modules.push({ offset, size });
    offset += size;
  }
  const data = new Float64Array(gradients.length * offset);
  gradients.forEach((task, t) => task.forEach((g, p) => data.set(Array.from(g), t * offset + modules[p]!.offset)));
  const result = noticeConflicts({ rows: gradients.length, cols: offset, data }, modules, options);
  return {
    moduleGradients: modules.map((m) => result.direction.slice(m.offset, m.offset + m.size)),
    kept: result.kept,
    firstConflict: result.firstConflict,
  };
}

function firstConflictingPair(jacobian: Matrix, module: ModuleColumns): [number, number] | undefined {
  const { rows, cols, data } = jacobian;
  for (let i = 0; i < rows; i++) {
    for (let j = i + 1; j < rows; j++) {
      let dot = 0;
      for (let c = module.offset; c < module.offset + module.size; c++) dot += data[i * cols + c]! * data[j * cols + c]!;
      if (dot < 0) return [i, j];
    }
  }
  return undefined;
}

function checkModules(modules: readonly ModuleColumns[], cols: number): void {
  let end = 0;
  modules.forEach((m, p) => {
    if (!Number.isInteger(m.offset) || !Number.isInteger(m.size) || m.size < 0 || m.offset < end || m.offset + m.size > cols) {
      throw new MtlError('SHAPE_MISMATCH', `module ${p} covers columns [${m.offset}, ${m.offset + m.size}) of a ${cols}-column jacobian; modules must be in order and not overlap`, {
        module: p,
        offset: m.offset,
        size: m.size,
        cols,
      });
    }
    end = m.offset + m.size;
  });
}
