/**
 * `limits.state`: the most a bottle's state directory may hold on the runner's disk.
 *
 * What the agent controls reaches the state three ways: the snapshots of its work
 * tree and ~/.claude (archives streamed out of the container), claude's stdout
 * (events.jsonl) and the gate's log of its connections (egress.jsonl). A snapshot is
 * counted as its archive streams out, and one that would take the state past the
 * limit fails before a byte past it is written, so the previous snapshot stays as it
 * was. The logs together may take a quarter of the limit; lines past that are
 * dropped, so a flood of output never leaves the snapshots without room.
 *
 * Snapshots are measured in archive bytes (a 512-byte header per entry, file
 * contents in 512-byte blocks), the unit of the stream the engine sends, so a
 * counted stream and a measured directory agree. While a snapshot replaces the
 * previous one, both are on disk for a moment: the limit bounds what is kept.
 */
import { lstat, readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { type Readable, Transform } from "node:stream";
import { formatSize } from "../manifest/size.js";
import { SNAPSHOT_DIRS, type SnapshotDir, type StateStore } from "./store.js";

/** The share of the limit the logs may take together. */
const LOG_SHARE = 4;
const BLOCK = 512;

/** A snapshot did not fit in `limits.state`; the previous one is kept. */
export class StateLimitExceeded extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateLimitExceeded";
  }
}

export class StateBudget {
  private readonly snapshots = new Map<SnapshotDir, number>();
  private readonly logNames: Set<string>;
  private logBytes = 0;
  private otherBytes = 0;
  private droppedLogBytes = 0;

  private constructor(
    readonly limitBytes: number,
    private readonly dir: string,
    logs: string[],
  ) {
    this.logNames = new Set(logs.map((path) => basename(path)));
  }

  /** The budget of a state directory as it is now (what an earlier launch left counts). */
  static async open(state: StateStore, identity: string, limitBytes: number): Promise<StateBudget> {
    const budget = new StateBudget(limitBytes, state.dir(identity), [
      state.path(identity, "events"),
      state.path(identity, "egress"),
    ]);
    for (const name of SNAPSHOT_DIRS) budget.snapshots.set(name, await archiveBytes(state.path(identity, name)));
    await budget.measureFiles();
    return budget;
  }

  /** Counts a new snapshot `name` (`what` names it for people) against what the rest of the state leaves. */
  async meter(name: SnapshotDir, what: string): Promise<SnapshotMeter> {
    await this.measureFiles();
    let others = this.otherBytes + this.logBytes;
    for (const [other, bytes] of this.snapshots) if (other !== name) others += bytes;
    const allowance = this.limitBytes - others;
    return new SnapshotMeter(
      allowance,
      (bytes) => this.snapshots.set(name, bytes),
      () =>
        new StateLimitExceeded(
          `${what} is larger than the ${mebibytes(Math.max(allowance, 0))} that limits.state ` +
            `(${formatSize(this.limitBytes)}) leaves for it ` +
            `(the rest of the state takes ${mebibytes(others)}); it was not kept`,
        ),
    );
  }

  /** Whether `bytes` more of a log fit in the logs' share; they are counted when they do. */
  admitLog(bytes: number): boolean {
    const total = this.otherBytes + this.logBytes + [...this.snapshots.values()].reduce((a, b) => a + b, 0);
    if (this.logBytes + bytes > this.limitBytes / LOG_SHARE || total + bytes > this.limitBytes) {
      this.droppedLogBytes += bytes;
      return false;
    }
    this.logBytes += bytes;
    return true;
  }

  /** What a user should hear about log lines that were dropped, if any were. */
  droppedLogs(): string | null {
    if (this.droppedLogBytes === 0) return null;
    return (
      `${mebibytes(this.droppedLogBytes)} of claude's output and the gate's log were not kept in the ` +
      `state: the logs may take a quarter of limits.state (${formatSize(this.limitBytes)})`
    );
  }

  /** The state's own files at its top: metadata, Dockerfiles, the build log, and the logs. */
  private async measureFiles(): Promise<void> {
    let other = 0;
    let logs = 0;
    for (const entry of await readdir(this.dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isFile()) continue;
      const size = (await lstat(join(this.dir, entry.name)).catch(() => ({ size: 0 }))).size;
      if (this.logNames.has(entry.name)) logs += size;
      else other += size;
    }
    this.otherBytes = other;
    // Lines admitted but still on their way to the file count as written.
    this.logBytes = Math.max(this.logBytes, logs);
  }
}

/** One snapshot's count: every archive of the snapshot streams `through` it. */
export class SnapshotMeter {
  private bytes = 0;

  constructor(
    private readonly allowance: number,
    private readonly record: (bytes: number) => void,
    private readonly exceeded: () => StateLimitExceeded,
  ) {}

  /** `source` as it is counted; fails with StateLimitExceeded instead of passing on a byte past the allowance. */
  through(source: Readable): Readable {
    const meter = this;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        meter.bytes += chunk.length;
        if (meter.bytes > meter.allowance) done(meter.exceeded());
        else done(null, chunk);
      },
    });
    source.on("error", (error) => counted.destroy(error));
    // The reader (a pipeline) learns of the error from the stream's state and may stop listening
    // before the event is emitted; it must not become an uncaught exception then.
    counted.on("error", () => {});
    return source.pipe(counted);
  }

  /** The snapshot was kept: it now takes what was counted. */
  kept(): void {
    this.record(this.bytes);
  }
}

/** A directory's size in archive bytes (0 when it does not exist). */
export async function archiveBytes(path: string): Promise<number> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return BLOCK + (info.isFile() ? Math.ceil(info.size / BLOCK) * BLOCK : 0);
  let total = BLOCK;
  for (const name of await readdir(path)) total += await archiveBytes(join(path, name));
  return total;
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
