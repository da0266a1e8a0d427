import { invalidOption, requireFiniteNumber, requireNonNegativeInteger } from '../errors.js';
import { ParamSnapshot, type Parameter } from '../parameters.js';
import type { EpochLog } from './callbacks.js';

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
 * epoch's parameters (in memory: after a resume, "best" restarts from the checkpoint's state but the
 * parameters of an earlier best epoch are not on disk).
 */
export class EarlyStopping {
  private state: EarlyStoppingState = { best: undefined, bestEpoch: undefined, wait: 0 };
  private bestParameters: ParamSnapshot | undefined;

  /** `known`: the quantities validation reports; `higherIsBetter`: the monitored one's direction. */
  constructor(
    private readonly options: EarlyStoppingOptions,
    known: readonly string[],
    private readonly higherIsBetter: boolean,
  ) {
    requireNonNegativeInteger('earlyStopping.patience', options.patience);
    requireFiniteNumber('earlyStopping.minDelta', options.minDelta ?? 0, { min: 0 });
    if (!known.includes(options.monitor)) invalidOption('earlyStopping.monitor', options.monitor, `one of ${known.join(', ')}`);
  }

  get bestEpoch(): number | undefined {
    return this.state.bestEpoch;
  }

  get bestValue(): number | undefined {
    return this.state.best;
  }

  /** Records an epoch's validation results; true when training should stop. */
  update(log: EpochLog, parameters: readonly Parameter[]): boolean {
    const value = log.validation?.[this.options.monitor];
    if (value === undefined) return false;
    const { best } = this.state;
    const margin = this.options.minDelta ?? 0;
    const improved = best === undefined || (this.higherIsBetter ? value > best + margin : value < best - margin);
    if (improved) {
      this.state = { best: value, bestEpoch: log.epoch, wait: 0 };
      if (this.options.restoreBest ?? true) {
        this.bestParameters?.dispose();
        this.bestParameters = ParamSnapshot.capture(parameters);
      }
      return false;
    }
    this.state = { ...this.state, wait: this.state.wait + 1 };
    return this.state.wait > this.options.patience;
  }

  /** Puts back the best epoch's parameters, when `restoreBest` is on and one was seen. */
  restoreBest(parameters: readonly Parameter[]): void {
    if ((this.options.restoreBest ?? true) && this.bestParameters) this.bestParameters.restore(parameters);
  }

  getState(): EarlyStoppingState {
    return this.state;
  }

  setState(state: EarlyStoppingState): void {
    this.state = { ...state };
  }

  dispose(): void {
    this.bestParameters?.dispose();
    this.bestParameters = undefined;
  }
}
