/**
 * The state artifact, both ways, with the real @actions/artifact client against the
 * tests' artifact server: the action's upload (on GitHub, and on Gitea when the server
 * serves the v4 protocol), then a later job of another run that finds the bottle's newest
 * state artifact, downloads it and restores it through the untrusted-archive checks.
 *
 * @actions/github reads GITHUB_API_URL once, when first imported: one GitHub-flavoured
 * server for the file, and the client imported once a job's environment is set.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { type RawEntry, tarOf } from "../support/cache-entries.js";
import { holdClientOutput } from "../support/client-output.js";
import { defaultArtifactName, stateArchiveArtifactName, uploadStateArtifact } from "../../src/action/artifact.js";
import { type ArtifactDownloader, restoreFromArtifact } from "../../src/action/artifact-restore.js";
import { jobContext } from "../../src/action/context.js";
import type { Toolkit } from "../../src/action/toolkit.js";
import { UnsafeArchiveError } from "../../src/state/archive.js";
import { StateStore } from "../../src/state/store.js";
import { type ArtifactJob, type ArtifactServer, startArtifactServer } from "../support/artifact-server.js";

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
const IDENTITY = "fixer-ab12c";
const savedEnv = { ...process.env };
let server: ArtifactServer;
let artifact: typeof import("@actions/artifact");
let lines: string[] = [];

/** A job of run `runId` on a runner pointed at `on`: process.env is what the clients read. */
function enterJob(on: ArtifactServer, job: ArtifactJob): NodeJS.ProcessEnv {
  process.env = { ...savedEnv };
  for (const name of RUNNER_VARS) delete process.env[name];
  Object.assign(process.env, on.jobEnv(job), {
    GITHUB_WORKSPACE: mkdtempSync(join(tmpdir(), "restore-ws-")),
    RUNNER_TEMP: mkdtempSync(join(tmpdir(), "restore-tmp-")),
    GITHUB_REPOSITORY: "octo/widgets",
    GITHUB_RUN_ID: job.runId,
    GITHUB_RUN_ATTEMPT: String(job.attempt ?? 1),
  });
  return process.env;
}

const core = {
  info: (line: string) => lines.push(`info: ${line}`),
  warning: (line: string) => lines.push(`warning: ${line}`),
} as unknown as Toolkit;
const log = {
  info: (line: string) => lines.push(`info: ${line}`),
  warn: (line: string) => lines.push(`warning: ${line}`),
};
const client = async () => new artifact.DefaultArtifactClient();

/** A state store holding bottle `identity`'s state made of `files`. */
function savedState(files: Record<string, string>, identity = IDENTITY): StateStore {
  const state = new StateStore(mkdtempSync(join(tmpdir(), "restore-state-")));
  const dir = state.dir(identity);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return state;
}

/** The action's own upload of bottle `identity`'s state, in a job of run `runId`, attempt `attempt`. */
async function preserve(identity: string, job: ArtifactJob, note: string, name?: string): Promise<number | null> {
  const env = enterJob(server, job);
  const state = savedState({ "metadata.json": JSON.stringify({ note }), "workspace/half.txt": note }, identity);
  return uploadStateArtifact(
    { core, artifact: client, env },
    jobContext(env),
    state,
    identity,
    name ?? defaultArtifactName(identity, job.attempt ?? 1),
  );
}

/** A resume job of run `runId` that restores `identity` into a fresh state directory. */
async function resume(identity: string, runId: string, options: { token?: string | null; artifactName?: string } = {}) {
  const env = enterJob(server, { runId });
  const target = join(mkdtempSync(join(tmpdir(), "restore-home-")), "state", identity);
  const restored = await restoreFromArtifact({
    identity,
    artifactName: options.artifactName ?? null,
    stateDir: target,
    ctx: jobContext(env),
    token: options.token === undefined ? server.token : options.token,
    env,
    log,
    client,
  });
  const note = existsSync(join(target, "workspace", "half.txt"))
    ? readFileSync(join(target, "workspace", "half.txt"), "utf8")
    : null;
  return { restored, note, target };
}

/** Uploads `entries` as a state archive artifact, as any workflow of the repository could. */
async function uploadRawTar(job: ArtifactJob, name: string, entries: RawEntry[]): Promise<void> {
  enterJob(server, job);
  const dir = mkdtempSync(join(tmpdir(), "poison-"));
  writeFileSync(join(dir, name), await tarOf(entries));
  await new artifact.DefaultArtifactClient().uploadArtifact(name, [join(dir, name)], dir, { skipArchive: true });
}

beforeAll(async () => {
  server = await startArtifactServer();
  enterJob(server, { runId: "1" });
  artifact = await import("@actions/artifact");
});

afterAll(async () => {
  process.env = { ...savedEnv };
  await server.close();
});

beforeEach((context) => {
  lines = [];
  return holdClientOutput(context, () => `--- log ---\n${lines.join("\n")}\n`);
});

describe("restoring a bottle from its state artifact", () => {
  // One repository for the whole file: each test has its own bottle.
  test("the action's upload, found by a later job of another run: the newest state across runs and attempts", async () => {
    await preserve(IDENTITY, { runId: "101" }, "run 101");
    await preserve(IDENTITY, { runId: "102" }, "run 102, attempt 1");
    await preserve(IDENTITY, { runId: "102", attempt: 2 }, "run 102, attempt 2");
    const names = server.artifacts().map((a) => a.name);
    expect(names).toContain(defaultArtifactName(IDENTITY, 2));
    expect(names).toContain(stateArchiveArtifactName(defaultArtifactName(IDENTITY, 2)));
    const { restored, note } = await resume(IDENTITY, "200");
    expect(note).toBe("run 102, attempt 2");
    expect(restored?.source).toMatch(
      new RegExp(`^artifact bottle-${IDENTITY}-attempt-2-state\\.tar \\(id \\d+\\) of run 102$`),
    );
  });

  test("an attempt that saved nothing is stepped over", async () => {
    await preserve("gap-aaaaa", { runId: "111" }, "run 111, attempt 1");
    await preserve("gap-aaaaa", { runId: "111", attempt: 3 }, "run 111, attempt 3");
    expect((await resume("gap-aaaaa", "201")).note).toBe("run 111, attempt 3");
  });

  test("a given artifact-name is looked for as it is", async () => {
    await preserve("named-aaaaa", { runId: "121" }, "named", "my-bottle");
    expect((await resume("named-aaaaa", "202", { artifactName: "my-bottle" })).note).toBe("named");
  });

  test("a newer artifact of the same name from a fork's run is skipped, and the log says so", async () => {
    await preserve("fork-aaaaa", { runId: "131" }, "ours");
    await preserve("fork-aaaaa", { runId: "132", fork: true }, "a fork's");
    expect((await resume("fork-aaaaa", "203")).note).toBe("ours");
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^warning: artifacts: skipped artifact bottle-fork-aaaaa-attempt-1-state\.tar \(id \d+\) of run 132: made by a run from a fork$/,
      ),
    );
  });

  test("an expired artifact is passed over for an older one still kept", async () => {
    await preserve("expiry-aaaaa", { runId: "141" }, "kept");
    await preserve("expiry-aaaaa", { runId: "142" }, "expired");
    for (const a of server.artifacts().filter((a) => a.runId === 142)) server.expire(a.id);
    expect((await resume("expiry-aaaaa", "204")).note).toBe("kept");
  });

  test.each([
    ["traversal", { name: "../../escaped.txt", body: "x" }],
    ["a symlink out", { name: "workspace", type: "symlink" as const, linkname: "/etc" }],
  ])("a poisoned state artifact (%s) is refused before anything is written", async (_kind, poison) => {
    await uploadRawTar({ runId: `15${_kind.length}` }, stateArchiveArtifactName(defaultArtifactName(IDENTITY, 1)), [
      { name: "metadata.json", body: "{}" },
      poison,
    ]);
    const home = mkdtempSync(join(tmpdir(), "restore-home-"));
    const target = join(home, "state", IDENTITY);
    const env = enterJob(server, { runId: "205" });
    const restore = restoreFromArtifact({
      identity: IDENTITY,
      artifactName: null,
      stateDir: target,
      ctx: jobContext(env),
      token: server.token,
      env,
      log,
      client,
    });
    await expect(restore).rejects.toThrow(UnsafeArchiveError);
    await expect(restore).rejects.toThrow(/restored state refused: entry .*(climbs out|symlink pointing outside)/);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(join(home, "escaped.txt"))).toBe(false);
  });
});

describe("when there is nothing to restore from", () => {
  test("no artifact of the bottle: null, and the log names what was looked for", async () => {
    const env = enterJob(server, { runId: "300" });
    const restored = await restoreFromArtifact({
      identity: "other-zz999",
      artifactName: null,
      stateDir: join(tmpdir(), "never"),
      ctx: jobContext(env),
      token: server.token,
      env,
      log,
      client,
    });
    expect(restored).toBeNull();
    expect(lines).toEqual([
      `info: artifacts: no state artifact of other-zz999 in octo/widgets (looked for bottle-other-zz999-attempt-1-state.tar, bottle-other-zz999-attempt-2-state.tar)`,
    ]);
  });

  test("a token without actions: read: null, and a warning that says what the token needs", async () => {
    expect((await resume(IDENTITY, "301", { token: server.tokenWithoutActionsRead })).restored).toBeNull();
    expect(lines).toEqual([
      expect.stringMatching(
        /^warning: artifacts: could not look for fixer-ab12c's state artifact in octo\/widgets: Resource not accessible by integration.*needs actions: read/,
      ),
    ]);
  });

  test("no token: null, and a note", async () => {
    expect((await resume(IDENTITY, "302", { token: null })).restored).toBeNull();
    expect(lines).toEqual([expect.stringMatching(/^info: artifacts: no github-token/)]);
  });

  test("on Gitea: null, and a note that only GitHub reads other runs' artifacts; nothing is asked", async () => {
    const before = server.requests.length;
    const downloads = vi.fn<ArtifactDownloader["downloadArtifact"]>();
    const env = {
      ...enterJob(server, { runId: "303" }),
      GITEA_ACTIONS: "true",
      GITHUB_SERVER_URL: "https://gitea.example.com",
    };
    const restored = await restoreFromArtifact({
      identity: IDENTITY,
      artifactName: null,
      stateDir: join(tmpdir(), "never"),
      ctx: jobContext(env),
      token: server.token,
      env,
      log,
      client: async () => ({ downloadArtifact: downloads }),
    });
    expect(restored).toBeNull();
    expect(lines).toEqual([
      "info: artifacts: another run's artifacts are read only on GitHub, so on gitea only the cache holds fixer-ab12c's state",
    ]);
    expect(server.requests.length).toBe(before);
    expect(downloads).not.toHaveBeenCalled();
  });
});

describe("uploading on Gitea and Forgejo", () => {
  test.each([
    ["Gitea 1.23 and later (v4 artifacts)", true],
    ["an older Gitea", false],
  ])("%s", async (_name, v4) => {
    const gitea = await startArtifactServer({ flavour: "gitea", v4 });
    try {
      const env = enterJob(gitea, { runId: "77" });
      const state = savedState({ "metadata.json": "{}" });
      const id = await uploadStateArtifact(
        { core, artifact: client, env },
        jobContext(env),
        state,
        IDENTITY,
        defaultArtifactName(IDENTITY, 1),
      );
      expect(process.env.GITHUB_SERVER_URL).toBe("https://gitea.example.com");
      const artifactLines = lines.filter((l) => l.includes("artifact"));
      if (v4) {
        expect(id).toEqual(expect.any(Number));
        expect(gitea.artifacts().map((a) => a.name)).toEqual([
          defaultArtifactName(IDENTITY, 1),
          stateArchiveArtifactName(defaultArtifactName(IDENTITY, 1)),
        ]);
        expect(artifactLines).toEqual([
          `info: artifacts: gitea took the state as artifacts bottle-${IDENTITY}-attempt-1 and bottle-${IDENTITY}-attempt-1-state.tar`,
        ]);
      } else {
        expect(id).toBeNull();
        expect(artifactLines).toEqual([
          `info: artifacts: the gitea server does not serve artifacts to this job (${gitea.url}/ answers 404 to the v4 artifact protocol; Gitea 1.23 and later, and Forgejo, do); the state is kept in the cache only`,
        ]);
      }
    } finally {
      await gitea.close();
    }
  });

  test("a runner that gives the job no results URL: one plain line, nothing tried", async () => {
    const env = {
      ...enterJob(server, { runId: "78" }),
      GITEA_ACTIONS: "true",
      GITHUB_SERVER_URL: "https://gitea.example.com",
      ACTIONS_RESULTS_URL: "",
    };
    const uploads = vi.fn();
    expect(
      await uploadStateArtifact(
        { core, artifact: async () => ({ uploadArtifact: uploads }), env },
        jobContext(env),
        savedState({ "metadata.json": "{}" }),
        IDENTITY,
        "x",
      ),
    ).toBeNull();
    expect(uploads).not.toHaveBeenCalled();
    expect(lines).toEqual([
      expect.stringMatching(
        /^info: artifacts: the gitea server does not serve artifacts to this job \(ACTIONS_RESULTS_URL is not set;/,
      ),
    ]);
  });
});
