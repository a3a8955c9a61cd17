/**
 * Preserved bottle state in the Actions cache, the store that works on GitHub,
 * Gitea and Forgejo alike. The state directory travels as one tar file of our own
 * (`.claude-bottle-cache/state.tar` under the job's workspace: the cache versions
 * entries by their paths, so the path must be the same in every job), which lets a
 * restore check the archive before unpacking it. The `@actions/cache` client is
 * passed in so tests can drive the real one against a server they own.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { type ArchiveLimits, DEFAULT_LIMITS, packState, unpackState } from "../state/archive.js";

export interface CacheClient {
  isFeatureAvailable(): boolean;
  saveCache(paths: string[], key: string): Promise<number>;
  restoreCache(paths: string[], primaryKey: string, restoreKeys?: string[]): Promise<string | undefined>;
}

/** Relative to the workspace, so the cache's version of the entry is the same in every job. */
export const CACHE_ARCHIVE_DIR = ".claude-bottle-cache";
const ARCHIVE_NAME = "state.tar";

export const CACHE_UNAVAILABLE =
  "the Actions cache service is not available in this job (neither ACTIONS_CACHE_URL nor ACTIONS_RESULTS_URL is set)";

export interface SaveResult {
  key: string;
  saved: boolean;
  /** Why nothing was saved, when it was not. */
  reason?: string;
}

export class CacheStore {
  constructor(
    private readonly cache: CacheClient,
    /** Where the job's relative paths resolve (GITHUB_WORKSPACE). */
    private readonly workspace: string,
    private readonly limits: ArchiveLimits = DEFAULT_LIMITS,
  ) {}

  private get dir(): string {
    return join(this.workspace, CACHE_ARCHIVE_DIR);
  }

  /** False when the job has no cache service (neither ACTIONS_CACHE_URL nor ACTIONS_RESULTS_URL). */
  get available(): boolean {
    return this.cache.isFeatureAvailable();
  }

  async save(stateDir: string, key: string): Promise<SaveResult> {
    if (!this.available) return { key, saved: false, reason: CACHE_UNAVAILABLE };
    try {
      await packState(stateDir, join(this.dir, ARCHIVE_NAME));
      // GitHub's keys are immutable: saving an existing key returns -1 rather than throwing.
      const id = await this.cache.saveCache([`${CACHE_ARCHIVE_DIR}/${ARCHIVE_NAME}`], key);
      return id === -1
        ? { key, saved: false, reason: `the cache refused key ${key} (it may exist already)` }
        : { key, saved: true };
    } catch (error) {
      return { key, saved: false, reason: errorMessage(error) };
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }

  /**
   * Restores `keys.primary` when it exists, else the newest state under `keys.prefix`,
   * into `stateDir`. Null when there is none; an UnsafeArchiveError when what came back
   * breaks the archive rules (nothing is written then). Check `available` first.
   */
  async restore(keys: { primary: string; prefix: string }, stateDir: string): Promise<{ key: string } | null> {
    if (!this.available) throw new Error(CACHE_UNAVAILABLE);
    await mkdir(this.dir, { recursive: true });
    try {
      const key = await this.cache.restoreCache([`${CACHE_ARCHIVE_DIR}/${ARCHIVE_NAME}`], keys.primary, [keys.prefix]);
      if (!key) return null;
      await unpackState(join(this.dir, ARCHIVE_NAME), stateDir, this.limits);
      return { key };
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}
