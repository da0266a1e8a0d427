import type { StepContext, StepResult, UpdateRule } from '@mtl/core';

/**
 * Something an adapter accumulates while a rule trains (an affinity average, the groups over time).
 * Its state is JSON and travels in the Trainer's checkpoints with the rule's, so a job killed
 * mid-way and resumed records exactly what an uninterrupted one does.
 */
export interface Recorder {
  getState(): unknown;
  setState(state: unknown): void;
}

interface RecordedState {
  readonly rule: unknown;
  readonly recorder: unknown;
}

/** `rule` with `recorder`'s state added to its checkpoint state. Training is exactly `rule`'s. */
export function withRecorder(rule: UpdateRule, recorder: Recorder): UpdateRule {
  return {
    name: rule.name,
    step: (ctx: StepContext): StepResult | void => rule.step(ctx),
    getState: (): RecordedState => ({ rule: rule.getState?.(), recorder: recorder.getState() }),
    setState: (state: unknown) => {
      const s = state as RecordedState;
      if (s.rule !== undefined) rule.setState?.(s.rule);
      recorder.setState(s.recorder);
    },
    dispose: () => rule.dispose?.(),
  };
}

/** Element-wise running mean of square matrices. */
export class MatrixMean implements Recorder {
  private sum: number[][] = [];
  private count = 0;

  add(matrix: readonly (readonly number[])[]): void {
    if (this.count === 0) this.sum = matrix.map((row) => row.map(() => 0));
    matrix.forEach((row, i) => row.forEach((v, j) => (this.sum[i]![j]! += v)));
    this.count++;
  }

  mean(): number[][] {
    return this.sum.map((row) => row.map((v) => v / Math.max(1, this.count)));
  }

  get measurements(): number {
    return this.count;
  }

  getState(): unknown {
    return { sum: this.sum, count: this.count };
  }

  setState(state: unknown): void {
    const s = state as { sum: number[][]; count: number };
    this.sum = s.sum.map((row) => [...row]);
    this.count = s.count;
  }
}
