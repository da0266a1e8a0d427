/**
 * Runs a training step so that a failure frees every tensor it made. `tf.tidy` alone is not
 * enough: tensors the step `tf.keep`s (caches, snapshots) escape it, and so do the copies tfjs's
 * gradient tape keeps for the backward pass when a loss throws inside `variableGrads` (about 20 per
 * failed step on a small model: tfjs drops the tape without disposing them). A failed step is
 * abandoned, so what it kept is garbage. While the step runs, the engine's `keep` and `endTape` are
 * wrapped to note those tensors (one array push each); on success nothing is disposed.
 * Variables (optimizer slots created by the step) are never disposed.
 */
import { tf } from '../tf.js';

interface TapeEngine {
  keep<T extends tf.Tensor>(tensor: T): T;
  endTape(): void;
  state: { activeTape: { saved?: tf.Tensor[] }[] | null };
}

export function freeingOnFailure<T>(fn: () => T): T {
  const engine = tf.engine() as unknown as TapeEngine;
  const kept: tf.Tensor[] = [];
  const tapes: { saved?: tf.Tensor[] }[][] = [];
  const ownKeep = Object.hasOwn(engine, 'keep');
  const ownEndTape = Object.hasOwn(engine, 'endTape');
  // Unbound on purpose: they are called back with the engine as `this` (`keep.call(this, ...)`).
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const keep = engine.keep;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const endTape = engine.endTape;
  engine.keep = function <U extends tf.Tensor>(this: TapeEngine, tensor: U): U {
    kept.push(tensor);
    return keep.call(this, tensor) as U;
  };
  engine.endTape = function (this: TapeEngine) {
    if (this.state.activeTape) tapes.push(this.state.activeTape);
    endTape.call(this);
  };
  try {
    return fn();
  } catch (error) {
    const saved = tapes.flatMap((tape) => tape.flatMap((node) => node.saved ?? []));
    for (const t of [...kept, ...saved]) if (!t.isDisposed && !(t instanceof tf.Variable)) t.dispose();
    throw error;
  } finally {
    if (ownKeep) engine.keep = keep;
    else delete (engine as Partial<TapeEngine>).keep;
    if (ownEndTape) engine.endTape = endTape;
    else delete (engine as Partial<TapeEngine>).endTape;
  }
}
