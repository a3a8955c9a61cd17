/**
 * The per-bottle state directory on the runner's disk:
 *
 *   $CLAUDE_BOTTLE_HOME/state/<identity>/
 *     metadata.json   identity, agent, manifest, session, outcome, exit code, times
 *     Dockerfile      per-bottle override; when present the launch builds from it
 *     capability-block.json  the last accepted proposal: reason, policy, time, the Dockerfile it replaced
 *     Dockerfile.proposed    a proposal whose immediate rebuild failed (the Dockerfile above is untouched)
 *     build.log       the log of a per-bottle build that failed
 *     transcript/     snapshot of the agent's ~/.claude and ~/.claude.json
 *     workspace/      the agent's work tree, when preserved
 *     events.jsonl    claude's raw stream-json events
 *     egress.jsonl    the gate's allow/refuse decisions
 *     .preserve       marker: keep this state when the bottle is torn down
 *
 * Snapshots replace the previous one by renames, so a kill at any instant leaves
 * the last complete snapshot: a new one is unpacked into `.<name>.next`, the old
 * one is renamed to `.<name>.prev`, the new one into place, then the old one is
 * removed. `recover` puts `.prev` back if a kill fell between the two renames.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, readdirSync, statSync, type WriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { IDENTITY_PATTERN, parseIdentity } from "./identity.js";
import { InputError } from "../errors.js";
import { type Metadata, MetadataSchema, type Settled, SettledSchema } from "./metadata.js";

export const SNAPSHOT_DIRS = ["transcript", "workspace"] as const;
export type SnapshotDir = (typeof SNAPSHOT_DIRS)[number];

export class StateStore {
  readonly root: string;

  constructor(readonly home: string) {
    this.root = join(home, "state");
  }

  /** `$CLAUDE_BOTTLE_HOME`, else `~/.claude-bottle`. */
  static fromEnv(env: NodeJS.ProcessEnv): StateStore {
    const home = env.CLAUDE_BOTTLE_HOME;
    return new StateStore(resolve(home && home.length > 0 ? home : join(homedir(), ".claude-bottle")));
  }

  dir(identity: string): string {
    return join(this.root, parseIdentity(identity, "identity"));
  }
  metadataPath(identity: string): string {
    return join(this.dir(identity), "metadata.json");
  }
  dockerfilePath(identity: string): string {
    return join(this.dir(identity), "Dockerfile");
  }
  proposedDockerfilePath(identity: string): string {
    return join(this.dir(identity), "Dockerfile.proposed");
  }
  capabilityBlockPath(identity: string): string {
    return join(this.dir(identity), "capability-block.json");
  }
  buildLogPath(identity: string): string {
    return join(this.dir(identity), "build.log");
  }
  snapshotPath(identity: string, name: SnapshotDir): string {
    return join(this.dir(identity), name);
  }
  eventsPath(identity: string): string {
    return join(this.dir(identity), "events.jsonl");
  }
  egressPath(identity: string): string {
    return join(this.dir(identity), "egress.jsonl");
  }
  settledPath(identity: string): string {
    return join(this.dir(identity), "settled.json");
  }
  private markerPath(identity: string): string {
    return join(this.dir(identity), ".preserve");
  }

  exists(identity: string): boolean {
    return existsSync(this.dir(identity));
  }

  async ensure(identity: string): Promise<string> {
    const dir = this.dir(identity);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async readMetadata(identity: string): Promise<Metadata | null> {
    let text: string;
    try {
      text = await readFile(this.metadataPath(identity), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InputError(
        `${this.metadataPath(identity)}`,
        text.slice(0, 40),
        "is not JSON",
        "remove this state directory or restore it from a good copy",
      );
    }
    // reportInput: the error shows the offending value, not "(missing)".
    const parsed = MetadataSchema.safeParse(json, { reportInput: true });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? issue.path.join(".") : "";
      throw new InputError(
        `${this.metadataPath(identity)}${where ? `: ${where}` : ""}`,
        issue && "input" in issue ? issue.input : undefined,
        `is not valid bottle metadata (${issue?.message ?? "unknown problem"})`,
        "remove this state directory or restore it from a good copy",
      );
    }
    if (parsed.data.identity !== identity) {
      throw new InputError(
        `${this.metadataPath(identity)}: identity`,
        parsed.data.identity,
        `does not match the directory it is in (${identity})`,
        "the state was moved or tampered with; remove it",
      );
    }
    return parsed.data;
  }

  /** Written by rename so a reader never sees half a file. */
  async writeMetadata(metadata: Metadata): Promise<void> {
    await this.ensure(metadata.identity);
    await writeAtomic(this.metadataPath(metadata.identity), `${JSON.stringify(metadata, null, 2)}\n`);
  }

  async updateMetadata(identity: string, change: Partial<Metadata>): Promise<Metadata> {
    const current = await this.readMetadata(identity);
    if (!current) throw new Error(`no metadata for ${identity}`);
    const next = { ...current, ...change };
    await this.writeMetadata(next);
    return next;
  }

  async readDockerfile(identity: string): Promise<string | null> {
    try {
      return await readFile(this.dockerfilePath(identity), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async writeDockerfile(identity: string, content: string): Promise<void> {
    await this.ensure(identity);
    await writeAtomic(this.dockerfilePath(identity), content);
  }

  /** The proposal a failed immediate rebuild left waiting; null when there is none or it cannot be read. */
  async readProposedDockerfile(identity: string): Promise<string | null> {
    return readFile(this.proposedDockerfilePath(identity), "utf8").catch(() => null);
  }
  hasProposedDockerfile(identity: string): boolean {
    return existsSync(this.proposedDockerfilePath(identity));
  }

  /** The log of a per-bottle build that failed; empty when there is none or it cannot be read. */
  async readBuildLog(identity: string): Promise<string> {
    return readFile(this.buildLogPath(identity), "utf8").catch(() => "");
  }

  /** The files of the state a person reads (metadata, Dockerfiles, logs), those that exist. */
  readableFiles(identity: string): string[] {
    return [
      this.metadataPath(identity),
      this.dockerfilePath(identity),
      this.proposedDockerfilePath(identity),
      this.capabilityBlockPath(identity),
      this.buildLogPath(identity),
      this.eventsPath(identity),
      this.egressPath(identity),
    ].filter((path) => existsSync(path));
  }

  /** Makes this store's state of the bottle a tombstone: the metadata and the settled mark, nothing else. */
  async writeTombstone(metadata: Metadata, settled: Settled): Promise<void> {
    await this.remove(metadata.identity);
    await this.writeMetadata(metadata);
    await writeAtomic(this.settledPath(metadata.identity), `${JSON.stringify(settled, null, 2)}\n`);
  }

  /** The settled mark, when the state is a tombstone; checked, since it may come from a restored cache entry. */
  async readSettled(identity: string): Promise<Settled | null> {
    let text: string;
    try {
      text = await readFile(this.settledPath(identity), "utf8");
    } catch {
      return null;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    const parsed = SettledSchema.safeParse(json, { reportInput: true });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(
        this.settledPath(identity),
        text.slice(0, 80),
        `is not a valid settled mark (${issue?.message ?? "unknown problem"})`,
        "remove this state directory",
      );
    }
    return parsed.data;
  }

  hasSnapshot(identity: string, name: SnapshotDir): boolean {
    return existsSync(this.snapshotPath(identity, name));
  }

  /** The session id of the newest transcript in the snapshot (`.claude/projects/<dir>/<session>.jsonl`), if any. */
  transcriptSession(identity: string): string | null {
    const projects = join(this.snapshotPath(identity, "transcript"), ".claude", "projects");
    if (!existsSync(projects)) return null;
    const found = readdirSync(projects, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /^[0-9a-f-]{36}\.jsonl$/.test(e.name))
      .map((e) => ({ id: e.name.slice(0, -".jsonl".length), at: statSync(join(e.parentPath, e.name)).mtimeMs }))
      .sort((a, b) => b.at - a.at);
    return found[0]?.id ?? null;
  }

  /** claude's raw events, appended to events.jsonl; the caller ends the stream. */
  appendEvents(identity: string): WriteStream {
    return createWriteStream(this.eventsPath(identity), { flags: "a" });
  }

  /** The record of the last accepted capability-block proposal (capability-block.json). */
  async writeCapabilityBlock(identity: string, record: object): Promise<void> {
    await writeAtomic(this.capabilityBlockPath(identity), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The capability-block record as JSON, or null when there is none or it does not parse. */
  async readCapabilityBlock(identity: string): Promise<unknown> {
    try {
      return JSON.parse(await readFile(this.capabilityBlockPath(identity), "utf8")) as unknown;
    } catch {
      return null;
    }
  }

  async writeProposedDockerfile(identity: string, content: string): Promise<void> {
    await writeAtomic(this.proposedDockerfilePath(identity), content);
  }

  /** The proposal built: Dockerfile.proposed becomes the bottle's Dockerfile, and the log of a failed build goes. */
  async promoteProposedDockerfile(identity: string): Promise<void> {
    await rename(this.proposedDockerfilePath(identity), this.dockerfilePath(identity));
    await rm(this.buildLogPath(identity), { force: true });
  }

  async writeBuildLog(identity: string, content: string): Promise<void> {
    await writeAtomic(this.buildLogPath(identity), content);
  }

  async markPreserved(identity: string): Promise<void> {
    await this.ensure(identity);
    await writeFile(this.markerPath(identity), "");
  }
  async clearPreserved(identity: string): Promise<void> {
    await rm(this.markerPath(identity), { force: true });
  }
  isPreserved(identity: string): boolean {
    return existsSync(this.markerPath(identity));
  }

  async remove(identity: string): Promise<void> {
    await rm(this.dir(identity), { recursive: true, force: true });
  }

  /** Identities with a state directory, preserved or not. */
  async identities(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    return names.filter((n) => IDENTITY_PATTERN.test(n)).sort();
  }

  /**
   * Replaces snapshot `name` with what `fill` writes into a fresh directory. If
   * `fill` throws, the previous snapshot stays untouched.
   */
  async replaceSnapshot(identity: string, name: SnapshotDir, fill: (dir: string) => Promise<void>): Promise<void> {
    const dir = await this.ensure(identity);
    const target = join(dir, name);
    const next = join(dir, `.${name}.next-${randomBytes(4).toString("hex")}`);
    const prev = join(dir, `.${name}.prev`);
    await this.recoverOne(identity, name);
    await mkdir(next, { recursive: true });
    try {
      await fill(next);
    } catch (error) {
      await rm(next, { recursive: true, force: true });
      throw error;
    }
    if (existsSync(target)) await rename(target, prev);
    await rename(next, target);
    await rm(prev, { recursive: true, force: true });
  }

  /** Repairs what a kill between renames left behind: the last complete snapshot wins. */
  async recover(identity: string): Promise<void> {
    for (const name of SNAPSHOT_DIRS) await this.recoverOne(identity, name);
  }

  private async recoverOne(identity: string, name: SnapshotDir): Promise<void> {
    const dir = this.dir(identity);
    if (!existsSync(dir)) return;
    const target = join(dir, name);
    const prev = join(dir, `.${name}.prev`);
    if (existsSync(prev)) {
      if (existsSync(target)) await rm(prev, { recursive: true, force: true });
      else await rename(prev, target);
    }
    for (const entry of await readdir(dir)) {
      if (entry.startsWith(`.${name}.next-`)) await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
}

/** The old file or the new one, never half of either; a write that fails (a full disk) leaves no partial file behind. */
export async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw error;
  }
}
