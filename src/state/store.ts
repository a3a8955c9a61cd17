/**
 * The one owner of the per-bottle state directories, `$CLAUDE_BOTTLE_HOME/state/<identity>/`:
 * every read and write of a file there goes through StateStore. What each file is lies
 * in layout.ts; how a file or a snapshot is replaced without a half state, in atomic.ts.
 */
import { createWriteStream, existsSync, readdirSync, statSync, type WriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { IDENTITY_PATTERN, parseIdentity } from "./identity.js";
import { InputError } from "../errors.js";
import { type Metadata, MetadataSchema, type Settled, SettledSchema } from "./metadata.js";
import { recoverDir, replaceDir, writeAtomic } from "./atomic.js";
import { READABLE_FILES, SNAPSHOT_DIRS, type SnapshotDir, STATE_FILES, type StateFile } from "./layout.js";

export { SNAPSHOT_DIRS, type SnapshotDir } from "./layout.js";

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
  /** Where `file` of the bottle's state is (see layout.ts), e.g. `path(identity, "dockerfile")`. */
  path(identity: string, file: StateFile): string {
    return join(this.dir(identity), STATE_FILES[file]);
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
      text = await readFile(this.path(identity, "metadata"), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InputError(
        `${this.path(identity, "metadata")}`,
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
        `${this.path(identity, "metadata")}${where ? `: ${where}` : ""}`,
        issue && "input" in issue ? issue.input : undefined,
        `is not valid bottle metadata (${issue?.message ?? "unknown problem"})`,
        "remove this state directory or restore it from a good copy",
      );
    }
    if (parsed.data.identity !== identity) {
      throw new InputError(
        `${this.path(identity, "metadata")}: identity`,
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
    await writeAtomic(this.path(metadata.identity, "metadata"), `${JSON.stringify(metadata, null, 2)}\n`);
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
      return await readFile(this.path(identity, "dockerfile"), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  async writeDockerfile(identity: string, content: string): Promise<void> {
    await this.ensure(identity);
    await writeAtomic(this.path(identity, "dockerfile"), content);
  }

  /** The proposal a failed immediate rebuild left waiting; null when there is none or it cannot be read. */
  async readProposedDockerfile(identity: string): Promise<string | null> {
    return readFile(this.path(identity, "proposedDockerfile"), "utf8").catch(() => null);
  }
  hasProposedDockerfile(identity: string): boolean {
    return existsSync(this.path(identity, "proposedDockerfile"));
  }

  /** The log of a per-bottle build that failed; empty when there is none or it cannot be read. */
  async readBuildLog(identity: string): Promise<string> {
    return readFile(this.path(identity, "buildLog"), "utf8").catch(() => "");
  }

  /** The files of the state a person reads (READABLE_FILES), those that exist. */
  readableFiles(identity: string): string[] {
    return READABLE_FILES.map((file) => this.path(identity, file)).filter((path) => existsSync(path));
  }

  /** Makes this store's state of the bottle a tombstone: the metadata and the settled mark, nothing else. */
  async writeTombstone(metadata: Metadata, settled: Settled): Promise<void> {
    await this.remove(metadata.identity);
    await this.writeMetadata(metadata);
    await writeAtomic(this.path(metadata.identity, "settled"), `${JSON.stringify(settled, null, 2)}\n`);
  }

  /** The settled mark, when the state is a tombstone; checked, since it may come from a restored cache entry. */
  async readSettled(identity: string): Promise<Settled | null> {
    let text: string;
    try {
      text = await readFile(this.path(identity, "settled"), "utf8");
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
        this.path(identity, "settled"),
        text.slice(0, 80),
        `is not a valid settled mark (${issue?.message ?? "unknown problem"})`,
        "remove this state directory",
      );
    }
    return parsed.data;
  }

  hasSnapshot(identity: string, name: SnapshotDir): boolean {
    return existsSync(this.path(identity, name));
  }

  /** The session id of the newest transcript in the snapshot (`.claude/projects/<dir>/<session>.jsonl`), if any. */
  transcriptSession(identity: string): string | null {
    const projects = join(this.path(identity, "transcript"), ".claude", "projects");
    if (!existsSync(projects)) return null;
    const found = readdirSync(projects, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && /^[0-9a-f-]{36}\.jsonl$/.test(e.name))
      .map((e) => ({ id: e.name.slice(0, -".jsonl".length), at: statSync(join(e.parentPath, e.name)).mtimeMs }))
      .sort((a, b) => b.at - a.at);
    return found[0]?.id ?? null;
  }

  /** claude's raw events, appended to events.jsonl; the caller ends the stream. */
  appendEvents(identity: string): WriteStream {
    return createWriteStream(this.path(identity, "events"), { flags: "a" });
  }

  /** The record of the last accepted capability-block proposal (capability-block.json). */
  async writeCapabilityBlock(identity: string, record: object): Promise<void> {
    await writeAtomic(this.path(identity, "capabilityBlock"), `${JSON.stringify(record, null, 2)}\n`);
  }

  /** The capability-block record as JSON, or null when there is none or it does not parse. */
  async readCapabilityBlock(identity: string): Promise<unknown> {
    try {
      return JSON.parse(await readFile(this.path(identity, "capabilityBlock"), "utf8")) as unknown;
    } catch {
      return null;
    }
  }

  async writeProposedDockerfile(identity: string, content: string): Promise<void> {
    await writeAtomic(this.path(identity, "proposedDockerfile"), content);
  }

  /** The proposal built: Dockerfile.proposed becomes the bottle's Dockerfile, and the log of a failed build goes. */
  async promoteProposedDockerfile(identity: string): Promise<void> {
    await rename(this.path(identity, "proposedDockerfile"), this.path(identity, "dockerfile"));
    await rm(this.path(identity, "buildLog"), { force: true });
  }

  async writeBuildLog(identity: string, content: string): Promise<void> {
    await writeAtomic(this.path(identity, "buildLog"), content);
  }

  async markPreserved(identity: string): Promise<void> {
    await this.ensure(identity);
    await writeFile(this.path(identity, "preserve"), "");
  }
  async clearPreserved(identity: string): Promise<void> {
    await rm(this.path(identity, "preserve"), { force: true });
  }
  isPreserved(identity: string): boolean {
    return existsSync(this.path(identity, "preserve"));
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

  /** Replaces snapshot `name` with what `fill` writes into a fresh directory; if `fill` throws, the old one stays. */
  async replaceSnapshot(identity: string, name: SnapshotDir, fill: (dir: string) => Promise<void>): Promise<void> {
    await replaceDir(await this.ensure(identity), STATE_FILES[name], fill);
  }

  /** Repairs what a kill between renames left behind: the last complete snapshot wins. */
  async recover(identity: string): Promise<void> {
    for (const name of SNAPSHOT_DIRS) await recoverDir(this.dir(identity), STATE_FILES[name]);
  }
}
