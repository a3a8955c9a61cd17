/**
 * A bottle's life in CI never goes backwards, on the cache as Gitea/Forgejo serve it
 * (v1, newest wins) and as github.com does (v2, immutable keys): a crash is
 * preserved, a re-run resumes it to success and records that it finished, so a
 * later resume job finds nothing to resume and a further re-run starts fresh; the
 * work tree is never rolled back. And a crash can heal inside the job (max-resumes).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newJob, runStep } from "../support/action.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { FAKE_MANIFEST, fake, fakeCheckout, labelled, runRunner, sandbox, writeManifest } from "../support/runner.js";

const KEY = `sk-ant-history-${Math.random().toString(36).slice(2)}`;

/** Counts its launches in the work tree and kills claude until the count reaches `succeedAt`. */
function crashesUntil(succeedAt: number): string {
  return fake({
    steps: [
      {
        run: `n=$(( $(cat launches 2>/dev/null || echo 0) + 1 )); echo $n > launches; sleep 1; [ $n -ge ${succeedAt} ] || kill -9 $PPID`,
      },
    ],
    end: "success",
  });
}

describe.each([
  ["v1 (Gitea/Forgejo)", { protocol: "v1", flavour: "gitea" }],
  ["v2 (github.com)", { protocol: "v2", flavour: "github" }],
] as const)("the cache protocol %s", (_name, options) => {
  let server: CacheServer;
  beforeAll(async () => {
    server = await startCacheServer(options);
  });
  afterAll(async () => {
    await server.close();
  });

  test("crash → re-run succeeds → a resume job finds it finished → attempt 3 starts fresh; the work tree never rolls back", async () => {
    const workspace = fakeCheckout();
    const base = { agent: "fixer", "anthropic-api-key": KEY, "save-state": "cache" };
    const crash = fake({ steps: [{ write: { path: "work.txt", content: "half\n" } }, { sleep: 1500 }], end: "crash" });
    const first = await runStep(newJob({ workspace, runId: "3001", attempt: 1, cacheEnv: server.env }), "main", {
      ...base,
      prompt: crash,
    });
    expect(first.outputs).toMatchObject({ outcome: "crashed", preserved: "true" });
    const identity = first.outputs.identity as string;

    const finish = fake({ steps: [{ write: { path: "work.txt", content: "done\n" } }], end: "success" });
    const second = await runStep(newJob({ workspace, runId: "3001", attempt: 2, cacheEnv: server.env }), "main", {
      ...base,
      prompt: crash,
      "resume-prompt": finish,
    });
    expect(second.code, second.stdout).toBe(0);
    expect(second.outputs).toMatchObject({
      identity,
      outcome: "success",
      "session-id": first.outputs["session-id"],
      preserved: "false",
    });
    expect(second.stdout).toContain(
      `recorded in the cache that ${identity} finished (success) as bottle-state-${identity}-3001-2`,
    );
    expect(readFileSync(join(workspace, "work.txt"), "utf8")).toBe("done\n");
    // The summary shows the whole life of the bottle.
    expect(second.summary).toContain("| 1 | run 3001 attempt 1 | `crashed` |");
    expect(second.summary).toContain("| 2 | run 3001 attempt 2 | `success` |");

    // A later resume job: the newest entry is the tombstone, so nothing is resumed and nothing is copied back.
    const resume = await runStep(newJob({ workspace, runId: "3002", attempt: 1, cacheEnv: server.env }), "main", {
      mode: "resume",
      identity,
      "anthropic-api-key": KEY,
      "resume-prompt": fake({ steps: [{ write: { path: "work.txt", content: "stale\n" } }], end: "success" }),
    });
    expect(resume.code, resume.stdout).toBe(0);
    expect(resume.stdout).toContain(`bottle ${identity} finished (success) in run 3001 attempt 2; nothing to resume`);
    expect(resume.outputs).toMatchObject({
      identity,
      outcome: "success",
      preserved: "false",
      "session-id": first.outputs["session-id"],
    });
    expect(resume.summary).toContain("already finished (success)");
    expect(readFileSync(join(workspace, "work.txt"), "utf8")).toBe("done\n");
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });

    // Attempt 3 of the first run (re-run all jobs after the success): a fresh start, not attempt 1's stale crash.
    const third = await runStep(newJob({ workspace, runId: "3001", attempt: 3, cacheEnv: server.env }), "main", {
      ...base,
      prompt: fake({ steps: [{ run: "cat work.txt" }], end: "success" }),
    });
    expect(third.code, third.stdout).toBe(0);
    expect(third.stdout).toContain(
      `attempt 3: bottle ${identity} already finished (success) in run 3001 attempt 2; starting fresh`,
    );
    expect(third.outputs["session-id"]).not.toBe(first.outputs["session-id"]);
    expect(readFileSync(join(workspace, "work.txt"), "utf8")).toBe("done\n");
  });

  test("max-resumes 2: a session that crashes twice heals in the same job, same session, three launches", async () => {
    const run = await runStep(
      newJob({ workspace: fakeCheckout(), runId: "3101", attempt: 1, cacheEnv: server.env }),
      "main",
      {
        agent: "fixer",
        "anthropic-api-key": KEY,
        prompt: crashesUntil(3),
        "resume-prompt": crashesUntil(3),
        "max-resumes": "2",
      },
    );
    expect(run.code, run.stdout).toBe(0);
    expect(run.outputs).toMatchObject({ outcome: "success", preserved: "false", "cache-key": "" });
    const session = run.outputs["session-id"] as string;
    expect(run.stdout).toContain(`claude crashed; resuming session ${session} at once (resume 1 of 2 in this run)`);
    expect(run.stdout).toContain(`claude crashed; resuming session ${session} at once (resume 2 of 2 in this run)`);
    for (const row of [
      "| 1 | run 3101 attempt 1 | `crashed` |",
      "| 2 | run 3101 attempt 1 | `crashed` |",
      "| 3 | run 3101 attempt 1 | `success` |",
    ]) {
      expect(run.summary).toContain(row);
    }
    expect(labelled(run.outputs.identity)).toEqual({ containers: [], networks: [] });
  });

  test("max-resumes 1 with two crashes: preserved after two launches, saved once", async () => {
    const run = await runStep(
      newJob({ workspace: fakeCheckout(), runId: "3201", attempt: 1, cacheEnv: server.env }),
      "main",
      {
        agent: "fixer",
        "anthropic-api-key": KEY,
        prompt: crashesUntil(3),
        "resume-prompt": crashesUntil(3),
        "max-resumes": "1",
        "save-state": "cache",
      },
    );
    expect(run.code).toBe(1);
    expect(run.outputs).toMatchObject({
      outcome: "crashed",
      preserved: "true",
      "cache-key": `bottle-state-${run.outputs.identity}-3201-1`,
    });
    expect(run.summary).toContain("| 2 | run 3201 attempt 1 | `crashed` |");
    expect(run.summary).not.toContain("| 3 |");
  });
});

test("the CLI: --max-resumes heals a crash in the same run", async () => {
  const box = sandbox({ ANTHROPIC_API_KEY: KEY });
  writeManifest(box.workspace, FAKE_MANIFEST);
  const run = await runRunner(
    ["start", "fixer", "--prompt", crashesUntil(2), "--max-resumes", "1", "--format", "json"],
    box,
  );
  expect(run.code, run.stderr).toBe(0);
  expect(run.stderr).toContain("claude crashed; resuming session");
  expect(JSON.parse(run.stdout.trim().split("\n").at(-1) as string)).toMatchObject({
    outcome: "success",
    preserved: false,
  });
});
