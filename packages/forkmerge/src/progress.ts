import { clock } from '@mtl/core/internal';
import type { ForkMergeProgress, RoundRecord } from './options.js';
import type { ResolvedOptions } from './validate.js';

/**
 * ForkMerge's progress: a line when each round's branches start training, and one when it has merged
 * (λ / Λ, score, times, elapsed, ETA from the mean round so far), on stdout when `progress` is on;
 * the same events go to `onProgress`.
 */
export class ProgressLog {
  private readonly started = performance.now();
  private readonly stream: NodeJS.WritableStream | undefined;

  constructor(
    private readonly resolved: ResolvedOptions,
    /** The first round this run trains (after a resume, not 0). */
    private readonly firstRound: number,
  ) {
    this.stream = resolved.progress?.stream;
  }

  phase(phase: 'train' | 'search', round: number, onProgress: ((event: ForkMergeProgress) => void) | undefined): void {
    const event = this.event(phase, round);
    onProgress?.(event);
    if (phase === 'train' && this.stream) {
      const names = this.resolved.branches.map((b) => b.name).join(', ');
      this.stream.write(`forkmerge round ${round + 1}/${this.resolved.rounds}: training ${names} for ${this.resolved.intervalSteps} steps${this.resolved.workers ? ' in workers' : ''} | ${clock(event.elapsedMs / 1000)} elapsed${eta(event)}\n`);
    }
  }

  merged(record: RoundRecord, onProgress: ((event: ForkMergeProgress) => void) | undefined): void {
    const event = { ...this.event('merged', record.round), record };
    onProgress?.(event);
    if (!this.stream) return;
    const weights = record.weights.length === 2 ? `λ ${record.lambda.toFixed(2)}` : `Λ [${record.weights.map((w) => w.toFixed(2)).join(', ')}]`;
    this.stream.write(
      `forkmerge round ${record.round + 1}/${this.resolved.rounds}: merged ${record.branches.join(' + ')} with ${weights}, score ${record.score.toPrecision(4)} | train ${(record.trainMs / 1000).toFixed(1)}s, search ${record.evaluations} candidates ${(record.searchMs / 1000).toFixed(1)}s | ${clock(event.elapsedMs / 1000)} elapsed${eta(event)}\n`,
    );
  }

  private event(phase: ForkMergeProgress['phase'], round: number): ForkMergeProgress {
    const elapsedMs = performance.now() - this.started;
    const done = round - this.firstRound + (phase === 'merged' ? 1 : 0);
    const left = this.resolved.rounds - round - (phase === 'merged' ? 1 : 0);
    return {
      round,
      rounds: this.resolved.rounds,
      phase,
      step: (round + (phase === 'merged' ? 1 : 0)) * this.resolved.intervalSteps,
      totalSteps: this.resolved.rounds * this.resolved.intervalSteps,
      elapsedMs,
      etaMs: done > 0 ? (elapsedMs / done) * left : undefined,
    };
  }
}

function eta(event: ForkMergeProgress): string {
  return event.etaMs === undefined ? '' : `, ETA ${clock(event.etaMs / 1000)}`;
}
