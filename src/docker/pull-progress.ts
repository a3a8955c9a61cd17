/**
 * An image pull's progress events folded into a few readable lines. The engine sends
 * an event per layer per chunk (`Downloading` with bytes, `Pull complete`, …);
 * printed as they come they would flood a CI log, and printed not at all a slow pull
 * looks like a hang. So: at most one line every `everyMs` with layers done and
 * bytes fetched, then one when it ends (the caller says when it starts).
 */
import { formatMemory } from "../manifest/memory.js";

/** One event of the engine's pull stream (JSON lines from POST /images/create). */
export interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
}

interface Layer {
  current: number;
  total: number;
  done: boolean;
}

/** The statuses a pull reports for one layer, as opposed to the image as a whole. */
const LAYER_STATUSES = new Set([
  "Pulling fs layer",
  "Waiting",
  "Downloading",
  "Verifying Checksum",
  "Download complete",
  "Extracting",
  "Pull complete",
  "Already exists",
]);

export class PullProgress {
  private readonly layers = new Map<string, Layer>();
  private lastReport: number;

  constructor(
    private readonly ref: string,
    private readonly report: (line: string) => void,
    private readonly now: () => number = Date.now,
    private readonly everyMs = 2_000,
  ) {
    this.lastReport = now();
  }

  event(event: PullEvent): void {
    const status = event.status ?? "";
    if (event.id && LAYER_STATUSES.has(status)) {
      const layer = this.layers.get(event.id) ?? { current: 0, total: 0, done: false };
      if (status === "Downloading") {
        layer.current = event.progressDetail?.current ?? layer.current;
        layer.total = event.progressDetail?.total ?? layer.total;
      }
      if (status === "Download complete") layer.current = layer.total;
      if (status === "Pull complete" || status === "Already exists") layer.done = true;
      this.layers.set(event.id, layer);
    }
    const time = this.now();
    if (time - this.lastReport >= this.everyMs) {
      this.lastReport = time;
      this.report(`pulling ${this.ref}: ${this.summary()}`);
    }
  }

  /** The closing line, once the engine says the pull is over. */
  end(): void {
    this.report(`pulled ${this.ref}${this.layers.size ? `: ${this.summary()}` : ""}`);
  }

  private summary(): string {
    const layers = [...this.layers.values()];
    const done = layers.filter((l) => l.done).length;
    const current = layers.reduce((sum, l) => sum + l.current, 0);
    const total = layers.reduce((sum, l) => sum + l.total, 0);
    return `${done}/${layers.length} layers${total > 0 ? `, ${formatMemory(current)} of ${formatMemory(total)}` : ""}`;
  }
}
