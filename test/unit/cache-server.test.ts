/**
 * The tests' own cache servers, proven with the real @actions/cache client: what
 * the action's integration tests rely on about v1 (Gitea/Forgejo) and v2 (github.com).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as cache from "@actions/cache";
import { afterEach, describe, expect, test } from "vitest";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";

const saved = { ...process.env };
const savedCwd = process.cwd();
let server: CacheServer | null = null;

afterEach(async () => {
  process.env = { ...saved };
  process.chdir(savedCwd);
  await server?.close();
  server = null;
});

async function setup(options: Parameters<typeof startCacheServer>[0]): Promise<string> {
  server = await startCacheServer(options);
  const workspace = mkdtempSync(join(tmpdir(), "cache-ws-"));
  Object.assign(process.env, server.env, { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: mkdtempSync(join(tmpdir(), "cache-tmp-")) });
  process.chdir(workspace);
  return workspace;
}

async function save(workspace: string, key: string, content: string): Promise<number> {
  mkdirSync(join(workspace, "data"), { recursive: true });
  writeFileSync(join(workspace, "data/file.txt"), content);
  const id = await cache.saveCache(["data"], key);
  rmSync(join(workspace, "data"), { recursive: true, force: true });
  return id;
}

async function restore(workspace: string, key: string, restoreKeys: string[] = []): Promise<{ key: string | undefined; content: string | null }> {
  const hit = await cache.restoreCache(["data"], key, restoreKeys);
  let content: string | null = null;
  try {
    content = readFileSync(join(workspace, "data/file.txt"), "utf8");
  } catch {
    content = null;
  }
  rmSync(join(workspace, "data"), { recursive: true, force: true });
  return { key: hit, content };
}

describe.each([["v1", "gitea"], ["v2", "github"]] as const)("cache protocol %s (%s)", (protocol, flavour) => {
  test("save then restore round-trips; prefixes find the newest; a miss is undefined", async () => {
    const ws = await setup({ protocol, flavour });
    expect(cache.isFeatureAvailable()).toBe(true);
    expect(await save(ws, "bottle-state-a-1-1", "first")).not.toBe(-1);
    expect(await save(ws, "bottle-state-a-1-2", "second")).not.toBe(-1);
    expect(await restore(ws, "bottle-state-a-1-1")).toEqual({ key: "bottle-state-a-1-1", content: "first" });
    expect(await restore(ws, "bottle-state-a-", ["bottle-state-a-"])).toEqual({ key: "bottle-state-a-1-2", content: "second" });
    expect(await restore(ws, "bottle-state-b-")).toEqual({ key: undefined, content: null });
  });
});

describe("protocol differences", () => {
  test("v1 as Gitea serves it lowercases keys, and a second save of a key replaces it", async () => {
    const ws = await setup({ protocol: "v1", flavour: "gitea" });
    await save(ws, "Bottle-State-X-1", "old");
    expect(server?.entries().map((e) => e.key)).toEqual(["bottle-state-x-1"]);
    expect((await restore(ws, "bottle-state-x-")).content).toBe("old");
    await save(ws, "bottle-state-x-1", "new");
    expect((await restore(ws, "bottle-state-x-1")).content).toBe("new");
  });

  test("v2 as github.com serves it keeps keys immutable: a second save returns -1 and the first content stays", async () => {
    const ws = await setup({ protocol: "v2", flavour: "github" });
    expect(await save(ws, "bottle-state-y-1-1", "original")).not.toBe(-1);
    expect(await save(ws, "bottle-state-y-1-1", "overwrite")).toBe(-1);
    expect((await restore(ws, "bottle-state-y-1-1")).content).toBe("original");
  });
});
