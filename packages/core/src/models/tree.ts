import type { tf } from '../tf.js';
import { MtlError, invalidOption, isArray, requirePositiveInteger } from '../errors.js';
import { requireBackend } from '../backend.js';
import { SeededRandom } from '../random.js';
import { describeArchitecture, validateTaskOutputs, type TaskOutput } from './describe.js';
import { ComposedModel, type ApplyContext, type Module, type MultiTaskModel } from './model.js';
import { denseLayer, flattenLayer, type Layer, type LayerTasks } from './layers.js';
import { buildLayers, type LayerSpec } from './specs.js';

/** One module of a tree-shaped model. */
export interface TreeModuleSpec {
  /** Unique name: the feature point of its output and the prefix of its parameter keys. */
  readonly name: string;
  /** The module whose output it reads, or 'input' (default). Must be listed earlier. */
  readonly parent?: string;
  /** The tasks that use it (a subset of its parent's). Default: every task. */
  readonly tasks?: readonly string[];
  readonly layers: readonly LayerSpec[];
}

export interface TreeModelOptions {
  /** Shape of one example. */
  readonly inputShape: readonly number[];
  readonly tasks: readonly TaskOutput[];
  /** The modules, parents before children. */
  readonly modules: readonly TreeModuleSpec[];
  readonly seed?: number;
}

const TREE_KEYS = ['inputShape', 'tasks', 'modules', 'seed'];
const MODULE_KEYS = ['name', 'parent', 'tasks', 'layers'];
const INPUT = 'input';

/**
 * A tree of modules, each used by a set of tasks: all-shared, shared by a group, task-specific
 * (CoNAL's derived networks, TAG's groups, hard sharing as the one-trunk special case). Each task's
 * modules form one path from the input; its output layer `out/<task>` (linear, `outputSize` units,
 * the features flattened first) reads the last of them. Every parameter knows its tasks
 * (`Parameter.tasks`): a module used by every task gives shared parameters, by a group `tasks` of
 * that group, by one task task-specific ones.
 *
 * The shared representation z (`represent`) is the output of the chain of modules every task uses,
 * from the input; a task's `head` is the rest of its path. `features(x)` returns every module's
 * output (and 'input') from one pass: CoNAL mixes the paths branching at each point.
 */
export function treeModel(options: TreeModelOptions): TreeModel {
  requireBackend('treeModel');
  const plan = planTree(options);
  const seed = options.seed ?? 0;
  const architecture = describeArchitecture('tree', { ...options, seed });
  return new ComposedModel([...plan.inputShape], (make, buffer) => {
    const rng = new SeededRandom(seed);
    const built = new Map<string, { module: TreeModuleSpec; layers: Layer[]; parameters: Module['parameters']; buffers: Module['buffers'] }>();
    const shapes = new Map<string, readonly number[]>([[INPUT, plan.inputShape]]);
    for (const m of plan.modules) {
      const tasks: LayerTasks = m.tasks.length === plan.taskNames.length ? undefined : m.tasks.length === 1 ? m.tasks[0] : m.tasks;
      const { layers, outputShape } = buildLayers({ make, buffer, rng }, m.name, shapes.get(m.parent)!, m.layers, tasks, `modules.${m.name}.layers`);
      shapes.set(m.name, outputShape);
      built.set(m.name, { module: m, layers, parameters: layers.flatMap((l) => l.parameters), buffers: layers.flatMap((l) => l.buffers ?? []) });
    }
    const outputs = new Map<string, Layer>();
    for (const task of plan.tasks) {
      const from = plan.paths.get(task.name)!.at(-1) ?? INPUT;
      const width = shapes.get(from)!.reduce((a, b) => a * b, 1);
      const dense = denseLayer(make, rng, `out/${task.name}`, width, task.outputSize, 'linear', task.name);
      const flatten = shapes.get(from)!.length > 1 ? flattenLayer() : undefined;
      outputs.set(task.name, { parameters: dense.parameters, apply: (h) => dense.apply(flatten ? flatten.apply(h) : h) });
    }
    const run = (names: readonly string[], input: tf.Tensor, context: ApplyContext | undefined) =>
      names.reduce((h, name) => built.get(name)!.layers.reduce((y, layer) => layer.apply(y, context), h), input);
    const modulesOf = (names: readonly string[]) => names.map((n) => built.get(n)!);
    /** The trunk made of the first `k` shared modules, and the heads running the rest. */
    const splitAfter = (k: number) => {
      const shared = plan.trunk.slice(0, k);
      const trunk: Module = {
        parameters: modulesOf(shared).flatMap((m) => m.parameters),
        buffers: modulesOf(shared).flatMap((m) => m.buffers ?? []),
        apply: (x, _x, context) => run(shared, x, context),
      };
      const heads: Record<string, Module> = {};
      for (const task of plan.taskNames) {
        const rest = plan.paths.get(task)!.slice(k);
        const out = outputs.get(task)!;
        heads[task] = {
          parameters: [...modulesOf(rest).flatMap((m) => m.parameters), ...out.parameters],
          buffers: modulesOf(rest).flatMap((m) => m.buffers ?? []),
          apply: (z, _x, context) => out.apply(run(rest, z, context), context),
        };
      }
      return { trunk, heads };
    };
    const { trunk, heads } = splitAfter(plan.trunk.length);
    const splits = Object.fromEntries([INPUT, ...plan.trunk].map((point, k) => [point, splitAfter(k)]));
    return {
      trunk,
      heads,
      splits,
      features: {
        points: [INPUT, ...plan.modules.map((m) => m.name)],
        compute: (x, context, points) => {
          const values = new Map<string, tf.Tensor>([[INPUT, x]]);
          const value = (name: string): tf.Tensor => {
            const known = values.get(name);
            if (known) return known;
            const m = built.get(name)!;
            const y = m.layers.reduce((h, layer) => layer.apply(h, context), value(m.module.parent ?? INPUT));
            values.set(name, y);
            return y;
          };
          return Object.fromEntries(points.map((p) => [p, value(p)]));
        },
      },
    };
  }, { seed, architecture }) as TreeModel;
}

/** What {@link treeModel} returns: a model with feature points and buffers. */
export type TreeModel = MultiTaskModel & Required<Pick<MultiTaskModel, 'features' | 'featurePoints' | 'buffers'>>;

interface PlannedModule extends TreeModuleSpec {
  readonly parent: string;
  readonly tasks: readonly string[];
}

interface TreePlan {
  readonly inputShape: readonly number[];
  readonly tasks: readonly TaskOutput[];
  readonly taskNames: readonly string[];
  readonly modules: readonly PlannedModule[];
  /** Per task, its modules from the input to its output. */
  readonly paths: ReadonlyMap<string, readonly string[]>;
  /** The modules every task uses, from the input. */
  readonly trunk: readonly string[];
}

/** Validates the options and works out each task's path and the shared trunk. */
function planTree(options: TreeModelOptions): TreePlan {
  if (typeof options !== 'object' || options === null) invalidOption('options', options, 'an object');
  for (const key of Object.keys(options)) if (!TREE_KEYS.includes(key)) invalidOption(key, (options as unknown as Record<string, unknown>)[key], `no such option of treeModel (options: ${TREE_KEYS.join(', ')})`);
  const shape = options.inputShape;
  if (!isArray(shape) || shape.length === 0) invalidOption('inputShape', shape, 'the shape of one example, e.g. [8] or [28, 28, 1]');
  shape.forEach((d, i) => requirePositiveInteger(`inputShape[${i}]`, d));
  const tasks = validateTaskOutputs(options.tasks);
  const taskNames = tasks.map((t) => t.name);
  if (!isArray(options.modules)) invalidOption('modules', options.modules, 'an array of modules');
  const modules: PlannedModule[] = [];
  const byName = new Map<string, PlannedModule>();
  options.modules.forEach((m, i) => {
    if (typeof m !== 'object' || m === null) invalidOption(`modules[${i}]`, m, 'a module { name, parent?, tasks?, layers }');
    for (const key of Object.keys(m)) if (!MODULE_KEYS.includes(key)) invalidOption(`modules[${i}].${key}`, (m as unknown as Record<string, unknown>)[key], `no such option of a module (options: ${MODULE_KEYS.join(', ')})`);
    if (typeof m.name !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(m.name) || m.name === INPUT || m.name === 'out') {
      invalidOption(`modules[${i}].name`, m.name, 'a name of letters, digits, "_", "." or "-" (not "input" or "out")');
    }
    if (byName.has(m.name)) invalidOption(`modules[${i}].name`, m.name, 'a name no other module has');
    const parent = m.parent ?? INPUT;
    const parentModule = byName.get(parent);
    if (parent !== INPUT && !parentModule) invalidOption(`modules.${m.name}.parent`, parent, `'input' or a module listed before it (${[...byName.keys()].join(', ') || 'none'})`);
    const used = m.tasks ?? parentModule?.tasks ?? taskNames;
    if (!isArray(used) || used.length === 0) invalidOption(`modules.${m.name}.tasks`, m.tasks, 'a non-empty list of task names');
    for (const t of used) {
      if (!taskNames.includes(t)) throw new MtlError('UNKNOWN_TASK', `module "${m.name}" names unknown task "${t}"; known tasks: ${taskNames.join(', ')}`, { task: t, module: m.name, known: taskNames });
      if (parentModule && !parentModule.tasks.includes(t)) invalidOption(`modules.${m.name}.tasks`, m.tasks, `tasks its parent "${parent}" is used by (${parentModule.tasks.join(', ')}); "${t}" is not`);
    }
    const planned: PlannedModule = { ...m, parent, tasks: taskNames.filter((t) => used.includes(t)) };
    modules.push(planned);
    byName.set(m.name, planned);
  });
  const paths = new Map<string, string[]>();
  for (const task of taskNames) {
    const path: string[] = [];
    let at = INPUT;
    for (;;) {
      const next = modules.filter((m) => m.parent === at && m.tasks.includes(task));
      if (next.length > 1) invalidOption('modules', next.map((m) => m.name), `one path per task: task "${task}" would continue from "${at}" into ${next.map((m) => `"${m.name}"`).join(' and ')}`);
      if (next.length === 0) break;
      at = next[0]!.name;
      path.push(at);
    }
    const stray = modules.find((m) => m.tasks.includes(task) && !path.includes(m.name));
    if (stray) invalidOption(`modules.${stray.name}`, stray.name, `a module on task "${task}"'s path from the input (it hangs off "${stray.parent}", which "${task}" does not use)`);
    paths.set(task, path);
  }
  const trunk: string[] = [];
  for (const name of paths.get(taskNames[0]!)!) {
    if (byName.get(name)!.tasks.length !== taskNames.length) break;
    trunk.push(name);
  }
  return { inputShape: [...shape], tasks, taskNames, modules, paths, trunk };
}

