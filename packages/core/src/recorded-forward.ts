import { tf } from './tf.js';

/**
 * One forward pass, several backward passes.
 *
 * `tf.variableGrads(f)` records a fresh gradient tape every time it runs `f`, so T per-task
 * gradients cost T forward passes. PyTorch's `retain_graph=True` keeps the graph of one forward
 * for several backward passes instead; this module does the same on tfjs: it runs the forward once
 * under tfjs's own tape, keeps that tape, and backpropagates from each output separately. The
 * backward passes are tfjs's own algorithm (a tape filtered to the nodes between the sources and
 * the output, walked backwards with each kernel's registered gradient), so the results are the
 * ones `tf.variableGrads` gives for each output on its own, bit for bit (tested).
 *
 * tfjs-core has no public API for this, so it uses the engine's tape, which is not part of tfjs's
 * typed surface: `startTape`/`endTape`, `state.activeTape` and `state.gradientDepth`, unchanged
 * across tfjs-core 2.x–4.x. {@link recordForward} checks they are there and returns `undefined`
 * when they are not, or when a tape is already being recorded (inside another gradient
 * computation, where the outer tape must see our ops): callers then take the plain path.
 */
export interface RecordedForward<T extends tf.TensorContainer> {
  /** What the forward returned (owned by the caller once {@link dispose} has run; dispose it too). */
  readonly outputs: T;
  /**
   * The vector-Jacobian product dyᵀ ∂y/∂x for each of `xs` (`null` where y does not depend on x),
   * y an output of the forward (dy defaults to ones: the gradient of a scalar y), taken from the
   * recorded tape: no forward kernel runs again. Only y's id and shape are read, so y itself may
   * already be disposed. Fresh tensors.
   */
  gradients(y: tf.Tensor, xs: readonly tf.Tensor[], dy?: tf.Tensor): (tf.Tensor | null)[];
  /** Whether the tape can still be used (not disposed, its saved tensors alive). */
  readonly alive: boolean;
  /**
   * Hands the tape's saved tensors to the enclosing `tf.tidy` scope, as if they were made there:
   * they are freed when it ends (or by {@link dispose}, whichever comes first). Without an
   * enclosing scope only {@link dispose} frees them.
   */
  adoptIntoScope(): void;
  /** Frees the tensors the tape saved for the backward passes. */
  dispose(): void;
}

/** The part of tfjs's engine this module relies on. */
interface TapeNode {
  readonly id: number;
  readonly kernelName: string;
  readonly inputs: Record<string, tf.Tensor>;
  readonly outputs: tf.Tensor[];
  readonly gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  readonly saved?: tf.Tensor[];
}
interface EngineTape {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  startTape(): void;
  endTape(): void;
  track<T extends tf.Tensor>(tensor: T): T;
}

function engineTape(): EngineTape | undefined {
  const engine = tf.engine() as unknown as Partial<EngineTape>;
  const ok =
    typeof engine.startTape === 'function' &&
    typeof engine.endTape === 'function' &&
    typeof engine.track === 'function' &&
    typeof engine.state === 'object' &&
    engine.state !== null &&
    typeof engine.state.gradientDepth === 'number';
  return ok ? (engine as EngineTape) : undefined;
}

/**
 * Runs `forward` once under the gradient tape and keeps the tape for {@link RecordedForward.gradients}.
 * `undefined` when the engine's tape is not reachable or already recording (see the module note):
 * nothing has run then.
 */
export function recordForward<T extends tf.TensorContainer>(forward: () => T): RecordedForward<T> | undefined {
  const engine = engineTape();
  if (!engine || engine.state.gradientDepth !== 0) return undefined;
  engine.startTape();
  let outputs: T;
  try {
    outputs = tf.tidy(forward);
  } catch (error) {
    freeSaved(takeTape(engine));
    throw error;
  }
  const tape = takeTape(engine);
  let disposed = false;
  const saved = tape.flatMap((node) => node.saved ?? []);
  return {
    outputs: outputs!,
    gradients(y, xs, dy) {
      if (disposed) throw new Error('RecordedForward.gradients after dispose');
      if (dy && !tf.util.arraysEqual(dy.shape, y.shape)) throw new Error(`dy has shape [${dy.shape.join(', ')}], y has [${y.shape.join(', ')}]`);
      // tidy keeps what it returns (the gradients of xs) and frees every intermediate gradient.
      const found = tf.tidy(() => {
        const accumulated = new Map<number, tf.Tensor>([[y.id, dy ? tf.clone(dy) : tf.ones(y.shape)]]);
        backpropagate(accumulated, nodesBetween(tape, xs, y));
        return Object.fromEntries(xs.flatMap((x, i) => (accumulated.has(x.id) ? [[String(i), accumulated.get(x.id)!]] : [])));
      });
      return xs.map((_, i) => found[String(i)] ?? null);
    },
    get alive() {
      return !disposed && saved.every((t) => !t.isDisposed);
    },
    adoptIntoScope() {
      for (const t of saved) {
        (t as { kept: boolean }).kept = false;
        engine.track(t);
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      freeSaved(tape);
    },
  };
}

/** Ends the recording and takes the tape away from the engine (depth 0: nothing more is recorded). */
function takeTape(engine: EngineTape): TapeNode[] {
  engine.endTape();
  const tape = engine.state.activeTape ?? [];
  engine.state.activeTape = null;
  return tape;
}

const freeSaved = (tape: readonly TapeNode[]) => tape.forEach((node) => node.saved?.forEach((t) => t.dispose()));

/**
 * The tape's nodes on a path from one of `xs` to `y`, in recording order, each with only the inputs
 * that depend on `xs` (tfjs's own filtering: gradients flow only into those).
 */
function nodesBetween(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      nodeFromX.add(node.id);
      node.outputs.forEach((o) => fromX.add(o.id));
    }
  }
  const leadsToY = new Set([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => leadsToY.has(o.id))) {
      nodeToY.add(node.id);
      Object.values(node.inputs).forEach((input) => leadsToY.add(input.id));
    }
  }
  return tape
    .filter((node) => nodeFromX.has(node.id) && nodeToY.has(node.id))
    .map((node) => ({ ...node, inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, input]) => fromX.has(input.id))) }));
}

/** Walks `nodes` backwards, accumulating each tensor's gradient in `accumulated` (by tensor id). */
function backpropagate(accumulated: Map<number, tf.Tensor>, nodes: readonly TapeNode[]): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    // Outputs off the path to y get null: the engine's node gradient turns them into zeros.
    const inputGradients = node.gradient(node.outputs.map((o) => accumulated.get(o.id) ?? null));
    for (const [name, input] of Object.entries(node.inputs)) {
      const gradient = inputGradients[name];
      if (!gradient) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
      const dx = tf.tidy(gradient);
      const previous = accumulated.get(input.id);
      if (previous) {
        // As tfjs: the sum replaces the old entry; dx itself is freed by the caller's tidy.
        accumulated.set(input.id, tf.add(previous, dx));
        previous.dispose();
      } else {
        accumulated.set(input.id, dx);
      }
    }
  }
}
