/**
 * The built action as a runner runs it, with real Docker and the real
 * `@actions/cache` client talking to cache servers this test owns: v1 as Gitea and
 * Forgejo serve it (lowercased keys, newest wins) and v2 as github.com does
 * (immutable keys). Crash → re-run resumes the same session; crash → a resume job by
 * identity; success caches nothing; a SIGKILLed main is rescued by post; a poisoned
 * archive is refused; and the CLI and the action leave the same state behind.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import * as tarStream from "tar-stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { restoreRawState, saveRawState } from "../support/cache-entries.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { newJob, runStep, startStep } from "../support/action.js";
import {
  fake,
  fakeCheckout,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  waitFor,
  walk,
  jsonStart,
} from "../support/runner.js";

const KEY = `sk-ant-action-${Math.random().toString(36).slice(2)}`;

const crashTask = fake({
  steps: [{ say: "first half" }, { write: { path: "half.txt", content: "half\n" } }],
  end: "crash",
});

describe.each([
  ["v1 (Gitea/Forgejo)", { protocol: "v1", flavour: "gitea" }],
  ["v2 (github.com)", { protocol: "v2", flavour: "github" }],
] as const)("the action with the cache protocol %s", (_name, options) => {
  let server: CacheServer;
  beforeAll(async () => {
    server = await startCacheServer(options);
  });
  afterAll(async () => {
    await server.close();
  });

  test("crash in attempt 1 → a re-run (attempt 2) resumes the same bottle and session", async () => {
    const workspace = fakeCheckout();
    const inputs = { agent: "fixer", prompt: crashTask, "anthropic-api-key": KEY, "save-state": "cache" };
    const first = await runStep(newJob({ workspace, runId: "501", attempt: 1, cacheEnv: server.env }), "main", inputs);
    expect(first.code, first.stdout).toBe(1);
    expect(first.outputs).toMatchObject({ outcome: "crashed", preserved: "true", "exit-code": "137" });
    const identity = first.outputs.identity as string;
    expect(first.outputs["cache-key"]).toBe(`bottle-state-${identity}-501-1`);
    expect(first.outputs["resume-command"]).toContain("- uses: ./\n");
    expect(server.entries().map((e) => e.key)).toContain(`bottle-state-${identity}-501-1`);
    expect(first.summary).toContain("### claude-bottle: crashed");
    expect(first.summary).toContain(`| identity | \`${identity}\` |`);

    // A re-run carries the same inputs: the task is already in the session, so only the resume prompt is sent.
    const second = await runStep(newJob({ workspace, runId: "501", attempt: 2, cacheEnv: server.env }), "main", {
      ...inputs,
      "resume-prompt": fake({ steps: [{ run: "cat half.txt" }], end: "success" }),
    });
    expect(second.code, second.stdout).toBe(0);
    expect(second.outputs).toMatchObject({
      identity,
      outcome: "success",
      "session-id": first.outputs["session-id"],
      preserved: "false",
    });
    expect(second.stdout).toContain(`attempt 2: resuming ${identity}`);
    expect(second.stdout).toMatch(/resumed session \S+ with [1-9]\d* earlier entries/);
    // The work tree from before the crash came back and landed in the checkout.
    expect(readFileSync(join(workspace, "half.txt"), "utf8")).toBe("half\n");
    // The runner turns `::add-mask::` into masking; every other line must not hold the key.
    const logged = (first.stdout + second.stdout).split("\n").filter((l) => !l.startsWith("::add-mask::"));
    expect(first.stdout).toContain(`::add-mask::${KEY}`);
    expect(logged.join("\n")).not.toContain(KEY);
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });

  test("crash → a separate resume job by identity continues the session", async () => {
    const workspace = fakeCheckout();
    const used = { GITHUB_ACTION_REPOSITORY: "octo/bottle-action", GITHUB_ACTION_REF: "v1.4.0" };
    const first = await runStep(
      newJob({ workspace, runId: "601", attempt: 1, cacheEnv: server.env, env: used }),
      "main",
      {
        agent: "fixer",
        prompt: crashTask,
        "anthropic-api-key": KEY,
        "save-state": "cache",
      },
    );
    const identity = first.outputs.identity as string;
    expect(first.outputs.preserved).toBe("true");
    // The snippet names the action the way the workflow used it.
    expect(first.outputs["resume-command"]).toBe(
      `- uses: octo/bottle-action@v1.4.0\n  with:\n    mode: resume\n    identity: ${identity}`,
    );
    expect(first.summary).toContain("- uses: octo/bottle-action@v1.4.0");
    const resume = await runStep(
      newJob({ workspace: fakeCheckout(), runId: "602", attempt: 1, cacheEnv: server.env }),
      "main",
      {
        mode: "resume",
        identity,
        "anthropic-api-key": KEY,
        "resume-prompt": fake({ end: "success" }),
      },
    );
    expect(resume.code, resume.stdout).toBe(0);
    expect(resume.outputs).toMatchObject({ identity, outcome: "success", "session-id": first.outputs["session-id"] });
  });

  test("a resume job for an identity with no saved state fails naming the identity and the keys tried", async () => {
    const run = await runStep(
      newJob({ workspace: fakeCheckout(), runId: "701", attempt: 1, cacheEnv: server.env }),
      "main",
      {
        mode: "resume",
        identity: "fixer-nope0",
        "anthropic-api-key": KEY,
      },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'identity: "fixer-nope0" has no saved state in the cache (looked for keys starting with bottle-state-fixer-nope0-)',
    );
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });

  test("clean success caches only a tombstone: the metadata and the settled mark, no transcript or work tree", async () => {
    const before = server.entries().map((e) => e.key);
    const run = await runStep(
      newJob({ workspace: fakeCheckout(), runId: "801", attempt: 1, cacheEnv: server.env }),
      "main",
      {
        agent: "fixer",
        prompt: fake({ steps: [{ write: { path: "done.txt", content: "done\n" } }], end: "success" }),
        "anthropic-api-key": KEY,
      },
    );
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs).toMatchObject({ outcome: "success", preserved: "false", "cache-key": "" });
    const key = `bottle-state-${run.outputs.identity}-801-1`;
    expect(
      server
        .entries()
        .map((e) => e.key)
        .filter((k) => !before.includes(k)),
    ).toEqual([key]);
    const names: string[] = [];
    const extract = tarStream.extract();
    extract.on("entry", (header, stream, next) => {
      names.push(header.name);
      stream.on("end", next);
      stream.resume();
    });
    extract.end(await restoreRawState(server, key));
    await new Promise<void>((done) => extract.on("finish", () => done()));
    expect(names.filter((n) => n !== "." && !n.endsWith("/")).sort()).toEqual(["metadata.json", "settled.json"]);
  });

  test("main killed with SIGKILL → post preserves, saves to the cache, leaves no containers", async () => {
    const workspace = fakeCheckout();
    const job = newJob({ workspace, runId: "901", attempt: 1, cacheEnv: server.env });
    const { child, done } = startStep(job, "main", {
      agent: "fixer",
      prompt: fake({ steps: [{ say: "long job" }], end: "hang" }),
      "anthropic-api-key": KEY,
    });
    let out = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes("claude: long job"), 120_000, "claude to start");
    child.kill("SIGKILL");
    const main = await done;
    const identity = main.outputs.identity as string;
    expect(labelled(identity).containers.length).toBe(2);
    const post = await runStep(job, "post");
    expect(post.code, post.stdout).toBe(0);
    expect(post.stdout).toContain(`bottle's state is saved to the cache as bottle-state-${identity}-901-1`);
    expect(labelled()).toEqual({ containers: [], networks: [] });
    // The rescued state resumes in a later job.
    const resume = await runStep(
      newJob({ workspace: fakeCheckout(), runId: "902", attempt: 1, cacheEnv: server.env }),
      "main",
      {
        mode: "resume",
        identity,
        "anthropic-api-key": KEY,
        "resume-prompt": fake({ end: "success" }),
      },
    );
    expect(resume.outputs).toMatchObject({ outcome: "success", identity });
    expect(resume.stdout).toMatch(/resumed session \S+ with [1-9]\d* earlier entries/);
  });

  test("a cancelled job (SIGINT to main): interrupted, state saved by main, post has nothing left to do", async () => {
    const job = newJob({ workspace: fakeCheckout(), runId: "951", attempt: 1, cacheEnv: server.env });
    const { child, done } = startStep(job, "main", {
      agent: "fixer",
      prompt: fake({ steps: [{ say: "working" }], end: "hang" }),
      "anthropic-api-key": KEY,
    });
    let out = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes("claude: working"), 120_000, "claude to start");
    child.kill("SIGINT");
    const main = await done;
    expect(main.outputs).toMatchObject({ outcome: "interrupted", preserved: "true" });
    expect(main.outputs["cache-key"]).toBe(`bottle-state-${main.outputs.identity}-951-1`);
    expect(labelled()).toEqual({ containers: [], networks: [] });
    const post = await runStep(job, "post");
    expect(post.code).toBe(0);
    expect(post.stdout).not.toContain("main stopped early");
  });

  test.each([
    ["traversal", { name: "../../../escaped.txt", body: "x" }],
    ["a symlink out", { name: "workspace/link", type: "symlink" as const, linkname: "/etc" }],
  ])("a poisoned cache archive (%s) is refused; nothing is written outside the state dir", async (_kind, poison) => {
    const identity = `fixer-p${options.protocol}${_kind === "traversal" ? "t" : "s"}x`.slice(0, 12);
    const workspace = fakeCheckout();
    await saveRawState(server, workspace, `bottle-state-${identity}-1-1`, [
      { name: "metadata.json", body: "{}" },
      poison,
    ]);
    const job = newJob({ workspace, runId: "1001", attempt: 1, cacheEnv: server.env });
    const run = await runStep(job, "main", { mode: "resume", identity, "anthropic-api-key": KEY });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("restored state refused");
    expect(existsSync(join(job.runnerTemp, "..", "escaped.txt"))).toBe(false);
    expect(existsSync(join(job.runnerTemp, "claude-bottle", "state", identity))).toBe(false);
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });
});

describe("parity", () => {
  test("the same crash through `node runner` and through the action leaves the same state layout and outcome", async () => {
    const server = await startCacheServer({ protocol: "v1", flavour: "gitea" });
    try {
      const workspace = fakeCheckout();
      const job = newJob({
        workspace,
        runId: "1101",
        attempt: 1,
        cacheEnv: server.env,
        env: { CLAUDE_BOTTLE_HOME: mkdtempSync(join(tmpdir(), "parity-")) },
      });
      const action = await runStep(job, "main", {
        agent: "fixer",
        prompt: crashTask,
        "anthropic-api-key": KEY,
        "save-state": "cache",
      });
      const box = sandbox({ ANTHROPIC_API_KEY: KEY });
      const cli = await runRunner(
        [...jsonStart("fixer", join(workspace, "claude-bottle.json")), crashTask],
        box,
        workspace,
      );
      const cliResult = jsonResult(cli);
      expect(action.outputs.outcome).toBe(cliResult.outcome);
      const layout = (dir: string) =>
        [...walk(dir)]
          .map((f) => relative(dir, f).replace(/[0-9a-f-]{36}/g, "<session>"))
          .filter((f) => !f.includes("/.claude/") || f.includes("projects/"))
          .sort();
      const actionState = join(String(job.env.CLAUDE_BOTTLE_HOME), "state", action.outputs.identity as string);
      expect(layout(actionState)).toEqual(layout(String(cliResult.stateDir)));
      expect(layout(actionState)).toEqual(
        expect.arrayContaining(["metadata.json", ".preserve", "events.jsonl", "egress.jsonl", "workspace/half.txt"]),
      );
    } finally {
      await server.close();
    }
  });
});
