import { MtlError, tf, unknownTask } from '@mtl/core';
import type { MultiTaskModel, Parameter } from '@mtl/core';

/**
 * A parameter as the core contracts describe it (issues 12/13): `tasks` names the tasks of a
 * parameter shared by a group, `role: 'architecture'` marks CoNAL's α. Declared here as an
 * extension of core's `Parameter` so this package works with a core that has not got the fields yet.
 */
export interface ConalParameter extends Parameter {
  readonly tasks?: readonly string[] | undefined;
  readonly role?: 'weight' | 'architecture' | undefined;
}

/** Who uses a parameter: one task (`task`), a group (`tasks`, two or more), or everyone (neither). */
export interface ParameterOwner {
  readonly task?: string;
  readonly tasks?: readonly string[];
  readonly role?: 'architecture';
}

export type MakeParameter = (key: string, initial: tf.Tensor, owner?: ParameterOwner) => ConalParameter;

/** What a model's build function returns: the shared computation and each task's head. */
export interface BuiltParts {
  represent(x: tf.Tensor): tf.Tensor;
  readonly heads: Readonly<Record<string, (z: tf.Tensor, x: tf.Tensor) => tf.Tensor>>;
}

let modelCounter = 0;

/**
 * A {@link MultiTaskModel} from a build function (run again by {@link clone}). Shared parameters are
 * the weights with no single owning task (used by all tasks or by a group of ≥ 2); architecture
 * parameters are in `parameters` (snapshots carry them) but never in `sharedParameters` or
 * `taskParameters`, so per-task gradients and the default update leave them alone.
 */
export class BuiltModel implements MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly parameters: readonly ConalParameter[];
  readonly sharedParameters: readonly ConalParameter[];
  readonly architectureParameters: readonly ConalParameter[];
  private readonly parts: BuiltParts;
  private disposed = false;

  constructor(
    readonly inputShape: readonly number[],
    private readonly build: (make: MakeParameter) => BuiltParts,
  ) {
    const id = ++modelCounter;
    const made: ConalParameter[] = [];
    const make: MakeParameter = (key, initial, owner = {}) => {
      const variable = tf.variable(initial, true, `conal${id}/${key}`);
      initial.dispose();
      const p: ConalParameter = {
        key,
        variable,
        task: owner.task,
        ...(owner.tasks ? { tasks: [...owner.tasks] } : {}),
        ...(owner.role ? { role: owner.role } : {}),
      };
      made.push(p);
      return p;
    };
    this.parts = build(make);
    this.taskNames = Object.keys(this.parts.heads);
    this.parameters = made;
    this.architectureParameters = made.filter((p) => p.role === 'architecture');
    this.sharedParameters = made.filter((p) => p.role !== 'architecture' && p.task === undefined);
  }

  /** Every parameter the update rule trains (architecture parameters excluded). */
  get weightParameters(): readonly ConalParameter[] {
    return this.parameters.filter((p) => p.role !== 'architecture');
  }

  /** Number of trainable numbers; architecture parameters are counted only when asked. */
  parameterCount(options: { architecture?: boolean } = {}): number {
    return this.parameters.filter((p) => options.architecture || p.role !== 'architecture').reduce((s, p) => s + p.variable.size, 0);
  }

  taskParameters(task: string): readonly Parameter[] {
    this.requireHead(task);
    return this.parameters.filter((p) => p.task === task && p.role !== 'architecture');
  }

  represent(x: tf.Tensor): tf.Tensor {
    this.assertAlive();
    return this.parts.represent(x);
  }

  head(task: string, z: tf.Tensor, x: tf.Tensor): tf.Tensor {
    return this.requireHead(task)(z, x);
  }

  forward(x: tf.Tensor): Record<string, tf.Tensor> {
    const z = this.represent(x);
    const out: Record<string, tf.Tensor> = {};
    for (const task of this.taskNames) out[task] = this.head(task, z, x);
    return out;
  }

  clone(): this {
    this.assertAlive();
    const copy = this.rebuild() as this;
    tf.tidy(() => copy.parameters.forEach((p, i) => p.variable.assign(this.parameters[i]!.variable)));
    return copy;
  }

  /** A fresh model of the same class and architecture (subclasses override to keep their type). */
  protected rebuild(): BuiltModel {
    return new BuiltModel(this.inputShape, this.build);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.parameters) p.variable.dispose();
  }

  protected requireHead(task: string): (z: tf.Tensor, x: tf.Tensor) => tf.Tensor {
    this.assertAlive();
    const head = this.parts.heads[task];
    if (!head) throw unknownTask(task, this.taskNames);
    return head;
  }

  protected assertAlive(): void {
    if (this.disposed) throw new MtlError('DISPOSED', 'this model was disposed');
  }
}

/** Flattens each feature map to [batch, n] and concatenates them: the shared representation z. */
export function concatFeatures(features: readonly tf.Tensor[]): tf.Tensor {
  const flat = features.map((f) => (f.shape.length === 2 ? f : tf.reshape(f, [f.shape[0], -1])));
  return flat.length === 1 ? flat[0]! : tf.concat(flat, 1);
}

/** Cuts feature `index` (shape `shapes[index]` per example) back out of z. */
export function sliceFeature(z: tf.Tensor, shapes: readonly (readonly number[])[], index: number): tf.Tensor {
  let offset = 0;
  for (let i = 0; i < index; i++) offset += shapes[i]!.reduce((a, b) => a * b, 1);
  const size = shapes[index]!.reduce((a, b) => a * b, 1);
  const flat = shapes.length === 1 ? z : tf.slice(z, [0, offset], [-1, size]);
  return shapes[index]!.length === 1 ? flat : tf.reshape(flat, [z.shape[0], ...shapes[index]!]);
}
