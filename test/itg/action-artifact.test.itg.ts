/**
 * The state outlives the cache: the built action with real Docker, the real
 * `@actions/cache` and `@actions/artifact` clients, and servers this test owns — a
 * github.com-flavoured results host (v2 cache behind the artifact service, the REST API
 * for other runs' artifacts) and Gitea's, with and without the v4 artifact protocol.
 *
 * A crash preserves the bottle to the cache and as artifacts; GitHub then evicts the
 * cache entry; a resume job by identity finds the state artifact of the run that
 * preserved it and continues the same session. With neither, today's clear error.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type RawEntry, tarOf } from "../support/cache-entries.js";
import { type ArtifactServer, startArtifactServer } from "../support/artifact-server.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { newJob, runStep } from "../support/action.js";
import { fake, FAKE_AGENT_IMAGE, FAKE_ROUTE, labelled, writeManifest } from "../support/runner.js";

const KEY = `sk-ant-artifact-${Math.random().toString(36).slice(2)}`;

function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), "bottle-checkout-"));
  writeManifest(dir, {
    bottles: {
      fake: {
        image: FAKE_AGENT_IMAGE,
        egress: { routes: [FAKE_ROUTE] },
      },
    },
    agents: { fixer: { bottle: "fake" } },
  });
  return dir;
}

const crashTask = fake({
  steps: [{ say: "first half" }, { write: { path: "half.txt", content: "half\n" } }],
  end: "crash",
});
const START = {
  agent: "fixer",
  id: "state-outlives-cache",
  prompt: crashTask,
  "anthropic-api-key": KEY,
  "save-state": "cache-and-artifact",
};

describe("on github.com: the cache evicted, the artifact kept", () => {
  let cache: CacheServer;
  let artifacts: ArtifactServer;
  beforeAll(async () => {
    cache = await startCacheServer({ protocol: "v2" });
    artifacts = await startArtifactServer({ cache });
  });
  afterAll(async () => {
    await artifacts.close();
    await cache.close();
  });
  const job = (runId: string, workspace = checkout()) =>
    newJob({ workspace, runId, attempt: 1, cacheEnv: artifacts.jobEnv({ runId }) });

  test("crash → cache entry evicted → a resume job by identity continues the same session from the state artifact", async () => {
    // Every job of a repository checks out at the same path on GitHub's runners.
    const workspace = checkout();
    const first = await runStep(job("601", workspace), "main", START);
    expect(first.code, first.stdout).toBe(1);
    expect(first.outputs).toMatchObject({ outcome: "crashed", preserved: "true" });
    const identity = first.outputs.identity as string;
    expect(first.outputs["artifact-id"]).toMatch(/^\d+$/);
    expect(artifacts.artifacts().map((a) => a.name)).toEqual([
      `bottle-${identity}-attempt-1`,
      `bottle-${identity}-attempt-1-state.tar`,
    ]);
    expect(cache.evict(`bottle-state-${identity}-`)).toBe(1);

    expect(existsSync(join(workspace, "half.txt"))).toBe(false);
    const resumeJob = job("602", workspace);
    const resume = await runStep(resumeJob, "main", {
      mode: "resume",
      identity,
      "anthropic-api-key": KEY,
      "github-token": artifacts.token,
      "save-state": "cache",
      "resume-prompt": fake({ steps: [{ run: "cat half.txt" }], end: "success" }),
    });
    expect(resume.code, resume.stdout).toBe(0);
    expect(resume.stdout).toMatch(
      new RegExp(
        `restored ${identity} from artifact bottle-${identity}-attempt-1-state\\.tar \\(id \\d+\\) of run 601 \\(the cache has no entry under bottle-state-${identity}-\\)`,
      ),
    );
    expect(resume.outputs).toMatchObject({ identity, outcome: "success", "session-id": first.outputs["session-id"] });
    expect(resume.stdout).toMatch(/resumed session \S+ with [1-9]\d* earlier entries/);
    // The work tree from before the crash came back with the state and landed in the checkout.
    expect(readFileSync(join(resumeJob.workspace, "half.txt"), "utf8")).toBe("half\n");
    // The token is masked by the runner and printed nowhere else.
    const lines = resume.stdout.split("\n");
    expect(lines).toContain(`::add-mask::${artifacts.token}`);
    expect(lines.filter((l) => !l.startsWith("::add-mask::")).join("\n")).not.toContain(artifacts.token);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });

  test("neither a cache entry nor an artifact → today's clear error, after a line saying what was looked for", async () => {
    const run = await runStep(job("701"), "main", {
      mode: "resume",
      identity: "fixer-nope0",
      "anthropic-api-key": KEY,
      "github-token": artifacts.token,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      "artifacts: no state artifact of fixer-nope0 in octo/widgets (looked for bottle-fixer-nope0-attempt-1-state.tar, bottle-fixer-nope0-attempt-2-state.tar)",
    );
    expect(run.stdout).toContain(
      'identity: "fixer-nope0" has no saved state in the cache (looked for keys starting with bottle-state-fixer-nope0-)',
    );
    expect(labelled("fixer-nope0")).toEqual({ containers: [], networks: [] });
  });

  test("a poisoned state artifact (a symlink out) is refused; nothing is written outside the state dir", async () => {
    const identity = "fixer-poiz0";
    await uploadRaw(artifacts.jobEnv({ runId: "801" }), `bottle-${identity}-attempt-1-state.tar`, [
      { name: "metadata.json", body: "{}" },
      { name: "workspace", type: "symlink", linkname: "/tmp" },
      { name: "workspace/planted.txt", body: "x" },
    ]);
    const resumeJob = job("802");
    const run = await runStep(resumeJob, "main", {
      mode: "resume",
      identity,
      "anthropic-api-key": KEY,
      "github-token": artifacts.token,
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'restored state refused: entry "workspace" is a symlink pointing outside the state (/tmp)',
    );
    expect(existsSync("/tmp/planted.txt")).toBe(false);
    expect(existsSync(join(resumeJob.runnerTemp, "claude-bottle", "state", identity))).toBe(false);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });
});

describe("on Gitea", () => {
  test.each([
    ["1.23 and later: the state goes up as artifacts too", true],
    ["before 1.23: one plain line says the server serves no artifacts", false],
  ])("%s", async (_name, v4) => {
    const cache = await startCacheServer({ protocol: "v1", flavour: "gitea" });
    const artifacts = await startArtifactServer({ flavour: "gitea", v4, cache });
    try {
      const run = await runStep(
        newJob({ workspace: checkout(), runId: "901", attempt: 1, cacheEnv: artifacts.jobEnv({ runId: "901" }) }),
        "main",
        START,
      );
      expect(run.code, run.stdout).toBe(1);
      const identity = run.outputs.identity as string;
      expect(run.outputs).toMatchObject({
        outcome: "crashed",
        preserved: "true",
        "cache-key": `bottle-state-${identity}-901-1`,
      });
      const said = run.stdout.split("\n").filter((l) => l.includes("artifacts: "));
      if (v4) {
        expect(artifacts.artifacts().map((a) => a.name)).toEqual([
          `bottle-${identity}-attempt-1`,
          `bottle-${identity}-attempt-1-state.tar`,
        ]);
        expect(run.outputs["artifact-id"]).toMatch(/^\d+$/);
        expect(said).toEqual([
          `artifacts: gitea took the state as artifacts bottle-${identity}-attempt-1 and bottle-${identity}-attempt-1-state.tar`,
        ]);
      } else {
        expect(run.outputs["artifact-id"]).toBe("");
        expect(said).toEqual([
          `artifacts: the gitea server does not serve artifacts to this job (${artifacts.url}/ answers 404 to the v4 artifact protocol; Gitea 1.23 and later, and Forgejo, do); the state is kept in the cache only`,
        ]);
        expect(run.stdout).not.toContain("::warning::");
      }
      expect(labelled(identity)).toEqual({ containers: [], networks: [] });
    } finally {
      await artifacts.close();
      await cache.close();
    }
  });
});

/** Uploads `entries` as a raw tar artifact with the real client, as any workflow of the repository could. */
async function uploadRaw(env: Record<string, string>, name: string, entries: RawEntry[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "poison-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), await tarOf(entries));
  const saved = { ...process.env };
  Object.assign(process.env, env, { GITHUB_WORKSPACE: dir });
  try {
    const { DefaultArtifactClient } = await import("@actions/artifact");
    await new DefaultArtifactClient().uploadArtifact(name, [join(dir, name)], dir, { skipArchive: true });
  } finally {
    process.env = saved;
  }
}
