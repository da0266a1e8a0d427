import { MtlError } from '@mtl/core';

/** JSON form of an {@link AffinityAverage} (goes into checkpoints). */
export interface AffinityAverageState {
  readonly tasks: readonly string[];
  readonly sum: readonly (readonly number[])[];
  readonly count: readonly (readonly number[])[];
  readonly measurements: number;
}

/**
 * The mean of measured affinity matrices, entry by entry: an entry that is undefined in one
 * measurement (NaN: L_j ≤ 0, or a lookahead that diverged) is left out of that entry's mean only.
 */
export class AffinityAverage {
  private names: readonly string[] = [];
  private sums: number[][] = [];
  private counts: number[][] = [];
  private total = 0;

  /** Task names, in matrix order (empty before the first measurement). */
  get tasks(): readonly string[] {
    return this.names;
  }

  /** Number of matrices averaged. */
  get measurements(): number {
    return this.total;
  }

  add(tasks: readonly string[], matrix: readonly (readonly number[])[]): void {
    if (this.total === 0 && this.names.length === 0) {
      this.names = [...tasks];
      this.sums = tasks.map(() => new Array<number>(tasks.length).fill(0));
      this.counts = tasks.map(() => new Array<number>(tasks.length).fill(0));
    } else if (tasks.length !== this.names.length || tasks.some((t, i) => t !== this.names[i])) {
      throw new MtlError('SHAPE_MISMATCH', `affinity measured for tasks [${tasks.join(', ')}] cannot be averaged with [${this.names.join(', ')}]`, {
        expected: this.names,
        actual: tasks,
      });
    }
    matrix.forEach((row, i) =>
      row.forEach((v, j) => {
        if (Number.isNaN(v)) return;
        this.sums[i]![j]! += v;
        this.counts[i]![j]!++;
      }),
    );
    this.total++;
  }

  /** The averaged matrix, `[source][target]`; NaN for an entry never measured. */
  mean(): number[][] {
    return this.sums.map((row, i) => row.map((s, j) => (this.counts[i]![j]! > 0 ? s / this.counts[i]![j]! : NaN)));
  }

  getState(): AffinityAverageState {
    return { tasks: [...this.names], sum: this.sums.map((r) => [...r]), count: this.counts.map((r) => [...r]), measurements: this.total };
  }

  setState(state: AffinityAverageState): void {
    const T = state?.tasks?.length;
    const square = (m: unknown) => Array.isArray(m) && m.length === T && m.every((r) => Array.isArray(r) && r.length === T);
    if (!Array.isArray(state?.tasks) || !square(state.sum) || !square(state.count) || typeof state.measurements !== 'number') {
      throw new MtlError('CHECKPOINT', 'affinity state is not {tasks, sum, count, measurements} with T x T matrices', { state: typeof state });
    }
    this.names = [...(state.tasks as readonly string[])];
    this.sums = state.sum.map((r) => [...r]);
    this.counts = state.count.map((r) => [...r]);
    this.total = state.measurements;
  }
}
