/**
 * Snapshots of the agent's transcript (~/.claude, settings included) and work tree,
 * read through the archive API into the state, each replacing the last only once
 * it is complete and within limits.state.
 */
import type { Readable } from "node:stream";
import type { DockerClient } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import type { Log } from "../../log/log.js";
import { type SnapshotMeter, type StateBudget, StateLimitExceeded } from "../../state/budget.js";
import type { SnapshotDir, StateStore } from "../../state/store.js";
import { AGENT_CONFIG_DIR, AGENT_WORKSPACE } from "../claude.js";
import { describeLeftOut, extractSnapshot } from "../worktree-snapshot.js";

/**
 * How long a request waits before its snapshot starts. The events that end a turn come in
 * bursts, and those that end the session (the last answer, the result) are followed at once by
 * claude's exit and the final snapshot, which reads the transcript anyway: waiting this long
 * lets them coalesce into one snapshot, or into none when the session ends first.
 */
export const SNAPSHOT_SETTLE_MS = 250;

/**
 * Runs snapshots one at a time, each once the requests for it have settled; requests made
 * while one waits or runs coalesce into one more. Once closed, none starts.
 */
export class Snapshotter {
  private running: Promise<void> | null = null;
  private pending = false;
  private waiting: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly take: () => Promise<void>,
    private readonly log: Log,
    private readonly settleMs = SNAPSHOT_SETTLE_MS,
  ) {}

  request(): void {
    if (this.closed || this.waiting) return;
    this.waiting = setTimeout(() => {
      this.waiting = null;
      if (this.running) this.pending = true;
      else this.running = this.loop();
    }, this.settleMs);
  }

  /** No snapshot starts from now on (the final one follows); resolves once the one running has ended. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = false;
    if (this.waiting) clearTimeout(this.waiting);
    this.waiting = null;
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.pending = false;
        await this.take().catch((e) => this.log.warn(`snapshot failed (the previous one is kept): ${errorMessage(e)}`));
      } while (this.pending && !this.closed);
    } finally {
      this.running = null;
    }
  }
}

/** Where a snapshot is read from and written to. */
export interface SnapshotSource {
  docker: DockerClient;
  state: StateStore;
  container: string;
  identity: string;
  budget: StateBudget;
}

/**
 * claude's config directory, transcripts and settings together (CLAUDE_CONFIG_DIR); `beforeSwap` runs
 * with the new snapshot written and the old one still in place (a fault point).
 */
export async function snapshotTranscript(
  source: SnapshotSource,
  beforeSwap?: () => Promise<void>,
  archive = readArchive(source, AGENT_CONFIG_DIR),
): Promise<void> {
  await takeSnapshot(source, "transcript", archive, "the transcript (~/.claude)", async (meter, tar, dir) => {
    await extractSnapshot(meter.through(tar), dir);
    await beforeSwap?.();
  });
}

/** Links out of the work tree and special files are left out (and said so): they never fail the snapshot. */
export async function snapshotWorkspace(
  source: SnapshotSource,
  log: Pick<Log, "warn">,
  archive = readArchive(source, AGENT_WORKSPACE),
): Promise<void> {
  await takeSnapshot(source, "workspace", archive, "the work tree", async (meter, tar, dir) => {
    const leftOut = await extractSnapshot(meter.through(tar), dir, 1);
    if (leftOut.length) log.warn(describeLeftOut("work tree snapshot", leftOut));
  });
}

/** `path` out of the container as an archive; null when it does not exist. */
function readArchive(source: SnapshotSource, path: string): Promise<Readable | null> {
  return source.docker.getArchive(source.container, path);
}

/**
 * Once `archive` (of the container's path for snapshot `name`) has come, when the path exists
 * (else the last snapshot is kept as it is), has `fill` unpack it in place of that snapshot,
 * within the budget.
 */
async function takeSnapshot(
  source: SnapshotSource,
  name: SnapshotDir,
  archive: Promise<Readable | null>,
  what: string,
  fill: (meter: SnapshotMeter, tar: Readable, dir: string) => Promise<void>,
): Promise<void> {
  const tar = await archive;
  if (!tar) return;
  // Read to its end or destroyed, whatever happens: until then the engine holds the container.
  await destroyedOnFailure(tar, async () => {
    const meter = await source.budget.meter(name, what);
    await source.state.replaceSnapshot(source.identity, name, (dir) => fill(meter, tar, dir));
    meter.kept();
  });
}

/**
 * Both snapshots are tried, whatever the first one does: a transcript that cannot be
 * written must not cost the work tree. Either one past limits.state makes the whole a
 * StateLimitExceeded, which decides the outcome.
 *
 * The engine serves one archive of a container at a time, holding the container until the
 * archive has been sent, so the work tree's is asked for as soon as the transcript's has
 * begun: its engine's start (50–120 ms) then overlaps the transcript's last writes here. Not
 * before: the engine might take the work tree first, and it would wait, unread, for the
 * transcript, which waits for it. It is counted against the budget once the transcript is.
 */
export async function finalSnapshot(source: SnapshotSource, log: Log): Promise<void> {
  const failures: string[] = [];
  let overLimit = false;
  const failed = (what: string) => (error: unknown) => {
    overLimit ||= error instanceof StateLimitExceeded;
    failures.push(`${what}: ${errorMessage(error)}`);
  };
  const transcript = readArchive(source, AGENT_CONFIG_DIR);
  const workTree = transcript.catch(() => null).then(() => readArchive(source, AGENT_WORKSPACE));
  // Awaited below, whatever the transcript does; until then a failure of it is not one left unheard.
  workTree.catch(() => {});
  await snapshotTranscript(source, undefined, transcript).catch(failed("transcript"));
  await snapshotWorkspace(source, log, workTree).catch(failed("workspace"));
  if (failures.length) throw overLimit ? new StateLimitExceeded(failures.join("; ")) : new Error(failures.join("; "));
}

/** Runs `use`; if it fails, the archive stream is destroyed so its connection does not hold the process open. */
async function destroyedOnFailure<T>(stream: Readable, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (error) {
    stream.destroy();
    throw error;
  }
}
