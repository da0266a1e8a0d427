import { MtlError } from '@mtl/core';

/** Results of one method: task name → metric name → value. */
export type MetricTable = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** Whether a larger or a smaller value of a metric is better. */
export type Direction = 'higher' | 'lower';

/** task name → metric name → direction; must cover every metric of the tables it is used with. */
export type MetricDirections = Readonly<Record<string, Readonly<Record<string, Direction>>>>;

/** One (task, metric) column of a table. */
export interface MetricColumn {
  readonly task: string;
  readonly metric: string;
}

/** The (task, metric) columns of a table in insertion order; an empty table or task is EMPTY_DATA. */
export function tableColumns(table: MetricTable, what: string): MetricColumn[] {
  const columns: MetricColumn[] = [];
  const tasks = Object.keys(table);
  if (tasks.length === 0) throw new MtlError('EMPTY_DATA', `${what} has no tasks`, { what });
  for (const task of tasks) {
    const metrics = Object.keys(table[task]!);
    if (metrics.length === 0) throw new MtlError('MISSING_TARGET', `${what}: task "${task}" has no metrics`, { what, task });
    for (const metric of metrics) columns.push({ task, metric });
  }
  return columns;
}

/** A table's value, checked present and finite. */
export function tableValue(table: MetricTable, column: MetricColumn, what: string): number {
  const value = table[column.task]?.[column.metric];
  if (value === undefined) {
    throw new MtlError('SHAPE_MISMATCH', `${what} has no value for task "${column.task}", metric "${column.metric}"`, { what, ...column });
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MtlError('INVALID_DATA', `${what}: task "${column.task}", metric "${column.metric}" is not a finite number (${String(value)})`, { what, ...column, value });
  }
  return value;
}

/** A metric's direction, or SHAPE_MISMATCH naming the column that has none. */
export function directionOf(directions: MetricDirections, column: MetricColumn): Direction {
  const direction = directions[column.task]?.[column.metric];
  if (direction !== 'higher' && direction !== 'lower') {
    throw new MtlError('SHAPE_MISMATCH', `no direction ("higher" or "lower") for task "${column.task}", metric "${column.metric}"`, { ...column, direction });
  }
  return direction;
}

/**
 * Checks two tables have exactly the same tasks and metrics; returns the columns of the first.
 * A task or metric in one and not the other is SHAPE_MISMATCH naming it.
 */
export function alignTables(table: MetricTable, reference: MetricTable, names: { table: string; reference: string }): MetricColumn[] {
  const columns = tableColumns(table, names.table);
  const referenceColumns = tableColumns(reference, names.reference);
  for (const column of referenceColumns) tableValue(table, column, names.table);
  for (const column of columns) tableValue(reference, column, names.reference);
  return columns;
}
