/**
 * Cache entries of the tests' own making, put in and read back with the real
 * `@actions/cache` client, as a poisoned cache would hold them or a later job would
 * restore them. Files live under `.claude-bottle-cache/` of a workspace, as the
 * action's do (the cache versions entries by their paths).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tarStream from "tar-stream";
import { expect } from "vitest";
import type { CacheServer } from "./cache-server.js";

const DIR = ".claude-bottle-cache";

export type RawEntry = Partial<tarStream.Header> & { name: string; body?: string };

/** A tar archive of exactly these entries (paths, links and all, as given). */
export async function tarOf(entries: RawEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const { body, ...header } of entries) pack.entry(header, body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Runs `use` with the real cache client pointed at `server`, as a job in `workspace` would. */
export async function withCacheClient(
  server: CacheServer,
  workspace: string,
  use: (cache: typeof import("@actions/cache")) => Promise<void>,
): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, server.env, {
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: mkdtempSync(join(tmpdir(), "raw-")),
  });
  const cwd = process.cwd();
  process.chdir(workspace);
  try {
    await use(await import("@actions/cache"));
  } finally {
    process.chdir(cwd);
    process.env = saved;
  }
}

/** Saves `files` (names under .claude-bottle-cache/) as one entry under `key`. */
export async function saveFiles(
  server: CacheServer,
  workspace: string,
  key: string,
  files: Record<string, Buffer | string>,
): Promise<void> {
  mkdirSync(join(workspace, DIR), { recursive: true });
  for (const [name, body] of Object.entries(files)) writeFileSync(join(workspace, DIR, name), body);
  await withCacheClient(server, workspace, async (cache) => {
    expect(
      await cache.saveCache(
        Object.keys(files).map((name) => `${DIR}/${name}`),
        key,
      ),
    ).not.toBe(-1);
  });
  rmSync(join(workspace, DIR), { recursive: true, force: true });
}

/** A bottle state archive of our own making under `key`. */
export async function saveRawState(
  server: CacheServer,
  workspace: string,
  key: string,
  entries: RawEntry[],
): Promise<void> {
  await saveFiles(server, workspace, key, { "state.tar": await tarOf(entries) });
}

/** The state archive saved under `key`, as a later job would restore it. */
export async function restoreRawState(server: CacheServer, key: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), "restore-raw-"));
  try {
    await withCacheClient(server, dir, async (cache) => {
      expect(await cache.restoreCache([`${DIR}/state.tar`], key)).toBe(key);
    });
    return readFileSync(join(dir, DIR, "state.tar"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
