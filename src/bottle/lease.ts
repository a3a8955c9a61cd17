/**
 * A runner's lease on its bottle: how a runner that `cleanup` cannot see (on
 * another host, in another container) says it is still there.
 *
 * Labels cannot change on a running container, and a runner's files live on its
 * own host, so the lease is a file in the bottle's gate container, LEASE_PATH,
 * which the runner writes with the gate's program and rewrites through the engine
 * every LEASE_RENEW_MS. The gate runs as nobody and cannot change it; the agent
 * cannot reach it. A lease says until when it holds (its renewal plus LEASE_TTL_MS)
 * in the engine's clock: runners on different hosts share no clock but do share the
 * engine, so a runner reads the engine's time once and counts on from it with its
 * own monotonic clock, and `cleanup` compares with the engine's time as well.
 */
import { z } from "zod";
import type { DockerClient } from "../docker/client.js";
import { errorMessage } from "../errors.js";
import { type FileEntry, ROOT_OWNER, packFiles, readTarFiles } from "./archive.js";

/** How often a runner rewrites its lease. */
export const LEASE_RENEW_MS = 15_000;
/** How long a lease holds without renewal: six renewals missed in a row. */
export const LEASE_TTL_MS = 90_000;
/** The lease's place in the gate container, beside the gate's program and config. */
export const LEASE_PATH = "/opt/claude-bottle-gate/lease.json";

// Not strict: a runner of a later version may say more, and its lease still counts.
const LeaseSchema = z.object({
  version: z.literal(1),
  runner: z.string().max(300),
  renewedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
export type Lease = z.infer<typeof LeaseSchema>;

export function leaseAt(runner: string, now: Date): Lease {
  return {
    version: 1,
    runner,
    renewedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + LEASE_TTL_MS).toISOString(),
  };
}

/** The engine's time, read once and counted on with this process's monotonic clock. */
export class EngineClock {
  private constructor(
    private readonly engineMs: number,
    private readonly readAt: number,
  ) {}

  static async read(docker: DockerClient): Promise<EngineClock> {
    const before = performance.now();
    const engine = await docker.engineTime();
    return new EngineClock(engine.getTime(), (before + performance.now()) / 2);
  }

  now(): Date {
    return new Date(this.engineMs + performance.now() - this.readAt);
  }
}

/**
 * The lease of one launch: its first file goes into the gate with the program, then it is kept renewed until
 * `stop`.
 */
export class BottleLease {
  private clock: EngineClock | null = null;
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(
    private readonly docker: DockerClient,
    private readonly runner: string,
    private readonly warn: (line: string) => void,
  ) {}

  /** Reads the engine's clock and returns the first lease, to be written into the gate before it starts. */
  async begin(): Promise<FileEntry> {
    this.clock = await EngineClock.read(this.docker);
    return this.file();
  }

  /** Renews the lease in `gate` every LEASE_RENEW_MS until `stop`. */
  keep(gate: string): void {
    if (this.clock === null) throw new Error("BottleLease.keep before begin");
    this.timer = setInterval(() => {
      this.renewing = this.renewing.then(() => this.renew(gate));
    }, LEASE_RENEW_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.renewing;
  }

  private file(): FileEntry {
    const lease = leaseAt(this.runner, this.clock!.now());
    return { name: LEASE_PATH.slice(1), content: `${JSON.stringify(lease)}\n`, mode: 0o444 };
  }

  private async renew(gate: string): Promise<void> {
    if (this.timer === null) return;
    try {
      await this.docker.putArchive(gate, "/", await packFiles([this.file()], ROOT_OWNER));
      this.failing = false;
    } catch (error) {
      if (this.timer === null || this.failing) return;
      this.failing = true;
      this.warn(
        `renewing the bottle's lease failed (${errorMessage(error)}); a \`cleanup\` elsewhere may remove the ` +
          `bottle once the lease expires`,
      );
    }
  }
}

/** What the gate of a bottle holds: a lease, none, or one that cannot be read (and so proves nothing). */
export type LeaseReading = { lease: Lease } | { missing: true } | { problem: string };

export async function readLease(docker: DockerClient, gate: string): Promise<LeaseReading> {
  try {
    const tar = await docker.getArchive(gate, LEASE_PATH);
    if (tar === null) return { missing: true };
    const files = await readTarFiles(tar, 64 * 1024);
    const text = [...files.values()][0];
    if (text === undefined) return { missing: true };
    const parsed = LeaseSchema.safeParse(JSON.parse(text.toString("utf8")));
    return parsed.success
      ? { lease: parsed.data }
      : { problem: `the lease in ${gate} is not one this runner reads: ${parsed.error.issues[0]?.message}` };
  } catch (error) {
    return { problem: `reading the lease in ${gate} failed: ${errorMessage(error)}` };
  }
}
