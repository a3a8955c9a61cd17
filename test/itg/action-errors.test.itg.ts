/**
 * What a user reads when the job is not set up for the action: the built main step,
 * run as a runner runs it, fails fast with a message naming the problem and the fix,
 * and creates nothing.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { newJob, runStep } from "../support/action.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { fake, FAKE_AGENT_IMAGE, FAKE_ROUTE, labelled, writeManifest } from "../support/runner.js";
import { workflowCommands } from "../support/workflow-commands.js";

function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), "bottle-errors-"));
  writeFileSync(join(dir, "README.md"), "a project\n");
  return dir;
}

let server: CacheServer;
beforeAll(async () => {
  server = await startCacheServer({ protocol: "v1", flavour: "gitea" });
});
afterAll(async () => {
  await server?.close();
});

const failure = (stdout: string) => workflowCommands(stdout).find((c) => c.name === "error")?.data ?? "";

test("no Docker engine: the action says so, as the CLI does", async () => {
  const run = await runStep(
    newJob({
      workspace: checkout(),
      runId: "1301",
      attempt: 1,
      cacheEnv: server.env,
      env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    }),
    "main",
    {
      prompt: "go",
    },
  );
  expect(run.code).toBe(1);
  expect(failure(run.stdout)).toMatch(
    /^claude-bottle: cannot reach the Docker engine \(.*nonexistent\/docker\.sock.*\); start dockerd or set DOCKER_HOST$/,
  );
  expect(run.stdout).not.toContain("::group::restore");
});

test("no cache service: a resume job says the cache is missing, not that there is no state", async () => {
  const run = await runStep(newJob({ workspace: checkout(), runId: "1302", attempt: 1, cacheEnv: {} }), "main", {
    mode: "resume",
    identity: "claude-abcde",
  });
  expect(run.code).toBe(1);
  expect(failure(run.stdout)).toContain(
    "bottle claude-abcde cannot be restored: the Actions cache service is not available in this job",
  );
  expect(failure(run.stdout)).not.toContain("no saved state");
});

test("no cache service: a re-run says it and starts fresh rather than failing", async () => {
  const workspace = checkout();
  writeManifest(workspace, {
    bottles: { fake: { image: FAKE_AGENT_IMAGE, egress: { routes: [FAKE_ROUTE] } } },
    agents: { fixer: { bottle: "fake" } },
  });
  const run = await runStep(newJob({ workspace, runId: "1303", attempt: 2, cacheEnv: {} }), "main", {
    agent: "fixer",
    prompt: fake({ end: "success" }),
    "anthropic-api-key": "k",
  });
  expect(run.code, run.stdout).toBe(0);
  expect(run.stdout).toContain(
    "attempt 2: the Actions cache service is not available in this job (neither ACTIONS_CACHE_URL nor ACTIONS_RESULTS_URL is set), so no earlier attempt's state can be restored; starting fresh",
  );
  expect(labelled(run.outputs.identity)).toEqual({ containers: [], networks: [] });
});

test("a bad manifest fails before the restore group, with the identity already set", async () => {
  const workspace = checkout();
  writeFileSync(join(workspace, "claude-bottle.json"), '{"agents": {"x": {"bottle": "nope"}}}');
  const run = await runStep(newJob({ workspace, runId: "1304", attempt: 2, cacheEnv: server.env }), "main", {
    agent: "x",
    prompt: "go",
  });
  expect(run.code).toBe(1);
  expect(failure(run.stdout)).toMatch(/claude-bottle\.json/);
  expect(run.stdout).not.toContain("::group::restore");
  expect(run.outputs.identity).toMatch(/^x-[0-9a-z]{5}$/);
  expect(labelled(run.outputs.identity)).toEqual({ containers: [], networks: [] });
});

test("an agent the manifest lacks fails before the restore group", async () => {
  const run = await runStep(
    newJob({ workspace: checkout(), runId: "1305", attempt: 1, cacheEnv: server.env }),
    "main",
    { agent: "ghost", prompt: "go" },
  );
  expect(run.code).toBe(1);
  expect(failure(run.stdout)).toMatch(/^agent: "ghost" is not an agent in .*; use one of: claude$/);
  expect(run.stdout).not.toContain("::group::restore");
});
