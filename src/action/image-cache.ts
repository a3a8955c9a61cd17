/**
 * The agent image across CI jobs. A fresh runner has an empty engine, so every job
 * would build the same agent image again (pull the base, install claude-code: tens
 * of seconds). A content-addressed image (the tag is a hash of its Dockerfile and
 * build args) is saved to the Actions cache with the engine's own export after the
 * job that built it, and loaded with the engine's import by the next job, as
 * build-push-action's `type=gha` cache spares rebuilds. Locally the engine's image
 * store already does this.
 *
 * A restored export is untrusted like any cache entry, and `docker load` tags
 * whatever its manifest names: a poisoned entry could retag the gate's image. So the
 * export is read first and loaded only when it names exactly the expected tag.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import * as tarStream from "tar-stream";
import type { DockerClient } from "../docker/client.js";
import { errorMessage } from "../errors.js";
import type { Log } from "../log/log.js";
import { CACHE_ARCHIVE_DIR, type CacheClient } from "./cache-store.js";

const ARCHIVE = `${CACHE_ARCHIVE_DIR}/image.tar`;
const INFO = `${CACHE_ARCHIVE_DIR}/image.json`;
/** manifest.json and repositories are small; anything bigger under those names is not an export. */
const INDEX_LIMIT = 1024 * 1024;

export function imageCacheKey(tag: string): string {
  return `bottle-image-${tag.replace(/[^A-Za-z0-9.-]/g, "-")}`.toLowerCase();
}

export type ImageRestore =
  { state: "present" } | { state: "missing" } | { state: "loaded"; loadMs: number; buildMs: number | null };

export class ImageCache {
  constructor(
    private readonly cache: CacheClient,
    /** Where the job's relative paths resolve (GITHUB_WORKSPACE). */
    private readonly workspace: string,
    private readonly docker: DockerClient,
    private readonly log: Log,
  ) {}

  /** Makes `tag` present on the engine from the cache when it is missing there; never fails the job. */
  async restore(tag: string): Promise<ImageRestore> {
    if (await this.docker.imageExists(tag)) return { state: "present" };
    if (!this.cache.isFeatureAvailable()) return { state: "missing" };
    const started = performance.now();
    try {
      const key = await this.cache.restoreCache([ARCHIVE, INFO], imageCacheKey(tag));
      if (!key) {
        this.log.info(`agent image ${tag}: not in the cache yet; building it, then saving it for the next job`);
        return { state: "missing" };
      }
      const archive = join(this.workspace, ARCHIVE);
      await checkImageExport(archive, tag);
      await this.docker.importImage(createReadStream(archive));
      if (!(await this.docker.imageExists(tag))) throw new Error(`the cached export did not produce ${tag}`);
      const loadMs = Math.round(performance.now() - started);
      const buildMs = await readBuildMs(join(this.workspace, INFO));
      this.log.info(
        `agent image ${tag}: loaded from the cache in ` +
          `${seconds(loadMs)}${buildMs === null ? "" : ` (building it took ${seconds(buildMs)})`}`,
      );
      return { state: "loaded", loadMs, buildMs };
    } catch (error) {
      this.log.warn(`agent image ${tag}: the cached copy was not used (${errorMessage(error)}); building it instead`);
      return { state: "missing" };
    } finally {
      await rm(join(this.workspace, CACHE_ARCHIVE_DIR), { recursive: true, force: true });
    }
  }

  /** Saves `tag` for the next job; `buildMs` is what the next job is spared. */
  async save(tag: string, buildMs: number | null): Promise<void> {
    if (!this.cache.isFeatureAvailable() || !(await this.docker.imageExists(tag))) return;
    const dir = join(this.workspace, CACHE_ARCHIVE_DIR);
    try {
      await mkdir(dir, { recursive: true });
      await pipeline(
        await this.docker.exportImage(tag),
        createWriteStream(join(this.workspace, ARCHIVE), { mode: 0o600 }),
      );
      await writeFile(join(this.workspace, INFO), JSON.stringify({ tag, buildMs }));
      const id = await this.cache.saveCache([ARCHIVE, INFO], imageCacheKey(tag));
      if (id === -1) this.log.info(`agent image ${tag}: already in the cache`);
      else
        this.log.info(
          `agent image ${tag}: saved to the cache as ${imageCacheKey(tag)}, so the next job loads it instead of ` +
            `building`,
        );
    } catch (error) {
      this.log.warn(`agent image ${tag}: not saved to the cache (${errorMessage(error)})`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

async function readBuildMs(path: string): Promise<number | null> {
  try {
    const value = (JSON.parse(await readFile(path, "utf8")) as { buildMs?: unknown }).buildMs;
    return typeof value === "number" && Number.isFinite(value) && value >= 0 ? Math.round(value) : null;
  } catch {
    return null;
  }
}

/**
 * Reads an engine export and refuses it unless every name it would tag is `tag`:
 * manifest.json's RepoTags and the older `repositories` file are what `docker load`
 * applies.
 */
export async function checkImageExport(archive: string, tag: string): Promise<void> {
  const index = new Map<string, string>();
  const extract = tarStream.extract();
  extract.on("entry", (header, stream, next) => {
    const name = header.name.replace(/^\.\//, "");
    if (
      (name === "manifest.json" || name === "repositories") &&
      header.type === "file" &&
      (header.size ?? 0) <= INDEX_LIMIT
    ) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        index.set(name, Buffer.concat(chunks).toString("utf8"));
        next();
      });
    } else {
      stream.on("end", next);
      stream.resume();
    }
  });
  await pipeline(createReadStream(archive), extract);
  const names = new Set<string>();
  const manifest = parse(index.get("manifest.json"), "manifest.json");
  if (!Array.isArray(manifest)) throw new Error("the cached image export has no manifest.json list");
  for (const entry of manifest as { RepoTags?: unknown }[]) {
    const tags = entry?.RepoTags;
    if (tags === null || tags === undefined) continue;
    if (!Array.isArray(tags)) throw new Error("the cached image export's RepoTags is not a list");
    for (const t of tags) names.add(String(t));
  }
  const repositories = index.has("repositories") ? parse(index.get("repositories"), "repositories") : {};
  for (const [repo, tags] of Object.entries((repositories ?? {}) as Record<string, Record<string, unknown>>)) {
    for (const t of Object.keys(tags ?? {})) names.add(`${repo}:${t}`);
  }
  const others = [...names].filter((n) => n !== tag);
  if (others.length > 0 || !names.has(tag)) {
    throw new Error(
      `the cached image export names ${JSON.stringify([...names])}, not only ${tag}; refusing to load it`,
    );
  }
}

function parse(text: string | undefined, what: string): unknown {
  if (text === undefined) throw new Error(`the cached image export has no ${what}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`the cached image export's ${what} is not JSON`);
  }
}
