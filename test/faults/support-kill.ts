/**
 * Helpers of the kill, restart and full-disk fault suite: the fake bottle's manifest,
 * reading a state directory the way `resume` will (transcript turns, leftovers of a
 * snapshot), restarting the local Docker daemon with the command line it runs with,
 * and a small tmpfs to fill up.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { FAKE_AGENT_IMAGE, writeManifest } from "../support/runner.js";

/** One bottle `fake` on the fake agent image, its anthropic route injecting `keyEnv`; one agent `agent`. */
export function fakeBottle(dir: string, agent: string, keyEnv: string): string {
  return writeManifest(dir, {
    bottles: {
      fake: {
        image: FAKE_AGENT_IMAGE,
        egress: {
          routes: [
            {
              name: "anthropic",
              upstream: "http://127.0.0.1:9",
              inject: { header: "x-api-key", fromEnv: keyEnv },
              role: "anthropic",
            },
          ],
        },
      },
    },
    agents: { [agent]: { bottle: "fake" } },
  });
}

/** The identities with a state directory under `home`. */
export function statesIn(home: string): string[] {
  const root = join(home, "state");
  return existsSync(root)
    ? readdirSync(root)
        .filter((n) => !n.startsWith("."))
        .sort()
    : [];
}

/** Every line of every session transcript in a state's `transcript/` snapshot, each parsed (a line that does not parse throws). */
export function transcriptEntries(stateDir: string): Record<string, unknown>[] {
  const projects = join(stateDir, "transcript", ".claude", "projects");
  if (!existsSync(projects)) return [];
  const entries: Record<string, unknown>[] = [];
  for (const e of readdirSync(projects, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith(".jsonl")) continue;
    const file = join(e.parentPath, e.name);
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        entries.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        throw new Error(`a transcript line of ${file} is not JSON: ${line.slice(0, 120)}`);
      }
    }
  }
  return entries;
}

/** The texts of the assistant turns in a state's transcript snapshot. */
export function transcriptTurns(stateDir: string): string[] {
  const texts: string[] = [];
  for (const entry of transcriptEntries(stateDir)) {
    const content = (entry.message as { content?: unknown } | undefined)?.content;
    if (entry.type !== "assistant" || !Array.isArray(content)) continue;
    for (const block of content as { type?: string; text?: string }[])
      if (block.type === "text" && block.text) texts.push(block.text);
  }
  return texts;
}

/** Whether any transcript file of the state mentions `text` (cheap, for polling while a run goes on). */
export function transcriptMentions(stateDir: string, text: string): boolean {
  const projects = join(stateDir, "transcript", ".claude", "projects");
  if (!existsSync(projects)) return false;
  try {
    return readdirSync(projects, { recursive: true, withFileTypes: true }).some(
      (e) => e.isFile() && readFileSync(join(e.parentPath, e.name), "utf8").includes(text),
    );
  } catch {
    return false; // a snapshot was being swapped in while we looked
  }
}

/** What a snapshot leaves only when it was cut short: `.transcript.next-*`, `.workspace.prev` and the like. */
export function snapshotLeftovers(stateDir: string): string[] {
  return readdirSync(stateDir).filter((n) => /^\.(transcript|workspace)\.(next|prev)/.test(n));
}

// --- the Docker daemon ----------------------------------------------------------------------

export interface Daemon {
  pid: number;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/**
 * The local dockerd this machine runs by hand (as .ci/run starts it), or why it cannot
 * be restarted from here: a daemon behind DOCKER_HOST, under a service manager, or not
 * ours to signal.
 */
export function localDaemon(): Daemon | string {
  if (process.env.DOCKER_HOST && !process.env.DOCKER_HOST.startsWith("unix://"))
    return `the engine is remote (DOCKER_HOST=${process.env.DOCKER_HOST})`;
  if (process.getuid?.() !== 0) return "not root: the daemon cannot be signalled";
  let pids: number[];
  try {
    pids = execFileSync("pidof", ["dockerd"], { encoding: "utf8" }).trim().split(/\s+/).map(Number);
  } catch {
    return "no dockerd process on this machine";
  }
  if (pids.length !== 1 || !pids[0]) return `expected one dockerd, found ${pids.join(", ")}`;
  const pid = pids[0];
  if (/docker\.service/.test(readFileSync(`/proc/${pid}/cgroup`, "utf8")))
    return "dockerd runs as a systemd service, which restarts it on its own";
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  ) as NodeJS.ProcessEnv;
  return { pid, argv, env, cwd: readlinkSync(`/proc/${pid}/cwd`) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  while (!predicate()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - started;
}

function engineAnswers(): boolean {
  try {
    execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { stdio: "pipe", timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

export const DOCKER_SOCKET = "/var/run/docker.sock";
export const RESTART_LOG = "/tmp/dockerd-restart.log";

/**
 * SIGTERM to dockerd (it stops every container: none has a restart policy, so none
 * comes back), wait until it and its socket are gone, start it again detached with the
 * same command line, environment and directory, and wait until it answers.
 */
export async function restartDaemon(daemon: Daemon): Promise<{ stopMs: number; startMs: number; pid: number }> {
  process.kill(daemon.pid, "SIGTERM");
  const stopMs = await until(
    () => !alive(daemon.pid) && !existsSync(DOCKER_SOCKET),
    90_000,
    "dockerd to stop and remove its socket",
  );
  const log = openSync(RESTART_LOG, "a");
  const [cmd = "dockerd", ...args] = daemon.argv;
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", log, log], env: daemon.env, cwd: daemon.cwd });
  closeSync(log);
  child.unref();
  const startMs = await until(engineAnswers, 90_000, `dockerd to answer again (its log: ${RESTART_LOG})`);
  return { stopMs, startMs, pid: child.pid ?? -1 };
}

/**
 * Containers on the engine that are not `ours`: restarting the daemon would stop
 * them too, so the restart waits for them to go (another suite on a shared engine).
 */
export async function waitForQuietEngine(ours: (name: string) => boolean, timeoutMs: number): Promise<void> {
  let others: string[] = [];
  const quiet = () => {
    others = execFileSync("docker", ["ps", "--format", "{{.Names}}"], { encoding: "utf8" })
      .split("\n")
      .filter((n) => n && !ours(n));
    return others.length === 0;
  };
  try {
    await until(quiet, timeoutMs, "other containers to stop");
  } catch {
    throw new Error(
      `other containers are running on this engine (${others.join(", ")}): restarting dockerd would stop them; run this suite on an engine of its own`,
    );
  }
}

// --- a small disk ---------------------------------------------------------------------------

/** Mounts a tmpfs of `size` (e.g. "8m") at `dir`, which must exist; returns how to take it away again. */
export function mountTmpfs(dir: string, size: string): () => void {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir], { stdio: "pipe" });
  return () => {
    try {
      execFileSync("umount", [dir], { stdio: "pipe" });
    } catch {
      execFileSync("umount", ["-l", dir], { stdio: "pipe" });
    }
  };
}

/** Whether this process may mount a filesystem (root, and a kernel that lets it). */
export function canMount(): string | null {
  if (process.getuid?.() !== 0) return "not root: cannot mount a tmpfs";
  return null;
}

/** Fills the filesystem holding `dir` until it refuses a byte more; returns the bytes written and the file. */
export function fillDisk(dir: string): { file: string; bytes: number } {
  const file = join(dir, "ballast.bin");
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  let bytes = 0;
  try {
    for (let size = chunk.length; size >= 1;) {
      try {
        bytes += writeSync(fd, chunk, 0, size);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
        size = Math.floor(size / 2);
      }
    }
  } finally {
    closeSync(fd);
  }
  return { file, bytes };
}

// --- the last resort -------------------------------------------------------------------------

/**
 * Removes whatever is left of `identity` on the engine, for a test whose runner hung
 * (a hung runner can hold a container's lock until its connections close, which
 * would stall every other `docker rm` of that container). Returns what it removed.
 */
export function forceRemove(identity: string): string[] {
  const filter = `label=claude-bottle.identity=${identity}`;
  const names = (args: string[]) =>
    execFileSync("docker", args, { encoding: "utf8", timeout: 60_000 }).split("\n").filter(Boolean);
  const containers = names(["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
  if (containers.length) execFileSync("docker", ["rm", "-f", ...containers], { stdio: "pipe", timeout: 120_000 });
  const networks = names(["network", "ls", "--filter", filter, "--format", "{{.Name}}"]);
  if (networks.length) execFileSync("docker", ["network", "rm", ...networks], { stdio: "pipe", timeout: 60_000 });
  return [...containers, ...networks];
}
