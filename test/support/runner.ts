/**
 * Helpers for integration tests that drive the product the way a user does: the
 * built `node runner` CLI as a child process, a real Docker engine, and a state
 * home of the test's own.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join, resolve } from "node:path";

export { hostAddressForContainers } from "../../src/cli/demo/demo.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const RUNNER = join(ROOT, "runner");
export const NODE = process.execPath;
export const GATE_IMAGE = "bottle-test/node:24";
export const FAKE_AGENT_IMAGE = "bottle-test/fake-agent:latest";
export const AGENT_BASE_IMAGE = "bottle-test/agent-base:latest";

export interface RunnerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Sandbox {
  home: string;
  workspace: string;
  dir: string;
  env: NodeJS.ProcessEnv;
}

/** A state home, a workspace and an environment of the test's own. */
export function sandbox(extraEnv: NodeJS.ProcessEnv = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), "bottle-itg-"));
  const home = join(dir, "home");
  const workspace = join(dir, "workspace");
  execFileSync("mkdir", ["-p", home, workspace]);
  return {
    dir,
    home,
    workspace,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      CLAUDE_BOTTLE_HOME: home,
      CLAUDE_BOTTLE_GATE_IMAGE: GATE_IMAGE,
      // The engine the tests' own docker commands use.
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      ...extraEnv,
    },
  };
}

/** The anthropic route of the fake agent's bottles: the fake never calls it, so nothing listens upstream. */
export const FAKE_ROUTE = {
  name: "anthropic",
  upstream: "http://127.0.0.1:9",
  inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
  role: "anthropic",
};

/** A manifest whose agent `fixer` runs the scriptable fake claude. */
export const FAKE_MANIFEST = {
  bottles: { fake: { image: FAKE_AGENT_IMAGE, egress: { routes: [FAKE_ROUTE] } } },
  agents: { fixer: { bottle: "fake" } },
};

/** A job's checkout: a fresh directory with the fake manifest (or `manifest`) and a README. */
export function fakeCheckout(manifest: unknown = FAKE_MANIFEST): string {
  const dir = mkdtempSync(join(tmpdir(), "bottle-checkout-"));
  writeManifest(dir, manifest);
  writeFileSync(join(dir, "README.md"), "a project\n");
  return dir;
}

export function writeManifest(dir: string, manifest: unknown): string {
  const path = join(dir, "claude-bottle.json");
  writeFileSync(path, JSON.stringify(manifest, null, 2));
  return path;
}

export function startRunner(
  args: string[],
  box: Sandbox,
  cwd = box.workspace,
): { child: ChildProcess; done: Promise<RunnerRun> } {
  const child = spawn(NODE, [RUNNER, ...args], { cwd, env: box.env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<RunnerRun>((resolveRun) => {
    child.on("close", (code, signal) => resolveRun({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export async function runRunner(args: string[], box: Sandbox, cwd?: string): Promise<RunnerRun> {
  return startRunner(args, box, cwd).done;
}

/** The one JSON object `--format json` prints on stdout. */
export function jsonResult(run: RunnerRun): Record<string, unknown> {
  const lines = run.stdout.trim().split("\n").filter(Boolean);
  try {
    return JSON.parse(lines[lines.length - 1] ?? "") as Record<string, unknown>;
  } catch {
    throw new Error(`no JSON result on stdout (exit ${run.code})\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

type Listed = { name: string; identity: string };

function listLabelled(filter: string): { containers: Listed[]; networks: Listed[] } {
  const list = (args: string[], name: string) =>
    execFileSync(
      "docker",
      [...args, "--filter", filter, "--format", `{{${name}}}\t{{.Label "claude-bottle.identity"}}`],
      { encoding: "utf8" },
    )
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [name = "", identity = ""] = line.split("\t");
        return { name, identity };
      });
  return {
    containers: list(["ps", "-a"], ".Names"),
    networks: list(["network", "ls"], ".Name"),
  };
}

/**
 * Bottles that were on the engine before this test file began are someone else's
 * (another checkout, a benchmark left running): the "nothing is left anywhere"
 * checks look past them, and still see every bottle this file's runs made.
 */
const FOREIGN = (() => {
  try {
    const now = listLabelled("label=claude-bottle.identity");
    return new Set([...now.containers, ...now.networks].map((r) => r.identity));
  } catch {
    return new Set<string>(); // no engine: a unit test that only borrows a helper
  }
})();

/** The start of `node runner start <agent> --manifest <manifest> --format json --prompt`, the prompt to follow. */
export function jsonStart(agent: string, manifest: string): string[] {
  return ["start", agent, "--manifest", manifest, "--format", "json", "--prompt"];
}

/** The OCI runtimes the engine has registered: `runsc` means every bottle's agent runs under gVisor. */
export function engineRuntimes(): string[] {
  return Object.keys(
    JSON.parse(execFileSync("docker", ["info", "--format", "{{json .Runtimes}}"], { encoding: "utf8" })) as object,
  );
}

/**
 * Names of containers and networks carrying the identity label: of one identity, or
 * of every bottle this test file could have made when none is given.
 */
export function labelled(identity?: string): { containers: string[]; networks: string[] } {
  const all = listLabelled(identity ? `label=claude-bottle.identity=${identity}` : "label=claude-bottle.identity");
  const names = (rs: Listed[]) =>
    rs.filter((r) => identity !== undefined || !FOREIGN.has(r.identity)).map((r) => r.name);
  return { containers: names(all.containers), networks: names(all.networks) };
}

/** Images carrying one bottle's identity label (an agent image built for it). */
export function labelledImages(identity: string): string[] {
  return execFileSync(
    "docker",
    ["images", "--filter", `label=claude-bottle.identity=${identity}`, "--format", "{{.Repository}}:{{.Tag}}"],
    { encoding: "utf8" },
  )
    .split("\n")
    .filter(Boolean);
}

/** The engine's clock now, for `agentExecs`. */
export function engineNow(): string {
  return execFileSync("docker", ["info", "--format", "{{.SystemTime}}"], { encoding: "utf8" }).trim();
}

/**
 * Every process exec'd in an agent container of the runner with this pid between two
 * engine times (`engineNow`), from the engine's own events: `exec_create: <command>`.
 */
export function agentExecs(runnerPid: number | undefined, since: string, until: string): string[] {
  return execFileSync(
    "docker",
    [
      "events",
      ...["--since", since, "--until", until],
      ...["--filter", "type=container", "--filter", "event=exec_create"],
      ...["--filter", `label=claude-bottle.runner=${hostname()}/${String(runnerPid)}`],
      ...["--filter", "label=claude-bottle.role=agent"],
      ...["--format", "{{.Action}}"],
    ],
    { encoding: "utf8" },
  )
    .split("\n")
    .filter(Boolean);
}

/** The containers left that the runner with this pid made. */
export function runnerContainers(runnerPid: number | undefined): string[] {
  return execFileSync(
    "docker",
    ["ps", "-a", "--filter", `label=claude-bottle.runner=${hostname()}/${String(runnerPid)}`, "--format", "{{.Names}}"],
    { encoding: "utf8" },
  )
    .split("\n")
    .filter(Boolean);
}

export function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  return new Promise((resolveWait, reject) => {
    const tick = () => {
      if (predicate()) return resolveWait();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 100);
    };
    tick();
  });
}

/** A fake-claude scenario as a prompt. */
export function fake(scenario: { steps?: unknown[]; end?: string }): string {
  return `FAKE:${JSON.stringify(scenario)}`;
}

/** Every file below `dir`: for scanning what a run left behind. */
export function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}
