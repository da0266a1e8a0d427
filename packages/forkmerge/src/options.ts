import type { MultiTaskDataset, MultiTaskModel, Optimizer, OptimizerConfig, Task, UpdateRule } from '@mtl/core';

/** One forking branch: a task-weighting vector ν_b (weight 0 or a missing task: not trained in this branch). */
export interface BranchSpec {
  /** Shown in the round records; default `branch<b>` or the preset's name (`target`, `target+aux`, `all`). */
  readonly name?: string;
  readonly weights: Readonly<Record<string, number>>;
}

/** What a {@link RuleFactory} is told about the branch it builds a rule for. */
export interface BranchInfo {
  readonly index: number;
  readonly name: string;
  /** ν_b, the branch's task weights (tasks with weight 0 omitted). */
  readonly weights: Readonly<Record<string, number>>;
  /**
   * The tasks the branch trains: those with ν_b > 0, each with its loss already scaled by its weight.
   * The rule sees only these, so e.g. PCGrad on this branch projects between these tasks only.
   */
  readonly tasks: readonly Task[];
}

/** Builds the {@link UpdateRule} one branch steps with (any rule, from core or another package). */
export type RuleFactory = (branch: BranchInfo) => UpdateRule;

/**
 * Named branch sets:
 * - `pair` (Algorithm 1): target-only and target+all auxiliaries.
 * - `each-auxiliary` (Algorithm 2 / Eq. 12 plus the joint branch): target-only, target with each auxiliary, all tasks.
 * - `per-task` (multi-task setting): each task alone, and all tasks.
 * - `top-k` (the authors' code): first train target + each auxiliary alone for `topK.pruningSteps`
 *   and rank the auxiliaries by their best validation score; then branch k trains the target with the
 *   k best auxiliaries, for each k in `topK.ks` (NYU `forkmerge.py` L301–351).
 */
export type BranchPreset = 'pair' | 'each-auxiliary' | 'per-task' | 'top-k';

/**
 * How merge weights are searched on validation data:
 * - `grid`: two branches: every λ of the grid; more: every combination of grid values, normalised (|grid|^B evaluations).
 * - `greedy`: Algorithm 3 of the paper (branches in decreasing order of their own score; one coordinate at a time, upper bound shrinking).
 * - `binary`: two branches: bisection of [0, 1] keeping the better half; more: greedy with bisection per coordinate.
 */
export type LambdaSearch = 'grid' | 'greedy' | 'binary';

/** What happens to each branch's optimizer state at a merge (the authors' code: `keep`). */
export type OptimizerStatePolicy = 'keep' | 'reset' | 'merge';

/**
 * What a merge averages:
 * - `shared+target` (the authors' code): parameters and buffers some target task uses — the shared
 *   trunk and the target heads. Parameters only auxiliary tasks use (their heads) stay in each branch
 *   (NYU `forkmerge.py`: `sum_all_weights` over the first branch's keys, loaded with `strict=False`).
 * - `all`: every parameter and buffer, auxiliary heads included (pulls them toward branches that never
 *   trained them).
 */
export type MergeScope = 'shared+target' | 'all';

/**
 * Which parameters of a branch enter a merge:
 * - `last`: where its Δt steps ended (the paper's Algorithms 1–2).
 * - `best`: the best parameters the branch has had at the end of any round so far, by its own validation
 *   score (the authors' code: `trainer.load_best()` after each Δt, forkmerge.py L365–370; the greedy search
 *   then ranks the branches by those scores, L373). The branch forks from θ* over those parameters.
 */
export type BranchCheckpoint = 'last' | 'best';

/**
 * The validation score to maximise: `'loss'` (minus the summed validation loss of the target tasks),
 * a metric name such as `'accuracy'` or `'mse'` (mean over the target tasks, sign flipped when lower is better),
 * or a function of the evaluation record (`loss`, `<task>/loss`, `<task>/<metric>`), higher is better.
 */
export type ScoreOption = string | ((evaluation: Readonly<Record<string, number>>) => number);

/**
 * Running branches in `worker_threads`. Functions cannot cross threads, so each worker imports
 * `setupModule` and calls its default export (a {@link BranchSetupFactory}) with `setupArgs` to
 * rebuild the model architecture, tasks, training data and rule factory. Parameters and optimizer
 * state travel as typed arrays at every fork and merge.
 */
export interface WorkerOptions {
  /** Path or URL of an ES module whose default export is a {@link BranchSetupFactory}. A `.ts` module is loaded through `tsx`. */
  readonly setupModule: string | URL;
  /** Passed to the factory; must be structured-cloneable. */
  readonly setupArgs?: unknown;
  /** Node options for the workers. Default: `--conditions=@mtl/source` when running from TypeScript sources, else none. */
  readonly execArgv?: readonly string[];
  /**
   * Longest a worker may take to train its Δt steps of one round or to save/restore a checkpoint (to
   * start: at least 2 minutes); past it the run fails with WORKER_FAILED naming the branch and round
   * instead of hanging. Default 600 000 (10 minutes).
   */
  readonly timeoutMs?: number;
}

/** What a worker's setup module builds. It must match the main thread's model layout, tasks and training data. */
export interface BranchSetup {
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly train: MultiTaskDataset;
  readonly rule?: RuleFactory;
}

/** Default export of a worker setup module. */
export type BranchSetupFactory = (args: unknown) => BranchSetup | Promise<BranchSetup>;

export interface ForkMergeOptions {
  /** The model to train; it ends holding the final merged parameters θ*. */
  readonly model: MultiTaskModel;
  readonly tasks: readonly Task[];
  readonly train: MultiTaskDataset;
  /** Data the merge weights are chosen on. */
  readonly validation: MultiTaskDataset;
  /** Target task(s). Default: every task (multi-task setting). Other tasks are auxiliaries. */
  readonly target?: string | readonly string[];
  /** Each branch gets its own optimizer built from this configuration. Default: Adam, 1e-3. */
  readonly optimizer?: OptimizerConfig | Optimizer;
  /** Builds each branch's update rule. Default: one backward pass of the branch's (ν-weighted) loss sum. */
  readonly rule?: RuleFactory;
  /** Default: `pair` when there are auxiliary tasks, `per-task` when every task is a target. */
  readonly branches?: BranchPreset | readonly BranchSpec[];
  /**
   * For `branches: 'top-k'`: the nested branch sizes `ks` (default [0, 1, 2], the NYU script; 0 is the
   * target alone) and the steps of the ranking runs (default 10 × Δt: the script's 10 pruning epochs
   * with a merge every epoch); each ranking run is scored every Δt steps and keeps its best.
   */
  readonly topK?: { readonly ks?: readonly number[]; readonly pruningSteps?: number };
  /**
   * What ν_b means: `'loss'` weights (default; the paper, the NYU code) or per-step task `'sampling'`
   * probabilities — each step trains one task drawn with probability ν_t / Σ ν (the DomainNet code).
   */
  readonly taskWeights?: 'loss' | 'sampling';
  /** Δt: steps (or `{ epochs }` of the training data) each branch trains between merges. */
  readonly interval: number | { readonly epochs: number };
  /** Number of fork/train/merge rounds. */
  readonly rounds: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** Seeds every branch's batch stream (the same stream in every branch) and validation subsampling. Default 0. */
  readonly seed?: number;
  /** Default: `grid` with two branches, `greedy` with more. */
  readonly search?: LambdaSearch;
  /** Candidate values of λ (and of each unnormalised coordinate in greedy search), in [0, 1]. Default {0, 0.2, …, 1}. */
  readonly grid?: readonly number[];
  /** Bisection steps of binary search. Default 6. */
  readonly binarySteps?: number;
  /** Default `'loss'`. */
  readonly score?: ScoreOption;
  /** Score each candidate on this many validation examples, drawn afresh (seeded) each round. Default: all. */
  readonly validationSubsample?: number;
  /** K′: after the first merge keep only the K′ branches with the largest merge weights. Default: keep all. */
  readonly prune?: number;
  /** Default `'keep'`. */
  readonly optimizerState?: OptimizerStatePolicy;
  /** Default `'shared+target'` (the authors' code). */
  readonly mergeScope?: MergeScope;
  /** Default `'last'` (the paper); `'best'` is the authors' code. */
  readonly branchCheckpoint?: BranchCheckpoint;
  /**
   * What `model` holds at the end: the `'last'` merge (default, the paper) or the `'best'` merge seen in
   * any round by its validation score (the authors' code keeps it for the final test, L416–418, L425).
   */
  readonly finalModel?: 'last' | 'best';
  /**
   * Where the branches fork from after a merge: the new merge θ* (`'merge'`, default; the paper and the
   * authors' code, L413–414), or the best merge seen so far when the new one scores worse
   * (`'best-merge'`: our variant, a greedy safeguard neither the paper nor the code has).
   */
  readonly forkFrom?: 'merge' | 'best-merge';
  /**
   * Save the run after every round into `checkpoint.dir` (each branch's trainer state, the merge, the
   * records); `resume: true` continues a crashed run from its last completed round, equal to an
   * uninterrupted run. `keep`: rounds kept on disk (default 2).
   */
  readonly checkpoint?: { readonly dir: string; readonly keep?: number };
  /** Continue from `checkpoint.dir` (starts afresh, with a warning, when it holds no run). */
  readonly resume?: boolean;
  /** Progress lines (round, branch training, search, λ, score, elapsed, ETA) on stdout. Default: when stdout is a TTY. */
  readonly progress?: boolean | { readonly stream?: NodeJS.WritableStream };
  /** Told of every phase of the run (for apps that draw their own progress). */
  readonly onProgress?: (event: ForkMergeProgress) => void;
  /** Run the branches concurrently in worker threads. Default: serially in this thread. */
  readonly workers?: WorkerOptions;
  /** Called after every merge. */
  readonly onRound?: (record: RoundRecord) => void;
  /** Batch size of validation passes. Default 256. */
  readonly evaluationBatchSize?: number;
}

/** One phase of a ForkMerge run, as {@link ForkMergeOptions.onProgress} is told of it. */
export interface ForkMergeProgress {
  readonly round: number;
  readonly rounds: number;
  readonly phase: 'train' | 'search' | 'merged';
  /** Training steps each branch has taken when the phase starts. */
  readonly step: number;
  readonly totalSteps: number;
  readonly elapsedMs: number;
  /** Estimated time left (from the mean round time so far); undefined before the first round ends. */
  readonly etaMs?: number | undefined;
  /** For `merged`: the round's record. */
  readonly record?: RoundRecord;
}

/** What happened at one merge. */
export interface RoundRecord {
  /** 0-based. */
  readonly round: number;
  /** Training steps each branch has taken so far. */
  readonly step: number;
  /** Names of the branches that trained this round. */
  readonly branches: readonly string[];
  /** Λ*: merge weights of those branches (non-negative, sum 1). */
  readonly weights: readonly number[];
  /** 1 − Λ*₀: the weight moved off the first branch (with two branches, exactly the paper's λ*). */
  readonly lambda: number;
  /** Validation score of the merged parameters. */
  readonly score: number;
  /** With `branchCheckpoint: 'best'`: each branch's best validation score so far (what it entered the merge with). */
  readonly branchBest?: readonly number[];
  /** Validation score of each branch alone (only computed by greedy search; else empty). */
  readonly branchScores: readonly number[];
  /** Candidate merges evaluated. */
  readonly evaluations: number;
  /** Wall time of the branches' training, of the search, in milliseconds. */
  readonly trainMs: number;
  readonly searchMs: number;
  /** Mean training loss of each branch's tasks over the round (`<branch>/<task>`). */
  readonly trainLoss: Readonly<Record<string, number>>;
}

export interface ForkMergeResult {
  readonly rounds: readonly RoundRecord[];
  /** λ* (1 − Λ*₀) chosen at every merge, in order. */
  readonly lambdas: readonly number[];
  /** Λ* chosen at every merge, in order (over the branches alive at that merge). */
  readonly weights: readonly (readonly number[])[];
  /** Branches still training at the end. */
  readonly branches: readonly string[];
  /** With `branches: 'top-k'`: the auxiliaries ranked by their ranking runs' best validation score. */
  readonly auxiliaryRanking?: readonly { readonly task: string; readonly score: number }[];
  /** Validation score of the parameters left in the model. */
  readonly score: number;
  /** The round whose merge the model holds (the last, or the best with `finalModel: 'best'`). */
  readonly finalRound: number;
  /** The round a `resume: true` run continued after (undefined: it started afresh). */
  readonly resumedAfterRound?: number | undefined;
  /** Training steps each branch took. */
  readonly steps: number;
}
