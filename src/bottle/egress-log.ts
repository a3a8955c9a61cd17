/**
 * The gate's egress decisions, as the runner keeps them: every `egress` event the
 * gate prints becomes one line of `egress.jsonl` in the state directory, and the
 * counts become the summary printed when the run ends (hosts reached, hosts
 * refused), so a user can learn what an agent needs before locking it down. A
 * connection the gate refused from outside the bottle (`client-refused`: something
 * beside it on its way out) is kept as a line too, and counted by address.
 */
import { type WriteStream, createWriteStream } from "node:fs";

export interface EgressSummary {
  /** `host:port` → connections let through (allowed, or allowed in audit mode). */
  reached: Record<string, number>;
  /** `host:port` → connections refused (or, in audit mode, that would have been). */
  refused: Record<string, number>;
}

/** Where the strangers the gate only counted are counted. */
const MORE_STRANGERS = "more addresses (counted, not logged)";

export class EgressLog {
  private readonly file: WriteStream;
  readonly summary: EgressSummary = { reached: {}, refused: {} };
  /** Client address → connections from outside the bottle the gate closed unanswered. */
  readonly strangers: Record<string, number> = {};

  /** `keep` says whether a line still fits in the state (limits.state); a line it refuses is only counted. */
  constructor(
    path: string,
    private readonly keep: (bytes: number) => boolean = () => true,
  ) {
    this.file = createWriteStream(path, { flags: "a", mode: 0o600 });
  }

  /** One line of the gate's stdout; anything but an egress decision or a refused client is ignored. */
  accept(line: string): void {
    let event: { event?: unknown; host?: unknown; port?: unknown; decision?: unknown; from?: unknown; more?: unknown };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    if (event.event !== "egress" && event.event !== "client-refused") return;
    if (this.keep(Buffer.byteLength(line) + 1)) this.file.write(`${line}\n`);
    if (event.event === "client-refused") {
      // The gate logs the first ones by address, then how many more.
      const more = typeof event.more === "number" && event.more > 0 ? event.more : 0;
      const from = more ? MORE_STRANGERS : String(event.from);
      this.strangers[from] = (this.strangers[from] ?? 0) + (more || 1);
      return;
    }
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

/** A warning when the gate refused clients from outside the bottle, or undefined. */
export function describeStrangers(strangers: Record<string, number>): string | undefined {
  const entries = Object.entries(strangers);
  if (entries.length === 0) return undefined;
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  const from = entries.map(([address, n]) => `${address} (${n})`).join(", ");
  return (
    `the gate refused ${total} connection(s) from outside the bottle, from ${from}: something on its way out ` +
    "tried to use it; see egress.jsonl"
  );
}

export function describeEgress(summary: EgressSummary): string {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([host, n]) => `${host} (${n})`)
      .join(", ") || "none";
  return `egress: reached ${list(summary.reached)}; refused ${list(summary.refused)}`;
}
