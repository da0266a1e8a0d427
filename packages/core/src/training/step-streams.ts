/**
 * The extra batch streams a step context hands out: `ctx.validationBatch()` (over the trainer's
 * `validation` dataset) and `ctx.nextTrainingBatch()` (a second, independent shuffle of the training
 * data). Each stream has its own seeded RNG forked from the trainer's seed, so drawing from one
 * never changes the main training order, and its whole state (RNG + batch order) goes into
 * checkpoints: a resumed run draws exactly the batches the uninterrupted run would have drawn.
 */
import { MtlError } from '../errors.js';
import { BatchSchedule, checkGathered, toBatch, type Batch, type MultiTaskDataset } from '../data.js';
import type { RandomState, SeededRandom } from '../random.js';
import type { Task } from '../tasks.js';

/** One stream's checkpoint state; `order` is absent until the stream drew its first batch. */
export interface BatchStreamState {
  readonly random: RandomState;
  readonly order?: { position: number; order: number[] } | undefined;
}

/** An endless seeded stream of batches over one dataset, created lazily (no cost until first drawn). */
export class BatchStream {
  private schedule: BatchSchedule | undefined;

  constructor(
    readonly dataset: MultiTaskDataset,
    private readonly rng: SeededRandom,
    private readonly batchSize: number,
    private readonly what: string,
    private readonly shuffle: boolean,
  ) {}

  /** The next batch as tensors (the caller owns them). */
  next(inputShape: readonly number[], tasks: readonly Task[]): Batch {
    const { indices } = this.ensure().next();
    const raw = this.dataset.gather(indices);
    checkGathered(raw, indices.length, inputShape, tasks, this.what);
    return toBatch(raw, inputShape, tasks);
  }

  getState(): BatchStreamState {
    return { random: this.rng.getState(), order: this.schedule?.getState() };
  }

  setState(state: BatchStreamState): void {
    // Creating the schedule draws a permutation: create it first, then overwrite the RNG and order.
    if (state.order) this.ensure().setState(state.order);
    this.rng.setState(state.random);
  }

  /** Throws CHECKPOINT unless `state` is a stream state whose order fits this stream's dataset. */
  checkState(state: unknown, path: string): void {
    const fail = (problem: string): never => {
      throw new MtlError('CHECKPOINT', `checkpoint ${path}: the ${this.what} stream ${problem}`, { path, stream: this.what, problem });
    };
    const s = state as Partial<BatchStreamState> | null;
    if (!s || typeof s !== 'object') return fail('state is missing');
    if (!Array.isArray(s.random) || s.random.length !== 4 || !s.random.every((v) => Number.isInteger(v))) fail('has no valid random state');
    if (s.order !== undefined) {
      try {
        BatchSchedule.checkState(s.order, this.dataset.size);
      } catch (error) {
        fail((error as Error).message.replace(/^\[CHECKPOINT\] the checkpoint's /, ''));
      }
    }
  }

  private ensure(): BatchSchedule {
    this.schedule ??= new BatchSchedule(this.dataset.size, this.batchSize, this.rng, { shuffle: this.shuffle });
    return this.schedule;
  }
}
