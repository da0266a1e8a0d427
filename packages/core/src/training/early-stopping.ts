import { MtlError, invalidOption } from '../errors.js';
import { booleanOption, checkOptions, finite, nonNegativeInt, required, stringOption } from '../options.js';
import { ParamSnapshot, type ModelState, type Parameter } from '../parameters.js';
import type { EpochLog } from './callbacks.js';
import { checkEarlyStoppingState } from './trainer-state.js';

export interface EarlyStoppingOptions {
  /** `loss`, `<task>/loss` or `<task>/<metric>` of the validation data. */
  readonly monitor: string;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  readonly minDelta?: number;
  /** Put back the best epoch's parameters when stopping or finishing. Default true. */
  readonly restoreBest?: boolean;
}

/** What a checkpoint keeps of early stopping (the best value is in the monitored quantity's units). */
export interface EarlyStoppingState {
  readonly best: number | undefined;
  readonly bestEpoch: number | undefined;
  readonly wait: number;
}

/**
 * Tracks the monitored validation quantity across epochs, says when to stop, and keeps the best
 * epoch's parameters. A checkpoint carries both the JSON {@link getState} and the
 * {@link bestParameters}, so a resumed run stops and restores exactly as an uninterrupted one.
 * A non-finite monitored value is a failure (NON_FINITE_METRIC), never a score.
 */
export class EarlyStopping {
  private state: EarlyStoppingState = { best: undefined, bestEpoch: undefined, wait: 0 };
  private bestSnapshot: ParamSnapshot | undefined;

  /** `known`: the quantities validation reports; `higherIsBetter`: the monitored one's direction. */
  constructor(
    private readonly options: EarlyStoppingOptions,
    known: readonly string[],
    private readonly higherIsBetter: boolean,
  ) {
    checkOptions(options, { monitor: required(stringOption), patience: required(nonNegativeInt), minDelta: finite({ min: 0 }), restoreBest: booleanOption }, 'earlyStopping', 'earlyStopping.');
    if (!known.includes(options.monitor)) invalidOption('earlyStopping.monitor', options.monitor, `one of ${known.join(', ')}`);
  }

  get bestEpoch(): number | undefined {
    return this.state.bestEpoch;
  }

  get bestValue(): number | undefined {
    return this.state.best;
  }

  /** Records an epoch's validation results; true when training should stop. */
  update(log: EpochLog, parameters: readonly Parameter[] | ModelState): boolean {
    const value = log.validation?.[this.options.monitor];
    if (value === undefined) return false;
    if (!Number.isFinite(value)) {
      throw new MtlError('NON_FINITE_METRIC', `early stopping: validation "${this.options.monitor}" is ${value} at epoch ${log.epoch}; a non-finite value cannot be compared`, {
        key: this.options.monitor,
        epoch: log.epoch,
        value,
      });
    }
    const { best } = this.state;
    const margin = this.options.minDelta ?? 0;
    const improved = best === undefined || (this.higherIsBetter ? value > best + margin : value < best - margin);
    if (improved) {
      this.state = { best: value, bestEpoch: log.epoch, wait: 0 };
      if (this.keepsBest) {
        this.bestSnapshot?.dispose();
        this.bestSnapshot = ParamSnapshot.capture(parameters);
      }
      return false;
    }
    this.state = { ...this.state, wait: this.state.wait + 1 };
    return this.state.wait > this.options.patience;
  }

  /** Puts back the best epoch's parameters, when `restoreBest` is on and one was seen. */
  restoreBest(parameters: readonly Parameter[] | ModelState): void {
    if (this.keepsBest && this.bestSnapshot) this.bestSnapshot.restore(parameters);
  }

  /** True once patience ran out: a resumed run that had stopped stays stopped. */
  get stopped(): boolean {
    return this.state.wait > this.options.patience;
  }

  /** Whether the best epoch's parameters are kept (`restoreBest`, default true). */
  get keepsBest(): boolean {
    return this.options.restoreBest ?? true;
  }

  /** The best epoch's parameters (owned by this object; undefined before the first epoch or without `restoreBest`). */
  get bestParameters(): ParamSnapshot | undefined {
    return this.bestSnapshot;
  }

  getState(): EarlyStoppingState {
    return this.state;
  }

  /**
   * Puts back a checkpoint's state; `best` (copied, the caller keeps its own) is the best epoch's
   * parameters, required when `restoreBest` is on and a best epoch was seen.
   */
  setState(state: EarlyStoppingState, best?: ParamSnapshot): void {
    checkEarlyStoppingState(state);
    if (this.keepsBest && state.bestEpoch !== undefined && !best) {
      throw new MtlError('CHECKPOINT', `the checkpoint has no parameters of the best epoch (${state.bestEpoch}) that earlyStopping.restoreBest needs`, { bestEpoch: state.bestEpoch });
    }
    this.state = { ...state };
    this.bestSnapshot?.dispose();
    this.bestSnapshot = this.keepsBest && best ? best.clone() : undefined;
  }

  dispose(): void {
    this.bestSnapshot?.dispose();
    this.bestSnapshot = undefined;
  }
}
