/** Wall-clock milliseconds per phase of a launch, for `timings` in the result. */
import { type Phase, TIMING_KEYS, type Timings } from "./types.js";

export class PhaseTimer {
  readonly timings: Timings = {};
  private readonly started = performance.now();

  async time<T>(phase: Phase, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.record(phase, performance.now() - start);
    }
  }

  record(phase: Phase, ms: number): void {
    this.timings[TIMING_KEYS[phase]] = round(ms);
  }

  /** `execStart`: milliseconds from the start of the launch to now. */
  markExecStart(): void {
    this.timings.execStart = round(performance.now() - this.started);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
