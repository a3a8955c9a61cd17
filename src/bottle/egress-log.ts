/**
 * The gate's egress decisions, as the runner keeps them: every `egress` event the
 * gate prints becomes one line of `egress.jsonl` in the state directory, and the
 * counts become the summary printed when the run ends (hosts reached, hosts
 * refused), so a user can learn what an agent needs before locking it down.
 */
import { type WriteStream, createWriteStream } from "node:fs";

export interface EgressSummary {
  /** `host:port` → connections let through (allowed, or allowed in audit mode). */
  reached: Record<string, number>;
  /** `host:port` → connections refused (or, in audit mode, that would have been). */
  refused: Record<string, number>;
}

export class EgressLog {
  private readonly file: WriteStream;
  readonly summary: EgressSummary = { reached: {}, refused: {} };

  /** `keep` says whether a line still fits in the state (limits.state); a line it refuses is only counted. */
  constructor(
    path: string,
    private readonly keep: (bytes: number) => boolean = () => true,
  ) {
    this.file = createWriteStream(path, { flags: "a", mode: 0o600 });
  }

  /** One line of the gate's stdout; anything but an egress decision is ignored. */
  accept(line: string): void {
    let event: { event?: unknown; host?: unknown; port?: unknown; decision?: unknown };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    if (event.event !== "egress") return;
    if (this.keep(Buffer.byteLength(line) + 1)) this.file.write(`${line}\n`);
    const port = event.port === null || event.port === undefined ? "" : `:${String(event.port)}`;
    const target = `${String(event.host)}${port}`;
    const bucket = event.decision === "allow" ? this.summary.reached : this.summary.refused;
    if (event.decision === "audit") this.summary.reached[target] = (this.summary.reached[target] ?? 0) + 1;
    bucket[target] = (bucket[target] ?? 0) + 1;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.file.end(resolve));
  }
}

export function describeEgress(summary: EgressSummary): string {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([host, n]) => `${host} (${n})`)
      .join(", ") || "none";
  return `egress: reached ${list(summary.reached)}; refused ${list(summary.refused)}`;
}
