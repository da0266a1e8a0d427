import { tf } from './tf.js';
import { MtlError, requireFiniteNumber } from './errors.js';

/**
 * A trainable tensor of a model with a stable `key` (e.g. `trunk/dense0/kernel`). The key, not the
 * tfjs variable name, identifies it in snapshots and checkpoints: tfjs needs globally unique variable
 * names, so two models (two ForkMerge branches) hold variables with different names but equal keys.
 * `task` is undefined for shared parameters.
 *
 * `tasks` names the tasks whose losses depend on the parameter (undefined: every task of the model):
 * a parameter shared by a group of tasks has two or more names there and no `task`; a task-specific
 * one has `task` (and `tasks` absent or `[task]`). See {@link parameterTasks} and {@link isSharedParameter}.
 */
export interface Parameter {
  readonly key: string;
  readonly variable: tf.Variable;
  /** The one task that owns this parameter (task-specific parameters only). */
  readonly task?: string | undefined;
  /** The tasks that use this parameter; undefined = all tasks of the model. */
  readonly tasks?: readonly string[] | undefined;
  /**
   * `'weight'` (the default when absent) or `'architecture'`: architecture parameters (CoNAL's
   * branch-point logits α) are never in `sharedParameters`, a task's `taskParameters`, the Jacobian
   * or the trainer's default update; a rule steps them with its own `Optimizer`. They are in
   * `model.parameters`, so snapshots and checkpoints carry them.
   */
  readonly role?: ParameterRole | undefined;
}

/** What a parameter is for: trained by the update rule (`weight`) or searched separately (`architecture`). */
export type ParameterRole = 'weight' | 'architecture';

/** True for the parameters the update rule trains (every parameter not marked `role: 'architecture'`). */
export function isWeightParameter(p: Parameter): boolean {
  return p.role !== 'architecture';
}

/** The tasks that use `parameter`, in the model's task order (`taskNames`). */
export function parameterTasks(parameter: Parameter, taskNames: readonly string[]): readonly string[] {
  if (parameter.tasks) return taskNames.filter((t) => parameter.tasks!.includes(t));
  if (parameter.task !== undefined) return [parameter.task];
  return taskNames;
}

/**
 * Whether a weight parameter belongs in the shared Jacobian: used by every task (`tasks` undefined and
 * no `task` — even in a one-task model, as with hard sharing) or by a named group of two or more tasks.
 */
export function isSharedParameter(parameter: Parameter): boolean {
  if (parameter.tasks) return parameter.tasks.length >= 2;
  return parameter.task === undefined;
}

/** Whether task `task`'s loss may depend on `parameter`. */
export function parameterUsedBy(parameter: Parameter, task: string): boolean {
  if (parameter.tasks) return parameter.tasks.includes(task);
  return parameter.task === undefined || parameter.task === task;
}

/** What holds a model's state: its parameters and its buffers (a `MultiTaskModel` is one). */
export interface ModelState {
  readonly parameters: readonly Parameter[];
  readonly buffers?: readonly Parameter[] | undefined;
}

/** A model's parameters then its buffers (BatchNorm statistics): what snapshots of a model carry. */
export function modelState(model: ModelState): Parameter[] {
  return [...model.parameters, ...(model.buffers ?? [])];
}

function stateList(source: readonly Parameter[] | ModelState): readonly Parameter[] {
  return Array.isArray(source) ? (source as readonly Parameter[]) : modelState(source as ModelState);
}

export interface ParameterShape {
  readonly key: string;
  readonly shape: readonly number[];
  readonly size: number;
  readonly offset: number;
}

/** The order, shapes and offsets of a list of parameters flattened into one vector. */
export class ParameterLayout {
  readonly entries: readonly ParameterShape[];
  readonly size: number;
  private readonly byKey: Map<string, ParameterShape>;

  constructor(shapes: readonly { key: string; shape: readonly number[] }[]) {
    let offset = 0;
    const entries: ParameterShape[] = [];
    for (const { key, shape } of shapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      entries.push({ key, shape: [...shape], size, offset });
      offset += size;
    }
    this.entries = entries;
    this.size = offset;
    this.byKey = new Map(entries.map((e) => [e.key, e]));
    if (this.byKey.size !== entries.length) {
      throw new MtlError('INVALID_OPTION', 'parameter keys must be unique', { keys: shapes.map((s) => s.key) });
    }
  }

  static of(params: readonly Parameter[]): ParameterLayout {
    return new ParameterLayout(params.map((p) => ({ key: p.key, shape: p.variable.shape })));
  }

  get keys(): string[] {
    return this.entries.map((e) => e.key);
  }

  entry(key: string): ParameterShape {
    const e = this.byKey.get(key);
    if (!e) throw new MtlError('INVALID_OPTION', `no parameter with key "${key}" in this layout`, { key });
    return e;
  }

  /** Concatenates tensors (by key; missing keys count as zeros) into one vector of `size`. */
  flatten(tensors: ReadonlyMap<string, tf.Tensor>): tf.Tensor1D {
    return tf.tidy(() =>
      tf.concat1d(
        this.entries.map((e) => {
          const t = tensors.get(e.key);
          if (!t) return tf.zeros<tf.Rank.R1>([e.size]);
          assertShape(e, t.shape);
          return tf.reshape<tf.Rank.R1>(t, [e.size]);
        }),
      ),
    );
  }

  /** Splits a vector of `size` back into tensors shaped like the parameters. */
  unflatten(flat: tf.Tensor1D): Map<string, tf.Tensor> {
    if (flat.size !== this.size) {
      throw new MtlError('SHAPE_MISMATCH', `vector has ${flat.size} numbers, the parameters ${this.size}`, {
        expected: this.size,
        actual: flat.size,
      });
    }
    const out = new Map<string, tf.Tensor>();
    for (const e of this.entries) out.set(e.key, tf.tidy(() => tf.reshape(tf.slice(flat, [e.offset], [e.size]), [...e.shape])));
    return out;
  }

  sameAs(other: ParameterLayout): boolean {
    return (
      this.entries.length === other.entries.length &&
      this.entries.every((e, i) => {
        const o = other.entries[i]!;
        return e.key === o.key && e.shape.length === o.shape.length && e.shape.every((d, j) => d === o.shape[j]);
      })
    );
  }
}

function assertShape(entry: ParameterShape, shape: readonly number[]): void {
  if (shape.length !== entry.shape.length || shape.some((d, i) => d !== entry.shape[i])) {
    throw new MtlError(
      'SHAPE_MISMATCH',
      `parameter "${entry.key}" has shape [${entry.shape.join(', ')}], got [${shape.join(', ')}]`,
      { key: entry.key, expected: entry.shape, actual: shape },
    );
  }
}

/** Plain-data form of a snapshot: what crosses to a worker thread or into a checkpoint file. */
export interface SnapshotData {
  readonly shapes: readonly { key: string; shape: readonly number[] }[];
  readonly values: Float32Array;
}

/**
 * An owned copy of named tensors (parameters or optimizer slots). ForkMerge, lookahead affinity
 * and group updates are all built from capture / restore / lerp. Call {@link dispose} when done.
 */
export class ParamSnapshot {
  private disposed = false;

  private constructor(
    readonly layout: ParameterLayout,
    private readonly tensors: Map<string, tf.Tensor>,
  ) {}

  /**
   * Copies the current values of `params`, or of a whole model: `capture(model)` takes its
   * parameters and its buffers (BatchNorm running statistics), so merges and restores carry both.
   */
  static capture(source: readonly Parameter[] | ModelState): ParamSnapshot {
    const params = stateList(source);
    const tensors = new Map<string, tf.Tensor>();
    for (const p of params) tensors.set(p.key, tf.keep(tf.clone(p.variable)));
    return new ParamSnapshot(ParameterLayout.of(params), tensors);
  }

  /** Takes ownership of the given tensors (they must not be disposed by the caller). */
  static fromTensors(entries: ReadonlyMap<string, tf.Tensor>): ParamSnapshot {
    const shapes = [...entries].map(([key, t]) => ({ key, shape: t.shape }));
    const tensors = new Map<string, tf.Tensor>();
    for (const [key, t] of entries) tensors.set(key, tf.keep(t));
    return new ParamSnapshot(new ParameterLayout(shapes), tensors);
  }

  static fromData(data: SnapshotData): ParamSnapshot {
    const layout = new ParameterLayout(data.shapes);
    if (data.values.length !== layout.size) {
      throw new MtlError('SHAPE_MISMATCH', `snapshot data has ${data.values.length} numbers, its shapes ${layout.size}`, {
        expected: layout.size,
        actual: data.values.length,
      });
    }
    const tensors = new Map<string, tf.Tensor>();
    for (const e of layout.entries) {
      tensors.set(e.key, tf.keep(tf.tensor(data.values.subarray(e.offset, e.offset + e.size), [...e.shape], 'float32')));
    }
    return new ParamSnapshot(layout, tensors);
  }

  get keys(): string[] {
    return this.layout.keys;
  }

  get(key: string): tf.Tensor {
    this.assertAlive();
    const t = this.tensors.get(key);
    if (!t) throw new MtlError('INVALID_OPTION', `snapshot has no entry "${key}"`, { key, keys: this.keys });
    return t;
  }

  /**
   * Writes the stored values into `params` (matched by key; every parameter must be present), or
   * into a whole model's parameters and buffers (`restore(model)`).
   */
  restore(target: readonly Parameter[] | ModelState): void {
    const params = stateList(target);
    this.assertAlive();
    tf.tidy(() => {
      for (const p of params) {
        const value = this.get(p.key);
        assertShape(this.layout.entry(p.key), p.variable.shape);
        p.variable.assign(value);
      }
    });
  }

  /** All values in one Float32Array, in layout order. */
  flatten(): Float32Array {
    this.assertAlive();
    const out = new Float32Array(this.layout.size);
    for (const e of this.layout.entries) out.set(this.tensors.get(e.key)!.dataSync(), e.offset);
    return out;
  }

  toData(): SnapshotData {
    return { shapes: this.layout.entries.map((e) => ({ key: e.key, shape: e.shape })), values: this.flatten() };
  }

  clone(): ParamSnapshot {
    this.assertAlive();
    const tensors = new Map<string, tf.Tensor>();
    for (const [key, t] of this.tensors) tensors.set(key, tf.keep(tf.clone(t)));
    return new ParamSnapshot(this.layout, tensors);
  }

  /** `(1 - λ) a + λ b`, a new snapshot. λ = 0 and λ = 1 return exact copies of a and b. */
  static lerp(a: ParamSnapshot, b: ParamSnapshot, lambda: number): ParamSnapshot {
    requireFiniteNumber('lambda', lambda);
    if (lambda === 0) return a.clone();
    if (lambda === 1) return b.clone();
    return ParamSnapshot.weightedSum([a, b], [1 - lambda, lambda]);
  }

  /** `Σ_i w_i s_i` over snapshots with equal layouts (merge weights Λ of multi-branch ForkMerge). */
  static weightedSum(snapshots: readonly ParamSnapshot[], weights: readonly number[]): ParamSnapshot {
    if (snapshots.length === 0 || snapshots.length !== weights.length) {
      throw new MtlError('INVALID_OPTION', `need one weight per snapshot: ${snapshots.length} snapshots, ${weights.length} weights`, {
        snapshots: snapshots.length,
        weights: weights.length,
      });
    }
    weights.forEach((w, i) => requireFiniteNumber(`weights[${i}]`, w));
    const first = snapshots[0]!;
    for (const s of snapshots) {
      s.assertAlive();
      if (!s.layout.sameAs(first.layout)) {
        throw new MtlError('SHAPE_MISMATCH', 'snapshots have different parameter layouts', {
          expected: first.keys,
          actual: s.keys,
        });
      }
    }
    const nonZero = weights.map((w, i) => [w, i] as const).filter(([w]) => w !== 0);
    if (nonZero.length === 1 && nonZero[0]![0] === 1) return snapshots[nonZero[0]![1]]!.clone();
    const tensors = new Map<string, tf.Tensor>();
    for (const key of first.keys) {
      tensors.set(
        key,
        tf.keep(
          tf.tidy(() =>
            tf.addN(snapshots.map((s, i) => tf.mul(s.tensors.get(key)!, tf.scalar(weights[i]!)))),
          ),
        ),
      );
    }
    return new ParamSnapshot(first.layout, tensors);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }

  private assertAlive(): void {
    if (this.disposed) throw new MtlError('DISPOSED', 'this snapshot was disposed');
  }
}
