import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MtlError, ParamSnapshot, disposeCheckpoint, loadLatestCheckpoint, modelState, saveCheckpoint, type MultiTaskModel, type OptimizerConfig, type OptimizerSnapshot } from '@mtl/core';
import type { RoundRecord } from './options.js';
import type { BranchRunner } from './runners/branch-runner.js';

/**
 * A ForkMerge run on disk, after round r:
 * - `round-<r>/branch-<b>/`: each surviving branch's whole trainer state (model, optimizer, batch
 *   order, RNGs, rule state), written first;
 * - `merge/`: a core checkpoint (durable, checksummed) of θ*, the assembled model, the best merge,
 *   the branches' best parameters and the JSON state (records, RNG, which branches survive), written
 *   last: it names round r, so a crash between the two writes resumes from round r − 1, whose branch
 *   folders are still there.
 */
const FORMAT = 'mtl-forkmerge-run@1';

interface RunJson {
  readonly format: typeof FORMAT;
  readonly round: number;
  readonly branches: readonly string[];
  readonly branchDirs: readonly string[];
  readonly records: readonly RoundRecord[];
  readonly subsampleRandom: unknown;
  readonly lastScore: number | null;
  readonly bestMerge: { readonly score: number; readonly round: number } | null;
  readonly branchBestScores: readonly (number | null)[];
  readonly mergedOptimizer: boolean;
}

export interface RunToSave {
  readonly round: number;
  readonly runners: readonly BranchRunner[];
  readonly current: ParamSnapshot;
  readonly bestMerge: { readonly params: ParamSnapshot; readonly score: number; readonly round: number } | undefined;
  readonly branchBest: readonly ({ readonly params: ParamSnapshot; readonly score: number } | undefined)[];
  readonly mergedOptimizer: OptimizerSnapshot | undefined;
  readonly records: readonly RoundRecord[];
  readonly subsampleRandom: unknown;
  readonly lastScore: number;
  readonly model: MultiTaskModel;
  readonly optimizer: OptimizerConfig;
}

/** A run read back; the caller owns every snapshot in it. */
export interface SavedRun {
  readonly round: number;
  readonly branches: readonly string[];
  readonly branchDirs: readonly string[];
  readonly current: ParamSnapshot;
  readonly model: ParamSnapshot;
  readonly bestMerge: { readonly params: ParamSnapshot; readonly score: number; readonly round: number } | undefined;
  readonly branchBest: readonly (ParamSnapshot | undefined)[];
  readonly branchBestScores: readonly number[];
  readonly mergedOptimizer: OptimizerSnapshot | undefined;
  readonly records: readonly RoundRecord[];
  readonly subsampleRandom: unknown;
  readonly lastScore: number;
}

const roundDir = (dir: string, round: number) => join(dir, `round-${String(round).padStart(6, '0')}`);

export async function saveRun(checkpoint: { readonly dir: string; readonly keep: number }, run: RunToSave): Promise<void> {
  const { dir, keep } = checkpoint;
  const folder = roundDir(dir, run.round);
  const branchDirs = run.runners.map((r, b) => join(folder, `branch-${b}-${r.name.replace(/[^\w.+-]+/g, '_')}`));
  await mkdir(folder, { recursive: true });
  await Promise.all(run.runners.map((r, b) => r.save(branchDirs[b]!, { round: run.round })));
  const model = ParamSnapshot.capture(run.model);
  const emptySlots = ParamSnapshot.fromTensors(new Map());
  try {
    const snapshots: Record<string, ParamSnapshot> = { model };
    if (run.bestMerge) snapshots['bestMerge'] = run.bestMerge.params;
    run.branchBest.forEach((best, b) => best && (snapshots[`branchBest/${b}`] = best.params));
    const json: RunJson = {
      format: FORMAT,
      round: run.round,
      branches: run.runners.map((r) => r.name),
      branchDirs,
      records: run.records,
      subsampleRandom: run.subsampleRandom,
      lastScore: Number.isFinite(run.lastScore) ? run.lastScore : null,
      bestMerge: run.bestMerge ? { score: run.bestMerge.score, round: run.bestMerge.round } : null,
      branchBestScores: run.branchBest.map((b) => b?.score ?? null),
      mergedOptimizer: run.mergedOptimizer !== undefined,
    };
    await saveCheckpoint(
      join(dir, 'merge'),
      {
        epoch: run.round,
        step: run.round + 1,
        parameters: run.current,
        optimizer: run.mergedOptimizer ?? { config: run.optimizer, slots: emptySlots, steps: {} },
        snapshots,
        trainer: json,
      },
      { keep },
    );
  } finally {
    model.dispose();
    emptySlots.dispose();
  }
  // Only now are older rounds expendable; keep the last `keep` so a damaged newest merge falls back.
  for (const entry of await readdir(dir)) {
    const m = /^round-(\d+)$/.exec(entry);
    if (m && Number(m[1]) <= run.round - keep) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

/** Reads the newest intact run in `dir`; undefined (with a warning) when there is none. */
export async function loadRun(dir: string, model: MultiTaskModel): Promise<SavedRun | undefined> {
  const checkpoint = await loadLatestCheckpoint(join(dir, 'merge'));
  if (!checkpoint) {
    process.emitWarning(`forkMerge resume: no run in ${dir}; starting from the beginning`, { type: 'MtlWarning', code: 'MTL_NOTHING_TO_RESUME' });
    return undefined;
  }
  const path = checkpoint.path ?? dir;
  try {
    const json = checkpoint.trainer as Partial<RunJson> | undefined;
    if (!json || json.format !== FORMAT || typeof json.round !== 'number' || !Array.isArray(json.branches) || !Array.isArray(json.branchDirs) || !Array.isArray(json.records)) {
      throw new MtlError('CHECKPOINT', `${path} is not a ForkMerge run (format ${String(json?.format)})`, { path });
    }
    const saved = checkpoint.snapshots?.['model'];
    const expected = modelState(model).map((p) => `${p.key}[${p.variable.shape.join('x')}]`);
    const actual = saved?.layout.entries.map((e) => `${e.key}[${e.shape.join('x')}]`) ?? [];
    if (expected.join() !== actual.join()) {
      throw new MtlError('CHECKPOINT', `the run in ${path} was saved from a model with other parameters`, { path, expected, actual });
    }
    const take = (name: string) => checkpoint.snapshots?.[name]?.clone();
    const bestMerge = json.bestMerge && take('bestMerge');
    const run: SavedRun = {
      round: json.round,
      branches: json.branches,
      branchDirs: json.branchDirs,
      current: checkpoint.parameters.clone(),
      model: take('model')!,
      bestMerge: bestMerge && json.bestMerge ? { params: bestMerge, score: json.bestMerge.score, round: json.bestMerge.round } : undefined,
      branchBest: json.branches.map((_, b) => take(`branchBest/${b}`)),
      branchBestScores: (json.branchBestScores ?? []).map((s) => s ?? Number.NEGATIVE_INFINITY),
      mergedOptimizer: json.mergedOptimizer ? { ...checkpoint.optimizer, slots: checkpoint.optimizer.slots.clone() } : undefined,
      records: json.records,
      subsampleRandom: json.subsampleRandom,
      lastScore: json.lastScore ?? Number.NaN,
    };
    return run;
  } finally {
    // What the run keeps was cloned above; the checkpoint's own tensors go.
    disposeCheckpoint(checkpoint);
  }
}
