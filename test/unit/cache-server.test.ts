/**
 * The tests' own cache servers, proven with the real @actions/cache client in this process:
 * what the action's integration tests rely on about v1 as Gitea and Forgejo serve it, v1 as
 * github.com served it, and v2 as github.com serves it.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import * as cache from "@actions/cache";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { holdClientOutput } from "../support/client-output.js";
import { type CacheServer, type CacheServerOptions, startCacheServer } from "../support/cache-server.js";
import { hasTool } from "../support/openssl.js";

// What a runner decides the protocol and the client's behaviour with; none may leak in from the host.
const RUNNER_VARS = [
  "ACTIONS_CACHE_URL",
  "ACTIONS_RESULTS_URL",
  "ACTIONS_CACHE_SERVICE_V2",
  "ACTIONS_RUNTIME_TOKEN",
  "ACTIONS_CACHE_MODE",
  "GITHUB_SERVER_URL",
  "GITEA_ACTIONS",
  "FORGEJO_ACTIONS",
  "CACHE_UPLOAD_CHUNK_SIZE",
  "CACHE_UPLOAD_CONCURRENCY",
  "SEGMENT_DOWNLOAD_TIMEOUT_MINS",
  "RUNNER_DEBUG",
  "ACTIONS_STEP_DEBUG",
];
const MiB = 1024 * 1024;
const hostHasZstd = hasTool("zstd", ["--quiet", "--version"]);

const savedEnv = { ...process.env };
let server: CacheServer | null = null;
let workspace = "";

beforeEach((context) => {
  holdClientOutput(context);
});

afterEach(async () => {
  vi.restoreAllMocks();
  process.env = { ...savedEnv };
  await server?.close();
  server = null;
});

/** A fresh job on a runner that points the client at a new server; `extra` is more job env. */
async function job(options: CacheServerOptions, extra: Record<string, string> = {}): Promise<CacheServer> {
  server = await startCacheServer(options);
  workspace = mkdtempSync(join(tmpdir(), "cache-ws-"));
  for (const name of RUNNER_VARS) delete process.env[name];
  Object.assign(
    process.env,
    server.env,
    { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: mkdtempSync(join(tmpdir(), "cache-tmp-")) },
    extra,
  );
  return server;
}

/** The job env of a runner image without zstd: the client then archives with gzip. */
function withoutZstd(): Record<string, string> {
  const bin = mkdtempSync(join(tmpdir(), "no-zstd-"));
  // The client takes zstd to be there when `zstd --quiet --version` prints anything at all.
  writeFileSync(join(bin, "zstd"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(bin, "zstd"), 0o755);
  return { PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` };
}

const stateDir = () => join(workspace, "state");

async function save(key: string, content: string | Buffer, paths = [stateDir()]): Promise<number> {
  mkdirSync(join(stateDir(), "transcript"), { recursive: true });
  writeFileSync(join(stateDir(), "transcript", "session.jsonl"), content);
  writeFileSync(join(stateDir(), "metadata.json"), JSON.stringify({ key }));
  try {
    return await cache.saveCache(paths, key);
  } finally {
    rmSync(stateDir(), { recursive: true, force: true });
  }
}

/** Restores into a clean workspace; `content` is what landed there, null for nothing. */
async function restore(
  key: string,
  restoreKeys: string[] = [],
  paths = [stateDir()],
): Promise<{ key: string | undefined; content: string | null }> {
  rmSync(stateDir(), { recursive: true, force: true });
  const hit = await cache.restoreCache(paths, key, restoreKeys);
  const file = join(stateDir(), "transcript", "session.jsonl");
  const content = existsSync(file) ? readFileSync(file, "utf8") : null;
  rmSync(stateDir(), { recursive: true, force: true });
  return { key: hit, content };
}

async function restoredDigest(key: string): Promise<string | null> {
  rmSync(stateDir(), { recursive: true, force: true });
  const hit = await cache.restoreCache([stateDir()], key);
  const file = join(stateDir(), "transcript", "session.jsonl");
  return hit && existsSync(file) ? digest(readFileSync(file)) : null;
}

const digest = (data: Buffer) => createHash("sha256").update(data).digest("hex");

const FLAVOURS = [
  {
    name: "v1 as Gitea and Forgejo serve it",
    options: { protocol: "v1", flavour: "gitea" },
    api: "/_apis/artifactcache/",
    foldsCase: true,
    immutable: false,
  },
  {
    name: "v1 as github.com served it",
    options: { protocol: "v1", flavour: "github" },
    api: "/_apis/artifactcache/",
    foldsCase: false,
    immutable: true,
  },
  {
    name: "v2 as github.com serves it",
    options: { protocol: "v2" },
    api: "/twirp/github.actions.results.api.v1.CacheService/",
    foldsCase: false,
    immutable: true,
  },
] as const satisfies readonly {
  name: string;
  options: CacheServerOptions;
  api: string;
  foldsCase: boolean;
  immutable: boolean;
}[];

describe.each(FLAVOURS)("$name", ({ options, api, foldsCase, immutable }) => {
  test("the client finds the service, saves a directory and restores it into a clean workspace; a miss is undefined", async () => {
    const s = await job(options);
    expect(cache.isFeatureAvailable()).toBe(true);
    expect(await save("bottle-state-a-1-1", "turn 1\nturn 2\n")).toBeGreaterThan(0);
    expect(s.entries()).toEqual([expect.objectContaining({ key: "bottle-state-a-1-1", size: expect.any(Number) })]);
    expect(await restore("bottle-state-a-1-1")).toEqual({ key: "bottle-state-a-1-1", content: "turn 1\nturn 2\n" });
    expect(await restore("bottle-state-b-1-1", ["bottle-state-b-"])).toEqual({ key: undefined, content: null });
    const apiCalls = s.requests.filter((r) => r.path.startsWith("/_apis/") || r.path.startsWith("/twirp/"));
    expect(apiCalls.length).toBeGreaterThan(0);
    expect(apiCalls.every((r) => r.path.startsWith(api))).toBe(true);
  });

  test("restore tries each key in order, exact match first, then the newest entry the key prefixes", async () => {
    await job(options);
    await save("bottle-state-a-1-1", "attempt 1");
    await save("bottle-state-a-1-1-rerun", "attempt 1, re-run");
    await save("bottle-state-a-1-2", "attempt 2");
    expect(await restore("bottle-state-a-1-1")).toEqual({ key: "bottle-state-a-1-1", content: "attempt 1" });
    expect(await restore("bottle-state-a-1-9", ["bottle-state-a-1-"])).toEqual({
      key: "bottle-state-a-1-2",
      content: "attempt 2",
    });
    expect(await restore("bottle-state-a-2-1", ["bottle-state-a-1-1-", "bottle-state-a-"])).toEqual({
      key: "bottle-state-a-1-1-rerun",
      content: "attempt 1, re-run",
    });
    expect(await restore("bottle-state-a-1-1-", ["bottle-state-a-1-2"])).toEqual({
      key: "bottle-state-a-1-1-rerun",
      content: "attempt 1, re-run",
    });
  });

  test(
    immutable
      ? "a key is immutable: a second save returns -1 and the first content stays"
      : "a second save of a key replaces the first",
    async () => {
      const s = await job(options);
      expect(await save("bottle-state-y-1-1", "original")).toBeGreaterThan(0);
      const second = await save("bottle-state-y-1-1", "overwrite");
      if (immutable) expect(second).toBe(-1);
      else expect(second).toBeGreaterThan(0);
      expect((await restore("bottle-state-y-1-1")).content).toBe(immutable ? "original" : "overwrite");
      expect(s.entries().filter((e) => e.key === "bottle-state-y-1-1")).toHaveLength(1);
    },
  );

  test(
    foldsCase ? "keys are lowercased: a mixed-case key is found by its lowercase prefix" : "keys keep their case",
    async () => {
      const s = await job(options);
      await save("Bottle-State-X-1", "mixed");
      expect(s.entries().map((e) => e.key)).toEqual([foldsCase ? "bottle-state-x-1" : "Bottle-State-X-1"]);
      expect(await restore("bottle-state-x-2", ["bottle-state-x-"])).toEqual(
        foldsCase ? { key: "bottle-state-x-1", content: "mixed" } : { key: undefined, content: null },
      );
      expect(await restore("Bottle-State-X-2", ["Bottle-State-X-"])).toEqual({
        key: foldsCase ? "bottle-state-x-1" : "Bottle-State-X-1",
        content: "mixed",
      });
    },
  );

  test("gzip archives round-trip, for runners without zstd", async () => {
    await job(options, withoutZstd());
    await save("bottle-state-g-1-1", "gzipped");
    expect(await restore("bottle-state-g-1-1")).toEqual({ key: "bottle-state-g-1-1", content: "gzipped" });
  });

  test("entries are scoped by version: other paths miss", async () => {
    await job(options);
    await save("bottle-state-v-1-1", "paths");
    expect(await restore("bottle-state-v-1-1", [], [stateDir(), join(workspace, "other")])).toEqual({
      key: undefined,
      content: null,
    });
  });

  test.skipIf(!hostHasZstd)(
    "entries are scoped by version: a gzip archive is not offered to a runner with zstd",
    async () => {
      await job(options, withoutZstd());
      await save("bottle-state-z-1-1", "gzipped");
      process.env.PATH = savedEnv.PATH;
      expect(await restore("bottle-state-z-1-1")).toEqual({ key: undefined, content: null });
    },
  );

  test("an archive larger than the server's bound is refused: saveCache returns -1 and nothing is stored", async () => {
    const s = await job({ ...options, maxBytes: 64 * 1024 });
    expect(await save("bottle-state-big-1-1", randomBytes(256 * 1024))).toBe(-1);
    expect(s.entries()).toEqual([]);
    expect(await save("bottle-state-small-1-1", "small")).toBeGreaterThan(0);
    expect((await restore("bottle-state-small-1-1")).content).toBe("small");
  });
});

describe("v1 uploads", () => {
  test.each(["gitea", "github"] as const)(
    "an archive goes up as concurrent ranged PATCHes and is reassembled by offset (%s)",
    async (flavour) => {
      const s = await job({ protocol: "v1", flavour }, { CACHE_UPLOAD_CHUNK_SIZE: "1" });
      const data = randomBytes(5 * MiB);
      expect(await save("bottle-state-c-1-1", data)).toBeGreaterThan(0);
      expect(s.requests.filter((r) => r.method === "PATCH").length).toBeGreaterThanOrEqual(5);
      expect(await restoredDigest("bottle-state-c-1-1")).toBe(digest(data));
    },
  );

  test("a Gitea server URL sends the client down its GHES path: v1 even when ACTIONS_CACHE_SERVICE_V2 is set", async () => {
    const s = await job(
      { protocol: "v1", flavour: "gitea" },
      { ACTIONS_CACHE_SERVICE_V2: "true", ACTIONS_RESULTS_URL: "http://127.0.0.1:9/" },
    );
    expect(cache.isFeatureAvailable()).toBe(true);
    await save("bottle-state-h-1-1", "ghes");
    expect((await restore("bottle-state-h-1-1")).content).toBe("ghes");
    expect(s.requests.some((r) => r.path.startsWith("/twirp/"))).toBe(false);
  });
});

describe("v2 uploads", () => {
  test("an archive up to 128 MiB goes up as one Put Blob on the signed URL", async () => {
    const s = await job({ protocol: "v2" });
    await save("bottle-state-p-1-1", "one shot");
    const puts = s.requests.filter((r) => r.method === "PUT");
    expect(puts).toHaveLength(1);
    expect(puts[0]?.path).not.toContain("comp=");
  });

  test(
    "an archive over 128 MiB goes up as staged blocks and a block list, and comes back whole",
    { timeout: 120_000 },
    async () => {
      const s = await job({ protocol: "v2" });
      const data = randomBytes(130 * MiB);
      expect(await save("bottle-state-l-1-1", data)).toBeGreaterThan(0);
      const puts = s.requests
        .filter((r) => r.method === "PUT")
        .map((r) => new URL(r.path, s.url).searchParams.get("comp"));
      expect(puts.filter((c) => c === "block").length).toBeGreaterThanOrEqual(3);
      expect(puts.at(-1)).toBe("blocklist");
      expect(await restoredDigest("bottle-state-l-1-1")).toBe(digest(data));
    },
  );
});

describe("the environment a runner sets", () => {
  test.each([
    [
      { protocol: "v1", flavour: "gitea" },
      ["ACTIONS_CACHE_URL", "ACTIONS_RUNTIME_TOKEN", "GITEA_ACTIONS", "GITHUB_SERVER_URL"],
    ],
    [{ protocol: "v1", flavour: "github" }, ["ACTIONS_CACHE_URL", "ACTIONS_RUNTIME_TOKEN", "GITHUB_SERVER_URL"]],
    [
      { protocol: "v2" },
      ["ACTIONS_CACHE_SERVICE_V2", "ACTIONS_RESULTS_URL", "ACTIONS_RUNTIME_TOKEN", "GITHUB_SERVER_URL"],
    ],
  ] as const)("%o sets exactly %o", async (options, names) => {
    const s = await job(options);
    expect(Object.keys(s.env).sort()).toEqual(names);
    const serverUrl = new URL(s.env.GITHUB_SERVER_URL ?? "");
    expect(serverUrl.hostname === "github.com").toBe(
      options.protocol === "v2" || ("flavour" in options && options.flavour === "github"),
    );
    for (const name of ["ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL"])
      if (s.env[name]) expect(s.env[name]).toBe(`${s.url}/`);
  });

  test.each([
    ["github", { protocol: "v2" }, /^Actions\.Results:[0-9a-f-]{36}:[0-9a-f-]{36}$/],
    ["gitea", { protocol: "v1", flavour: "gitea" }, /^Actions\.Results:\d+:\d+$/],
  ] as const)(
    "the runtime token is a signed JWT whose scp carries the backend ids (%s)",
    async (_name, options, results) => {
      const s = await job(options);
      const parts = (s.env.ACTIONS_RUNTIME_TOKEN ?? "").split(".");
      expect(parts).toHaveLength(3);
      expect(JSON.parse(Buffer.from(parts[0] ?? "", "base64url").toString())).toMatchObject({
        typ: "JWT",
        alg: "HS256",
      });
      const claims = JSON.parse(Buffer.from(parts[1] ?? "", "base64url").toString()) as { scp: string; exp: number };
      expect(claims.scp.split(" ").filter((scope) => scope.startsWith("Actions.Results:"))).toEqual([
        expect.stringMatching(results),
      ]);
      expect(claims.exp * 1000).toBeGreaterThan(Date.now());
    },
  );

  test("requests without the runner's token are refused, in each protocol's error shape", async () => {
    const v1 = await startCacheServer({ protocol: "v1" });
    const v2 = await startCacheServer({ protocol: "v2" });
    try {
      const find = await fetch(`${v1.url}/_apis/artifactcache/cache?keys=k&version=v`, {
        headers: { authorization: "Bearer forged" },
      });
      expect(find.status).toBe(401);
      expect(await find.json()).toEqual({ error: expect.any(String) });
      const twirp = await fetch(`${v2.url}/twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ key: "k", version: "v" }),
      });
      expect(twirp.status).toBe(401);
      expect(await twirp.json()).toEqual({ code: "unauthenticated", msg: expect.any(String) });
    } finally {
      await v1.close();
      await v2.close();
    }
  });

  test("signed blob URLs are checked: a forged signature or a read URL used to write is refused", async () => {
    const s = await job({ protocol: "v2" });
    await save("bottle-state-s-1-1", "signed");
    const twirp = await fetch(`${s.url}/twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${s.env.ACTIONS_RUNTIME_TOKEN}` },
      body: JSON.stringify({ key: "bottle-state-s-1-1", version: s.entries()[0]?.version }),
    });
    const { signed_download_url: download } = (await twirp.json()) as { signed_download_url: string };
    expect((await fetch(download)).status).toBe(200);
    const forged = new URL(download);
    forged.searchParams.set("sig", "forged");
    expect((await fetch(forged)).headers.get("x-ms-error-code")).toBe("AuthenticationFailed");
    const write = await fetch(download, {
      method: "PUT",
      headers: { "x-ms-blob-type": "BlockBlob" },
      body: "tampered",
    });
    expect([write.status, write.headers.get("x-ms-error-code")]).toEqual([403, "AuthorizationPermissionMismatch"]);
  });

  test("Gitea and Forgejo have no v2 server", async () => {
    await expect(startCacheServer({ protocol: "v2", flavour: "gitea" })).rejects.toThrow(/only the v1/);
  });
});
