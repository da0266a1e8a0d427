import { tf } from '../tf.js';
import { unknownTask } from '../tasks.js';
import { MtlError } from '../errors.js';
import { isWeightParameter, type Parameter, type ParameterRole } from '../parameters.js';

/**
 * A network with shared parameters and task-specific parameters. The split into `represent`
 * (the shared trunk, producing the shared representation z) and `head` (one task's output from z)
 * lets per-task gradients be taken w.r.t. z (one backward through the trunk) or w.r.t. the shared
 * parameters (exact).
 */
export interface MultiTaskModel {
  readonly taskNames: readonly string[];
  /** Shape of one input example. */
  readonly inputShape: readonly number[];
  /** Every parameter, architecture parameters included (what snapshots and checkpoints carry). */
  readonly parameters: readonly Parameter[];
  /** Weight parameters used by every task (no `task`); never architecture parameters. */
  readonly sharedParameters: readonly Parameter[];
  /**
   * Parameters marked `role: 'architecture'` (CoNAL's α): outside `sharedParameters`, `taskParameters`,
   * the Jacobian and the default update. Absent or empty for models without any.
   */
  readonly architectureParameters?: readonly Parameter[];
  /** One task's own weight parameters (never architecture parameters). */
  taskParameters(task: string): readonly Parameter[];
  /** The shared representation of a batch. */
  represent(x: tf.Tensor): tf.Tensor;
  /** One task's prediction from the shared representation (MMoE gates also read the input `x`). */
  head(task: string, z: tf.Tensor, x: tf.Tensor): tf.Tensor;
  /** Every task's prediction. */
  forward(x: tf.Tensor): Record<string, tf.Tensor>;
  /** A fresh model with the same architecture and its own variables, initialised to this one's values. */
  clone(): MultiTaskModel;
  dispose(): void;
}

/** A differentiable function with its parameters. */
export interface Module {
  readonly parameters: readonly Parameter[];
  apply(input: tf.Tensor, x: tf.Tensor): tf.Tensor;
}

/** Builds a model's modules from a parameter factory, so `clone` can rebuild them. */
export type ModuleFactory = (make: ParameterFactory) => { trunk: Module; heads: Record<string, Module> };

/** Makes a model parameter; `options.role: 'architecture'` marks an architecture parameter (see {@link Parameter.role}). */
export type ParameterFactory = (key: string, initial: tf.Tensor, task?: string, options?: { readonly role?: ParameterRole }) => Parameter;

let modelCounter = 0;

/** A model assembled from a trunk module and one head module per task. */
export class ComposedModel implements MultiTaskModel {
  readonly taskNames: readonly string[];
  readonly parameters: readonly Parameter[];
  readonly sharedParameters: readonly Parameter[];
  readonly architectureParameters: readonly Parameter[];
  private readonly trunk: Module;
  private readonly heads: Record<string, Module>;
  private disposed = false;

  constructor(
    readonly inputShape: readonly number[],
    private readonly factory: ModuleFactory,
  ) {
    const id = ++modelCounter;
    const made: Parameter[] = [];
    const make: ParameterFactory = (key, initial, task, options) => {
      const variable = tf.variable(initial, true, `mtl${id}/${key}`);
      initial.dispose();
      const p: Parameter = options?.role === 'architecture' ? { key, variable, task, role: 'architecture' } : { key, variable, task };
      made.push(p);
      return p;
    };
    const { trunk, heads } = factory(make);
    this.trunk = trunk;
    this.heads = heads;
    this.taskNames = Object.keys(heads);
    this.parameters = made;
    this.sharedParameters = made.filter((p) => p.task === undefined && isWeightParameter(p));
    this.architectureParameters = made.filter((p) => !isWeightParameter(p));
  }

  taskParameters(task: string): readonly Parameter[] {
    this.requireTask(task);
    return this.parameters.filter((p) => p.task === task && isWeightParameter(p));
  }

  represent(x: tf.Tensor): tf.Tensor {
    this.assertAlive();
    return this.trunk.apply(x, x);
  }

  head(task: string, z: tf.Tensor, x: tf.Tensor): tf.Tensor {
    return this.requireTask(task).apply(z, x);
  }

  forward(x: tf.Tensor): Record<string, tf.Tensor> {
    const z = this.represent(x);
    const out: Record<string, tf.Tensor> = {};
    for (const task of this.taskNames) out[task] = this.head(task, z, x);
    return out;
  }

  clone(): MultiTaskModel {
    this.assertAlive();
    const copy = new ComposedModel(this.inputShape, this.factory);
    tf.tidy(() => copy.parameters.forEach((p, i) => p.variable.assign(this.parameters[i]!.variable)));
    return copy;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.parameters) p.variable.dispose();
  }

  private requireTask(task: string): Module {
    this.assertAlive();
    const head = this.heads[task];
    if (!head) throw unknownTask(task, this.taskNames);
    return head;
  }

  private assertAlive(): void {
    if (this.disposed) throw new MtlError('DISPOSED', 'this model was disposed');
  }
}
