import { tf } from '../tf.js';
import { MtlError, invalidOption, requireNonNegativeInteger, requirePositiveInteger } from '../errors.js';
import { currentBackend } from '../backend.js';
import { BatchSchedule, checkGathered, disposeBatch, toBatch, validateDataset, type Batch, type MultiTaskDataset, type RawBatch } from '../data.js';
import { findNonFinite, nonFiniteInput } from '../data-checks.js';
import { SeededRandom } from '../random.js';
import { validateTasks, unknownTask, type Task } from '../tasks.js';
import { adam, type Optimizer } from '../optimizers.js';
import { ParamSnapshot, modelState } from '../parameters.js';
import { weightedSum, type StepResult, type UpdateRule } from '../update-rules.js';
import { TrainingStepContext } from '../step-context.js';
import type { MultiTaskModel } from '../models/model.js';
import type { GradientWorkers } from '../parallel/gradient-workers.js';
import { disposeCheckpoint, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';
import { assertWritableDirectory } from './checkpoint-files.js';
import { freeingOnFailure } from './step-scope.js';
import { BEST_PARAMETERS, MODEL_BUFFERS, checkParameterLayout, checkTrainerState, type TrainerState } from './trainer-state.js';
import { anyValue, arrayOf, booleanOption, checkOptions, either, finite, objectOption, positiveInt, required, stringOption, type OptionValidator } from '../options.js';
import { evaluateModel, higherIsBetter, taskEvaluationKeys } from './evaluate.js';
import { EarlyStopping, type EarlyStoppingOptions } from './early-stopping.js';
import type { EpochLog, StepStats, TrainerCallback } from './callbacks.js';
import { BatchStream } from './step-streams.js';
import { withProgress, type ProgressOptions } from './progress.js';

export interface CheckpointOptions {
  readonly dir: string;
  /** Save every this many epochs (default 1). */
  readonly everyEpochs?: number;
  /** Checkpoints kept on disk (default 2). */
  readonly keep?: number;
}

export interface TrainerOptions {
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  /** Default: Adam, learning rate 1e-3. */
  readonly optimizer?: Optimizer;
  /** Default: {@link weightedSum} with all weights 1. */
  readonly rule?: UpdateRule;
  readonly batchSize?: number;
  readonly seed?: number;
  readonly shuffle?: boolean;
  readonly callbacks?: readonly TrainerCallback[];
  /**
   * Progress output ({@link progressReporter}): default on when stdout is a TTY and `callbacks` has no
   * progress reporter, off otherwise; `false` silences it, `true` or options force it.
   */
  readonly progress?: boolean | ProgressOptions;
  readonly checkpoint?: CheckpointOptions;
  readonly earlyStopping?: EarlyStoppingOptions;
  readonly evaluationBatchSize?: number;
  /** Keys of parameters to keep fixed (e.g. a pretrained trunk). */
  readonly frozen?: readonly string[];
  /** Debug mode: throw if a step leaves tensors behind. */
  readonly checkLeaks?: boolean;
  /**
   * Worker threads that share the per-task parameter-space gradients of each step (same results,
   * uses more cores). The trainer does not close them.
   */
  readonly gradientWorkers?: GradientWorkers;
  /**
   * A validation set for rules that learn from held-out batches (CoNAL's α, lookahead methods): the
   * source of `ctx.validationBatch()`, a seeded stream restored exactly by checkpoints. Also the
   * default of `fit`'s `validation` (epoch evaluation, early stopping).
   */
  readonly validation?: MultiTaskDataset;
  /** Batch size of the `ctx.validationBatch()` stream (default: `batchSize`). */
  readonly validationBatchSize?: number;
}

export interface FitOptions {
  /** Train until this many epochs in total have run (a resumed run continues the count). */
  readonly epochs: number;
  readonly validation?: MultiTaskDataset;
  /** Continue from the latest checkpoint in `checkpoint.dir`, if there is one. */
  readonly resume?: boolean;
}

export interface FitResult {
  readonly history: readonly EpochLog[];
  readonly stoppedEarly: boolean;
  readonly bestEpoch?: number | undefined;
  /** The best value of the monitored quantity (in its own units: lower is better for losses). */
  readonly bestScore?: number | undefined;
  /** The checkpoint a `resume: true` run continued from (undefined: it found none and started afresh). */
  readonly resumedFrom?: { readonly path: string; readonly epoch: number; readonly step: number } | undefined;
}


type Spec<T> = { readonly [K in keyof Required<T>]: OptionValidator };

/** Every option of the trainer (a key added to {@link TrainerOptions} must be added here: typed). */
const TRAINER_OPTIONS: Spec<TrainerOptions> = {
  model: required(objectOption),
  tasks: required(anyValue), // validateTasks names what is wrong
  optimizer: objectOption,
  rule: objectOption,
  batchSize: positiveInt,
  seed: finite(),
  shuffle: booleanOption,
  callbacks: arrayOf(objectOption),
  progress: either(booleanOption, objectOption, 'true, false or progress options ({ stream, tty, redrawMs })'),
  checkpoint: objectOption,
  earlyStopping: objectOption,
  evaluationBatchSize: positiveInt,
  frozen: arrayOf(stringOption),
  checkLeaks: booleanOption,
  gradientWorkers: objectOption,
  validation: objectOption,
  validationBatchSize: positiveInt,
};

const CHECKPOINT_OPTIONS: Spec<CheckpointOptions> = { dir: required(stringOption), everyEpochs: positiveInt, keep: positiveInt };

const FIT_OPTIONS: Spec<FitOptions> = { epochs: required(positiveInt), validation: objectOption, resume: booleanOption };

/**
 * Trains a {@link MultiTaskModel} on several tasks: seeded shuffled batches, one {@link UpdateRule}
 * step per batch, validation each epoch, early stopping, callbacks and resumable checkpoints.
 * Outer loops (ForkMerge) drive it with {@link runSteps}.
 */
export class Trainer {
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly optimizer: Optimizer;
  readonly rule: UpdateRule;
  readonly batchSize: number;
  private readonly options: TrainerOptions;
  private readonly dataRandom: SeededRandom;
  private readonly ruleRandom: SeededRandom;
  private readonly schedules = new WeakMap<MultiTaskDataset, BatchSchedule>();
  private readonly validated = new WeakSet<MultiTaskDataset>();
  private readonly frozen: ReadonlySet<string>;
  private globalStep = 0;
  private epochIndex = 0;
  private readonly epochHistory: EpochLog[] = [];
  private readonly earlyStopping: EarlyStopping | undefined;
  /** Parent of the extra streams' RNGs (never drawn from itself). */
  private readonly streamRoot: SeededRandom;
  private validationStream: BatchStream | undefined;
  private readonly trainingStreams = new WeakMap<MultiTaskDataset, BatchStream>();
  /** Loss sums of the epoch `runSteps` is in the middle of (for its history entry). */
  private stepsEpoch: { sums: Float64Array; examples: number; steps: number; started: number } | undefined;

  constructor(options: TrainerOptions) {
    checkOptions(options, TRAINER_OPTIONS, 'Trainer');
    if (options.checkpoint) checkOptions(options.checkpoint, CHECKPOINT_OPTIONS, 'Trainer', 'checkpoint.');
    this.options = options;
    this.model = options.model;
    this.tasks = validateTasks(options.tasks);
    for (const task of this.tasks) {
      if (!this.model.taskNames.includes(task.name)) throw unknownTask(task.name, this.model.taskNames);
    }
    this.optimizer = options.optimizer ?? adam(1e-3);
    this.rule = options.rule ?? weightedSum();
    this.batchSize = requirePositiveInteger('batchSize', options.batchSize ?? 32);
    const keys = new Set(this.model.parameters.map((p) => p.key));
    for (const key of options.frozen ?? []) if (!keys.has(key)) invalidOption('frozen', key, 'keys of the model\'s parameters');
    this.frozen = new Set(options.frozen ?? []);
    const master = new SeededRandom(options.seed ?? 0);
    this.dataRandom = master.fork('data');
    this.ruleRandom = master.fork('rule');
    this.streamRoot = master.fork('streams');
    if (options.validationBatchSize !== undefined && !options.validation) invalidOption('validationBatchSize', options.validationBatchSize, 'used together with the validation option');
    if (options.checkpoint) {
      if (typeof options.checkpoint.dir !== 'string' || !options.checkpoint.dir) invalidOption('checkpoint.dir', options.checkpoint.dir, 'a directory path');
      requirePositiveInteger('checkpoint.everyEpochs', options.checkpoint.everyEpochs ?? 1);
      requirePositiveInteger('checkpoint.keep', options.checkpoint.keep ?? 2);
    }
    if (options.earlyStopping) {
      const known = ['loss', ...taskEvaluationKeys(this.tasks)];
      this.earlyStopping = new EarlyStopping(options.earlyStopping, known, higherIsBetter(options.earlyStopping.monitor, this.tasks));
    }
  }

  /** Steps taken so far. */
  get step(): number {
    return this.globalStep;
  }

  /** Epochs completed so far. */
  get epoch(): number {
    return this.epochIndex;
  }

  get history(): readonly EpochLog[] {
    return this.epochHistory;
  }

  async fit(train: MultiTaskDataset, options: FitOptions): Promise<FitResult> {
    checkOptions(options, FIT_OPTIONS, 'Trainer.fit');
    if (options.validation === undefined && this.options.validation) options = { ...options, validation: this.options.validation };
    const epochs = requirePositiveInteger('epochs', options.epochs);
    this.validate(train, 'training data');
    if (options.validation) this.validate(options.validation, 'validation data');
    if (this.options.earlyStopping && !options.validation) {
      invalidOption('validation', undefined, 'a validation dataset when earlyStopping is set');
    }
    if (options.resume && !this.options.checkpoint) invalidOption('resume', true, 'used together with the checkpoint option');
    // Before any work: an unusable directory must not cost an epoch of training.
    if (this.options.checkpoint) await assertWritableDirectory(this.options.checkpoint.dir);
    let resumedFrom: FitResult['resumedFrom'];
    if (options.resume) {
      resumedFrom = await this.restoreLatest(train);
      if (!resumedFrom) {
        process.emitWarning(`resume: no checkpoint in ${this.options.checkpoint!.dir}; training starts from the beginning`, { type: 'MtlWarning', code: 'MTL_NOTHING_TO_RESUME' });
      }
    }
    const schedule = this.scheduleFor(train);
    const callbacks = withProgress(this.options.callbacks ?? [], this.options.progress);
    for (const cb of callbacks) {
      cb.onTrainBegin?.({
        epochs,
        startEpoch: this.epochIndex,
        batchesPerEpoch: schedule.batchesPerEpoch,
        tasks: this.tasks.map((t) => t.name),
        rule: this.rule.name,
        backend: currentBackend(),
      });
    }
    // A resumed run whose patience had already run out stays stopped, as the uninterrupted run did.
    let stoppedEarly = this.earlyStopping?.stopped ?? false;
    while (this.epochIndex < epochs && !stoppedEarly) {
      const log = this.runEpoch(train, options.validation, callbacks);
      this.epochHistory.push(log);
      this.epochIndex++;
      for (const cb of callbacks) cb.onEpochEnd?.(log);
      stoppedEarly = this.earlyStopping?.update(log, this.model) ?? false;
      const every = this.options.checkpoint?.everyEpochs ?? 1;
      if (this.options.checkpoint && (this.epochIndex % every === 0 || this.epochIndex === epochs || stoppedEarly)) {
        await this.saveCheckpoint(train);
      }
    }
    this.earlyStopping?.restoreBest(this.model);
    const result: FitResult = {
      history: this.epochHistory,
      stoppedEarly,
      bestEpoch: this.earlyStopping?.bestEpoch,
      bestScore: this.earlyStopping?.bestValue,
      ...(options.resume ? { resumedFrom } : {}),
    };
    for (const cb of callbacks) cb.onTrainEnd?.(result);
    return result;
  }

  /**
   * Takes `steps` training steps on `train`, continuing its shuffled stream across calls (an epoch
   * boundary does not reset anything). For outer loops such as ForkMerge.
   */
  runSteps(train: MultiTaskDataset, steps: number): StepStats[] {
    requireNonNegativeInteger('steps', steps);
    this.validate(train, 'training data');
    const schedule = this.scheduleFor(train);
    const out: StepStats[] = [];
    for (let i = 0; i < steps; i++) {
      const { indices, batchIndex, endsEpoch } = schedule.next();
      const stats = this.trainBatch(train, indices, batchIndex, schedule.batchesPerEpoch);
      out.push(stats);
      this.countEpochStep(stats, indices.length, endsEpoch);
    }
    return out;
  }

  /**
   * `runSteps`' epoch accounting: a data pass that ends advances `epoch` (so epoch-based rules such
   * as DWA and GradNorm leave their warm-up inside ForkMerge branches too) and adds a history entry
   * (no validation) with the mean training losses of the steps `runSteps` took in it.
   */
  private countEpochStep(stats: StepStats, examples: number, endsEpoch: boolean): void {
    const epoch = (this.stepsEpoch ??= { sums: new Float64Array(this.tasks.length), examples: 0, steps: 0, started: performance.now() });
    this.tasks.forEach((t, i) => (epoch.sums[i]! += stats.losses[t.name]! * examples));
    epoch.examples += examples;
    epoch.steps++;
    if (!endsEpoch) return;
    const seconds = (performance.now() - epoch.started) / 1000;
    const trainLoss = Object.fromEntries(this.tasks.map((t, i) => [t.name, epoch.sums[i]! / epoch.examples]));
    this.epochHistory.push({ epoch: this.epochIndex, steps: epoch.steps, trainLoss, seconds, stepsPerSecond: epoch.steps / seconds });
    this.epochIndex++;
    this.stepsEpoch = undefined;
  }

  /** The next batch of the `validation` stream (`ctx.validationBatch()`). */
  private nextValidationBatch(): Batch {
    const validation = this.options.validation;
    if (!validation) invalidOption('validation', undefined, 'a dataset given to Trainer({ validation }) so that ctx.validationBatch() has a stream to draw from');
    this.validate(validation, 'validation data');
    return this.validationStreamFor(validation).next(this.model.inputShape, this.tasks);
  }

  /** The next batch of the extra training stream over `train` (`ctx.nextTrainingBatch()`). */
  private trainingStream(train: MultiTaskDataset): BatchStream {
    let stream = this.trainingStreams.get(train);
    if (!stream) {
      stream = new BatchStream(train, this.streamRoot.fork('training'), this.batchSize, 'training data', this.options.shuffle ?? true);
      this.trainingStreams.set(train, stream);
    }
    return stream;
  }

  /**
   * Restores the newest intact checkpoint in `options.dir` (default `checkpoint.dir`) without training:
   * parameters, buffers, optimizer, batch order, RNGs, rule state and history, checked before anything
   * changes. For outer loops that drive {@link runSteps} themselves; `fit` uses `resume: true` instead.
   * Returns undefined when the folder holds no checkpoint.
   */
  async restoreCheckpoint(train: MultiTaskDataset, options: { dir?: string } = {}): Promise<FitResult['resumedFrom']> {
    const dir = options.dir ?? this.options.checkpoint?.dir;
    if (!dir) invalidOption('checkpoint.dir', undefined, 'set (or options.dir given) to restore a checkpoint');
    this.validate(train, 'training data');
    return this.restoreLatest(train, dir);
  }

  /** Validation losses and metrics of the current model (see {@link evaluateModel}). */
  evaluate(dataset: MultiTaskDataset, onBatch?: (batch: number, batches: number) => void): Record<string, number> {
    this.validate(dataset, 'evaluation data');
    return evaluateModel(this.model, this.tasks, dataset, { batchSize: this.options.evaluationBatchSize ?? 256, ...(onBatch ? { onBatch } : {}) });
  }

  /**
   * Writes a checkpoint now (fit does this every `checkpoint.everyEpochs`), into `checkpoint.dir` or
   * `options.dir` (outer loops such as ForkMerge keep one folder per round).
   */
  async saveCheckpoint(train?: MultiTaskDataset, options: { dir?: string } = {}): Promise<string> {
    const dir = options.dir ?? this.options.checkpoint?.dir;
    if (!dir) invalidOption('checkpoint.dir', undefined, 'set to save checkpoints');
    const parameters = ParamSnapshot.capture(this.model.parameters);
    const buffers = this.model.buffers?.length ? ParamSnapshot.capture(this.model.buffers) : undefined;
    const optimizer = this.optimizer.snapshot();
    try {
      const state: TrainerState = {
        dataRandom: this.dataRandom.getState(),
        ruleRandom: this.ruleRandom.getState(),
        schedule: train ? this.schedules.get(train)?.getState() : undefined,
        rule: this.rule.getState?.(),
        history: this.epochHistory,
        early: this.earlyStopping?.getState(),
        streams: {
          validation: this.options.validation ? this.validationStreamFor(this.options.validation).getState() : undefined,
          training: train ? this.trainingStream(train).getState() : undefined,
        },
        optimizer: { scheduleStep: this.optimizer.scheduleStep, baseLearningRate: this.optimizer.baseLearningRate },
        runStepsEpoch: this.stepsEpoch ? { sums: Array.from(this.stepsEpoch.sums), examples: this.stepsEpoch.examples, steps: this.stepsEpoch.steps } : undefined,
      };
      // Early stopping's best parameters travel too: a resumed run must restore the same best epoch.
      const best = this.earlyStopping?.bestParameters;
      const snapshots: Record<string, ParamSnapshot> = {};
      if (best) snapshots[BEST_PARAMETERS] = best;
      // The model's buffers (BatchNorm running statistics) are state a resumed run needs as well.
      if (buffers) snapshots[MODEL_BUFFERS] = buffers;
      return await saveCheckpoint(dir, { epoch: this.epochIndex, step: this.globalStep, parameters, optimizer, snapshots, trainer: state }, { keep: this.options.checkpoint?.keep ?? 2 });
    } finally {
      parameters.dispose();
      buffers?.dispose();
      optimizer.slots.dispose();
    }
  }

  dispose(): void {
    this.earlyStopping?.dispose();
    this.rule.dispose?.();
  }

  private runEpoch(train: MultiTaskDataset, validation: MultiTaskDataset | undefined, callbacks: readonly TrainerCallback[]): EpochLog {
    const schedule = this.scheduleFor(train);
    this.stepsEpoch = undefined;
    const started = performance.now();
    const sums = new Float64Array(this.tasks.length);
    let examples = 0;
    let steps = 0;
    for (;;) {
      const { indices, endsEpoch, batchIndex } = schedule.next();
      const stats = this.trainBatch(train, indices, batchIndex, schedule.batchesPerEpoch);
      this.tasks.forEach((t, i) => (sums[i]! += stats.losses[t.name]! * indices.length));
      examples += indices.length;
      steps++;
      for (const cb of callbacks) cb.onStepEnd?.(stats);
      if (endsEpoch) break;
    }
    const seconds = (performance.now() - started) / 1000;
    const trainLoss = Object.fromEntries(this.tasks.map((t, i) => [t.name, sums[i]! / examples]));
    const validationResult = validation ? this.evaluate(validation, (batch, batches) => callbacks.forEach((cb) => cb.onValidationProgress?.({ epoch: this.epochIndex, batch, batches }))) : undefined;
    if (validationResult) assertFiniteValidation(validationResult, this.epochIndex, this.tasks);
    return { epoch: this.epochIndex, steps, trainLoss, ...(validationResult ? { validation: validationResult } : {}), seconds, stepsPerSecond: steps / seconds };
  }

  private trainBatch(train: MultiTaskDataset, indices: Int32Array, batchIndex: number, batchesPerEpoch: number): StepStats {
    const before = this.options.checkLeaks ? tf.memory().numTensors : 0;
    const raw = train.gather(indices);
    checkGathered(raw, indices.length, this.model.inputShape, this.tasks, 'training data');
    const batch = toBatch(raw, this.model.inputShape, this.tasks);
    let stats: StepStats;
    try {
      stats = freeingOnFailure(() => this.runRule(batch, batchIndex, batchesPerEpoch, train));
    } catch (error) {
      throw blameInputs(error, raw, indices, this.tasks, this.globalStep);
    } finally {
      disposeBatch(batch);
    }
    // The first steps create optimizer slots; after that a step must leave nothing behind.
    if (this.options.checkLeaks && this.globalStep > 2) {
      const after = tf.memory().numTensors;
      if (after !== before) {
        throw new MtlError('TENSOR_LEAK', `step ${this.globalStep - 1} of rule "${this.rule.name}" leaked ${after - before} tensors`, { rule: this.rule.name, leaked: after - before });
      }
    }
    return stats;
  }

  private runRule(batch: Batch, batchIndex: number, batchesPerEpoch: number, train: MultiTaskDataset): StepStats {
    const started = performance.now();
    const ctx = new TrainingStepContext({
      step: this.globalStep,
      epoch: this.epochIndex,
      model: this.model,
      tasks: this.tasks,
      batch,
      optimizer: this.optimizer,
      random: this.ruleRandom,
      frozen: this.frozen,
      gradientWorkers: this.options.gradientWorkers,
      validationBatches: () => this.nextValidationBatch(),
      trainingBatches: () => this.trainingStream(train).next(this.model.inputShape, this.tasks),
    });
    let result: StepResult = {};
    let losses: readonly number[] = [];
    try {
      tf.tidy(() => {
        result = this.rule.step(ctx) ?? {};
        // The report: the batch's losses at the step's starting parameters when the rule computed
        // them before updating; otherwise (a rule that never read a loss) the losses after the step.
        losses = ctx.computedLosses ?? ctx.losses();
      });
    } finally {
      ctx.release();
    }
    const names = this.tasks.map((t) => t.name);
    const stats: StepStats = {
      step: this.globalStep,
      epoch: this.epochIndex,
      batch: batchIndex,
      batchesPerEpoch,
      losses: Object.fromEntries(names.map((n, i) => [n, losses[i]!])),
      ...(result.weights ? { weights: Object.fromEntries(names.map((n, i) => [n, result.weights![i]!])) } : {}),
      ...(result.info ? { info: result.info } : {}),
      milliseconds: performance.now() - started,
    };
    this.globalStep++;
    this.optimizer.advanceSchedule();
    return stats;
  }

  private validate(dataset: MultiTaskDataset, what: string): void {
    if (this.validated.has(dataset)) return;
    validateDataset(dataset, this.tasks, this.model.inputShape, what);
    this.validated.add(dataset);
  }

  private validationStreamFor(validation: MultiTaskDataset): BatchStream {
    this.validationStream ??= new BatchStream(validation, this.streamRoot.fork('validation'), this.options.validationBatchSize ?? this.batchSize, 'validation data', true);
    return this.validationStream;
  }

  /** Throws CHECKPOINT unless the checkpoint's stream and optimizer-schedule state fit this trainer. */
  private checkStreamState(state: TrainerState, train: MultiTaskDataset, path: string): void {
    if (state.streams?.training) this.trainingStream(train).checkState(state.streams.training, path);
    if (state.streams?.validation) {
      if (!this.options.validation) throw new MtlError('CHECKPOINT', `checkpoint ${path} has a validation stream, this trainer has no validation option`, { path });
      this.validationStreamFor(this.options.validation).checkState(state.streams.validation, path);
    }
    const partial = state.runStepsEpoch;
    if (partial !== undefined && !(Array.isArray(partial.sums) && partial.sums.length === this.tasks.length && partial.sums.every(Number.isFinite) && Number.isInteger(partial.examples) && Number.isInteger(partial.steps))) {
      throw new MtlError('CHECKPOINT', `checkpoint ${path}: the partial runSteps epoch ${JSON.stringify(partial)} does not fit this trainer's ${this.tasks.length} tasks`, { path });
    }
    const o = state.optimizer;
    if (o !== undefined && !(Number.isInteger(o.scheduleStep) && o.scheduleStep >= 0 && Number.isFinite(o.baseLearningRate) && o.baseLearningRate >= 0)) {
      throw new MtlError('CHECKPOINT', `checkpoint ${path}: the optimizer schedule state ${JSON.stringify(o)} is not valid`, { path });
    }
  }

  private scheduleFor(train: MultiTaskDataset): BatchSchedule {
    let schedule = this.schedules.get(train);
    if (!schedule) {
      schedule = new BatchSchedule(train.size, this.batchSize, this.dataRandom, { shuffle: this.options.shuffle ?? true });
      this.schedules.set(train, schedule);
    }
    return schedule;
  }

  /**
   * Continues from the newest intact checkpoint. Everything in it is checked against this trainer,
   * model and dataset before anything changes; if restoring still fails half-way (an optimizer or a
   * rule that rejects its state), everything is put back as it was and the error says why.
   */
  private async restoreLatest(train: MultiTaskDataset, dir = this.options.checkpoint!.dir): Promise<FitResult['resumedFrom']> {
    const checkpoint = await loadLatestCheckpoint(dir);
    if (!checkpoint) return undefined;
    const path = checkpoint.path ?? dir;
    try {
      const state: unknown = checkpoint.trainer;
      checkTrainerState(state, train.size, path);
      this.checkStreamState(state, train, path);
      checkParameterLayout(checkpoint.parameters, this.model, path);
      const best = checkpoint.snapshots?.[BEST_PARAMETERS];
      if (best) checkParameterLayout(best, this.model, path, 'best-epoch parameters', modelState(this.model));
      const buffers = checkpoint.snapshots?.[MODEL_BUFFERS];
      if (this.model.buffers?.length) checkParameterLayout(buffers ?? ParamSnapshot.fromTensors(new Map()), this.model, path, 'buffers', this.model.buffers);
      // Create the batch schedule before restoring the RNG: creating it draws a permutation.
      const schedule = this.scheduleFor(train);
      const undo = this.captureState(schedule);
      try {
        checkpoint.parameters.restore(this.model.parameters);
        if (buffers && this.model.buffers?.length) buffers.restore(this.model.buffers);
        this.optimizer.restore({ ...checkpoint.optimizer, ...state.optimizer });
        this.dataRandom.setState(state.dataRandom);
        this.ruleRandom.setState(state.ruleRandom);
        if (state.schedule) schedule.setState(state.schedule);
        if (state.streams?.training) this.trainingStream(train).setState(state.streams.training);
        if (state.streams?.validation && this.options.validation) this.validationStreamFor(this.options.validation).setState(state.streams.validation);
        if (state.rule !== undefined) this.rule.setState?.(state.rule);
        if (state.early) this.earlyStopping?.setState(state.early, best);
        this.epochHistory.splice(0, this.epochHistory.length, ...state.history);
        const partial = state.runStepsEpoch;
        this.stepsEpoch = partial ? { sums: Float64Array.from(partial.sums), examples: partial.examples, steps: partial.steps, started: performance.now() } : undefined;
        this.globalStep = checkpoint.step;
        this.epochIndex = checkpoint.epoch;
      } catch (error) {
        undo();
        if (error instanceof MtlError && error.code === 'CHECKPOINT') throw error;
        throw new MtlError('CHECKPOINT', `checkpoint ${path} does not fit this trainer: ${(error as Error).message}`, { path }, { cause: error });
      } finally {
        undo.dispose();
      }
      return { path, epoch: checkpoint.epoch, step: checkpoint.step };
    } finally {
      disposeCheckpoint(checkpoint);
    }
  }

  /** What a failed restore puts back: parameters, optimizer, RNGs, batch order, rule and early stopping. */
  private captureState(schedule: BatchSchedule): (() => void) & { dispose(): void } {
    const parameters = ParamSnapshot.capture(this.model);
    const optimizer = this.optimizer.snapshot();
    const random = [this.dataRandom.getState(), this.ruleRandom.getState()] as const;
    const order = schedule.getState();
    const rule = this.rule.getState?.();
    const early = this.earlyStopping?.getState();
    const best = this.earlyStopping?.bestParameters?.clone();
    const undo = () => {
      parameters.restore(this.model);
      this.optimizer.restore(optimizer);
      this.dataRandom.setState(random[0]);
      this.ruleRandom.setState(random[1]);
      schedule.setState(order);
      if (rule !== undefined) this.rule.setState?.(rule);
      if (early) this.earlyStopping?.setState(early, best);
    };
    return Object.assign(undo, {
      dispose() {
        parameters.dispose();
        optimizer.slots.dispose();
        best?.dispose();
      },
    });
  }
}

/**
 * A non-finite loss or gradient caused by the data rather than the model: INVALID_DATA naming the
 * example (its index in the dataset) and the input or task target holding NaN or ±Infinity. The
 * values are only scanned after such a failure, so healthy steps pay nothing.
 */
function blameInputs(error: unknown, raw: RawBatch, indices: Int32Array, tasks: readonly Task[], step: number): unknown {
  if (!(error instanceof MtlError) || (error.code !== 'NON_FINITE_LOSS' && error.code !== 'NON_FINITE_GRADIENT')) return error;
  const perExample = raw.x.length / raw.size;
  const badInput = findNonFinite(raw.x);
  if (badInput >= 0) {
    const culprit = nonFiniteInput('training data', indices[Math.floor(badInput / perExample)]!, raw.x[badInput]!);
    return new MtlError(culprit.code, `${culprit.message} at step ${step} (${error.message})`, { ...culprit.details, step }, { cause: error });
  }
  for (const task of tasks) {
    const values = raw.targets[task.name]!;
    const bad = findNonFinite(values);
    if (bad < 0) continue;
    const example = indices[Math.floor(bad / (values.length / raw.size))]!;
    return new MtlError('INVALID_DATA', `training data: the target of task "${task.name}" for example ${example} is ${values[bad]} at step ${step} (${error.message})`, { what: 'training data', task: task.name, example, value: values[bad], step }, { cause: error });
  }
  return error;
}

/** A NaN validation loss or metric fails the run: it is no score to compare or to report. */
function assertFiniteValidation(results: Readonly<Record<string, number>>, epoch: number, tasks: readonly Task[]): void {
  // Task keys first: the total `loss` is non-finite whenever a task's is, and the task is the culprit.
  const keys = [...Object.keys(results).filter((k) => k !== 'loss'), 'loss'];
  for (const key of keys) {
    const value = results[key];
    if (value === undefined || Number.isFinite(value)) continue;
    const task = tasks.find((t) => key.startsWith(`${t.name}/`))?.name;
    const code = key === 'loss' || key.endsWith('/loss') ? 'NON_FINITE_LOSS' : 'NON_FINITE_METRIC';
    throw new MtlError(code, `validation "${key}" is ${value} after epoch ${epoch}${task ? ` (task "${task}")` : ''}`, { key, task, epoch, value, what: 'validation' });
  }
}
