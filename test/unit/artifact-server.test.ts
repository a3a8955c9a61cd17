/**
 * The tests' own artifact server, proven with the real @actions/artifact client (and the
 * @actions/github client it reads other runs with) in this process: what the action's
 * tests rely on about uploading, reading another run's artifacts, and one results host
 * serving the cache too.
 *
 * @actions/github reads GITHUB_API_URL once, when it is first imported: so one server
 * for the whole file, and the clients imported only once a job's environment is set.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { holdClientOutput } from "../support/client-output.js";
import { type ArtifactJob, type ArtifactServer, startArtifactServer } from "../support/artifact-server.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";

const RUNNER_VARS = [
  "ACTIONS_CACHE_URL",
  "ACTIONS_RESULTS_URL",
  "ACTIONS_CACHE_SERVICE_V2",
  "ACTIONS_RUNTIME_TOKEN",
  "GITHUB_SERVER_URL",
  "GITHUB_API_URL",
  "GITEA_ACTIONS",
  "FORGEJO_ACTIONS",
];
const savedEnv = { ...process.env };
let cacheServer: CacheServer;
let server: ArtifactServer;
let artifact: typeof import("@actions/artifact");
let github: typeof import("@actions/github");
let cache: typeof import("@actions/cache");

/** Points the clients at `server` as the runner of one job of run `runId` would. */
function enterJob(job: ArtifactJob): string {
  const workspace = mkdtempSync(join(tmpdir(), "artifact-ws-"));
  process.env = { ...savedEnv };
  for (const name of RUNNER_VARS) delete process.env[name];
  Object.assign(process.env, server.jobEnv(job), {
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: mkdtempSync(join(tmpdir(), "artifact-tmp-")),
  });
  return workspace;
}

beforeAll(async () => {
  cacheServer = await startCacheServer({ protocol: "v2" });
  server = await startArtifactServer({ cache: cacheServer });
  enterJob({ runId: "1" });
  [artifact, github, cache] = await Promise.all([
    import("@actions/artifact"),
    import("@actions/github"),
    import("@actions/cache"),
  ]);
});

afterAll(async () => {
  process.env = { ...savedEnv };
  await server.close();
  await cacheServer.close();
});

beforeEach((context) => holdClientOutput(context));

const findBy = (workflowRunId: number, token = server.token) => ({
  token,
  workflowRunId,
  repositoryOwner: "octo",
  repositoryName: "widgets",
});

function files(dir: string, entries: Record<string, string>): string[] {
  return Object.entries(entries).map(([name, content]) => {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  });
}

describe("the artifact server and the real client", () => {
  test("a zipped upload and a raw one, each read back from another run: found by name, downloaded, digests match", async () => {
    const workspace = enterJob({ runId: "11" });
    const client = new artifact.DefaultArtifactClient();
    const zipped = await client.uploadArtifact(
      "notes",
      files(workspace, { "a.txt": "alpha\n", "sub/b.txt": "beta\n" }),
      workspace,
    );
    const [tar] = files(workspace, { "notes-state.tar": "not really a tar\n" });
    const raw = await client.uploadArtifact(
      "ignored: skipArchive names it after the file",
      [tar as string],
      workspace,
      { skipArchive: true },
    );
    expect(server.artifacts()).toEqual([
      expect.objectContaining({ id: zipped.id, name: "notes", runId: 11, mimeType: "application/zip" }),
      expect.objectContaining({
        id: raw.id,
        name: "notes-state.tar",
        runId: 11,
        mimeType: "application/x-tar",
        size: 17,
      }),
    ]);

    enterJob({ runId: "12" });
    const reader = new artifact.DefaultArtifactClient();
    const found = await reader.getArtifact("notes", { findBy: findBy(11) });
    expect(found.artifact).toMatchObject({ id: zipped.id, name: "notes", digest: `sha256:${zipped.digest}` });
    const unzipped = mkdtempSync(join(tmpdir(), "artifact-out-"));
    expect(
      await reader.downloadArtifact(found.artifact.id, {
        path: unzipped,
        expectedHash: found.artifact.digest,
        findBy: findBy(11),
      }),
    ).toEqual({ downloadPath: unzipped, digestMismatch: false });
    expect(readFileSync(join(unzipped, "a.txt"), "utf8")).toBe("alpha\n");
    expect(readFileSync(join(unzipped, "sub", "b.txt"), "utf8")).toBe("beta\n");

    const asIs = mkdtempSync(join(tmpdir(), "artifact-raw-"));
    await reader.downloadArtifact(raw.id as number, { path: asIs, skipDecompress: true, findBy: findBy(11) });
    expect(readdirSync(asIs)).toEqual(["notes-state.tar"]);
    expect(readFileSync(join(asIs, "notes-state.tar"), "utf8")).toBe("not really a tar\n");
    // A download the API names with another digest is flagged, not silently taken.
    const flagged = mkdtempSync(join(tmpdir(), "artifact-flag-"));
    expect(
      (
        await reader.downloadArtifact(raw.id as number, {
          path: flagged,
          skipDecompress: true,
          expectedHash: `sha256:${"0".repeat(64)}`,
          findBy: findBy(11),
        })
      ).digestMismatch,
    ).toBe(true);
  });

  test("the repository's artifacts by exact name, across runs, newest first, page by page; a fork's run is told apart", async () => {
    for (const [runId, fork] of [
      ["21", false],
      ["22", true],
      ["23", false],
    ] as const) {
      const workspace = enterJob({ runId, fork });
      await new artifact.DefaultArtifactClient().uploadArtifact(
        "shared-name",
        files(workspace, { "x.txt": runId }),
        workspace,
      );
    }
    const octokit = github.getOctokit(server.token);
    const page = (n: number) =>
      octokit.rest.actions.listArtifactsForRepo({
        owner: "octo",
        repo: "widgets",
        name: "shared-name",
        per_page: 2,
        page: n,
      });
    const first = await page(1);
    expect(first.data.total_count).toBe(3);
    expect(first.data.artifacts.map((a) => a.workflow_run?.id)).toEqual([23, 22]);
    const fork = first.data.artifacts[1]?.workflow_run;
    expect(fork?.head_repository_id).not.toBe(fork?.repository_id);
    expect((await page(2)).data.artifacts.map((a) => a.workflow_run?.id)).toEqual([21]);
    expect(
      (await octokit.rest.actions.listArtifactsForRepo({ owner: "octo", repo: "widgets", name: "shared" })).data
        .total_count,
    ).toBe(0);
  });

  test("an artifact name is unique within a workflow run, a re-run's attempts included", async () => {
    for (const attempt of [1, 2]) {
      const workspace = enterJob({ runId: "31", attempt });
      const upload = new artifact.DefaultArtifactClient().uploadArtifact(
        "once",
        files(workspace, { "x.txt": "x" }),
        workspace,
      );
      if (attempt === 1) await upload;
      else await expect(upload).rejects.toThrow(/409.*already exists on the workflow run/);
    }
    expect(server.artifacts().filter((a) => a.name === "once")).toHaveLength(1);
  });

  test("reading needs a token with actions: read; an expired artifact is listed but no longer downloads", async () => {
    const workspace = enterJob({ runId: "41" });
    const up = await new artifact.DefaultArtifactClient().uploadArtifact(
      "kept",
      files(workspace, { "x.txt": "x" }),
      workspace,
    );
    enterJob({ runId: "42" });
    const reader = new artifact.DefaultArtifactClient();
    await expect(reader.getArtifact("kept", { findBy: findBy(41, "ghs_unknown") })).rejects.toThrow(/Bad credentials/);
    await expect(reader.getArtifact("kept", { findBy: findBy(41, server.tokenWithoutActionsRead) })).rejects.toThrow(
      /Resource not accessible by integration/,
    );
    server.expire(up.id as number);
    expect((await reader.getArtifact("kept", { findBy: findBy(41) })).artifact.id).toBe(up.id);
    await expect(
      reader.downloadArtifact(up.id as number, { path: mkdtempSync(join(tmpdir(), "x-")), findBy: findBy(41) }),
    ).rejects.toThrow(/expired/);
  });

  test("the cache answers on the same results host and runtime token, and an evicted entry is gone", async () => {
    const workspace = enterJob({ runId: "51" });
    files(workspace, { "state/metadata.json": "{}" });
    process.chdir(workspace);
    expect(await cache.saveCache(["state"], "bottle-state-a-51-1")).toBeGreaterThan(0);
    expect(cacheServer.entries().map((e) => e.key)).toContain("bottle-state-a-51-1");
    expect(await cache.restoreCache(["state"], "bottle-state-a-", ["bottle-state-a-"])).toBe("bottle-state-a-51-1");
    expect(cacheServer.evict("bottle-state-a-")).toBe(1);
    expect(await cache.restoreCache(["state"], "bottle-state-a-", ["bottle-state-a-"])).toBeUndefined();
    expect(server.requests.some((r) => r.path.includes("CacheService"))).toBe(false);
  });
});

describe("the Gitea flavour", () => {
  test("serves no REST reading; without v4 it serves no ArtifactService either", async () => {
    const gitea = await startArtifactServer({ flavour: "gitea" });
    const old = await startArtifactServer({ flavour: "gitea", v4: false });
    try {
      const env = gitea.jobEnv({ runId: "61" });
      expect(env).toMatchObject({ GITEA_ACTIONS: "true", ACTIONS_RESULTS_URL: `${gitea.url}/` });
      expect(env.GITHUB_API_URL).toBeUndefined();
      expect(
        (
          await fetch(`${gitea.url}/repos/octo/widgets/actions/artifacts`, {
            headers: { authorization: `token ${gitea.token}` },
          })
        ).status,
      ).toBe(404);
      const create = (s: ArtifactServer, token: string) =>
        fetch(`${s.url}/twirp/github.actions.results.api.v1.ArtifactService/CreateArtifact`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: "{}",
        });
      expect((await create(gitea, env.ACTIONS_RUNTIME_TOKEN as string)).status).toBe(403);
      expect((await create(old, old.jobEnv({ runId: "61" }).ACTIONS_RUNTIME_TOKEN as string)).status).toBe(404);
    } finally {
      await gitea.close();
      await old.close();
    }
  });
});
