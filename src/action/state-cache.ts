/**
 * The bottle's state between jobs: what the action restores before a launch and
 * saves after it. The cache only ever holds the newest word on a bottle under its
 * prefix: a preserved state (resume it) or, once a launch settled it, a tombstone
 * (its metadata and `settled.json`, nothing to resume), so a finished bottle stays
 * finished for every later resume job and re-run.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { RunResult } from "../bottle/launch/types.js";
import { InputError } from "../errors.js";
import { type Metadata, type Settled, describeOrigin } from "../state/metadata.js";
import { StateStore } from "../state/store.js";
import { CACHE_UNAVAILABLE, type CacheStore } from "./cache-store.js";
import { type ArtifactUploader, defaultArtifactName, uploadStateArtifact } from "./artifact.js";
import { type JobContext, stateCacheKey, stateCachePrefix, stateRestoreKeys } from "./context.js";
import type { ActionInputs } from "./inputs.js";
import type { SavedState } from "./outputs.js";
import type { Toolkit } from "./toolkit.js";

export type Restored =
  | { kind: "fresh" }
  | { kind: "resume"; key: string }
  /** The newest entry is a tombstone: the bottle finished in an earlier job. */
  | { kind: "settled"; key: string; settled: Settled; metadata: Metadata };

export interface StateCacheDeps {
  core: Toolkit;
  state: StateStore;
  store: CacheStore;
  artifact: () => Promise<ArtifactUploader>;
  env: NodeJS.ProcessEnv;
  /** Looks for the bottle's state artifact when the cache has none (a resume job); null when there is none. */
  fromArtifact: () => Promise<{ source: string } | null>;
}

export async function restoreState(
  inputs: ActionInputs,
  ctx: JobContext,
  identity: string,
  deps: StateCacheDeps,
): Promise<Restored> {
  const { core, state, store } = deps;
  if (inputs.mode === "resume") {
    const prefix = stateCachePrefix(identity);
    const restored = store.available ? await store.restore(stateRestoreKeys(identity), state.dir(identity)) : null;
    if (restored) {
      core.info(`restored ${identity} from cache key ${restored.key}`);
      return classify(identity, restored.key, state);
    }
    // The cache may have evicted the entry (or the job has none); the state artifact outlives it.
    const artifact = await deps.fromArtifact();
    if (artifact) {
      core.info(
        `restored ${identity} from ${artifact.source} ` +
          `(${store.available ? `the cache has no entry under ${prefix}` : CACHE_UNAVAILABLE})`,
      );
      return classify(identity, artifact.source, state);
    }
    if (!store.available) {
      throw new Error(
        `bottle ${identity} cannot be restored: ${CACHE_UNAVAILABLE}; run the resume job where the cache is ` +
          `enabled (on Gitea and Forgejo, the runner's cache: enabled setting)`,
      );
    }
    throw new InputError(
      "identity",
      identity,
      `has no saved state in the cache (looked for keys starting with ${prefix})`,
      "check the identity output of the job that preserved the bottle, and that its state was saved (save-state " +
        "not none)",
    );
  }
  if (ctx.attempt <= 1) return { kind: "fresh" };
  if (!store.available) {
    core.info(
      `attempt ${ctx.attempt}: ${CACHE_UNAVAILABLE}, so no earlier attempt's state can be restored; starting fresh`,
    );
    return { kind: "fresh" };
  }
  // A re-run: the same inputs, so the task is already in the session; pick up what the failed attempt kept.
  const restored = await store.restore(stateRestoreKeys(identity, ctx), state.dir(identity));
  if (!restored) {
    core.info(`attempt ${ctx.attempt}: no preserved state for ${identity} from an earlier attempt; starting fresh`);
    return { kind: "fresh" };
  }
  const found = await classify(identity, restored.key, state);
  if (found.kind === "settled") {
    core.info(
      `attempt ${ctx.attempt}: bottle ${identity} already finished (${found.settled.outcome}) in ` +
        `${describeOrigin(found.settled.origin)}; starting fresh`,
    );
    await state.remove(identity);
    return { kind: "fresh" };
  }
  const metadata = await state.readMetadata(identity);
  if (!metadata?.sessionId) {
    core.info(`attempt ${ctx.attempt}: the saved state of ${identity} has no claude session; starting fresh`);
    await state.remove(identity);
    return { kind: "fresh" };
  }
  core.info(
    `attempt ${ctx.attempt}: resuming ${identity} (session ${metadata.sessionId}) from cache key ` +
      `${restored.key} instead of starting fresh`,
  );
  return found;
}

/** A tombstone, or a state whose metadata says it succeeded (a success's artifact), is settled: nothing to resume. */
async function classify(identity: string, key: string, state: StateStore): Promise<Restored> {
  const settled = await state.readSettled(identity);
  const metadata = await state.readMetadata(identity);
  if (settled) {
    if (!metadata)
      throw new InputError(
        "identity",
        identity,
        `has a settled mark but no metadata in ${key}`,
        "the saved state is damaged; start the agent again",
      );
    return { kind: "settled", key, settled, metadata };
  }
  if (metadata?.outcome === "success") {
    return {
      kind: "settled",
      key,
      settled: { outcome: "success", origin: metadata.origin, at: metadata.endedAt ?? metadata.startedAt },
      metadata,
    };
  }
  return { kind: "resume", key };
}

/**
 * After the launch: a preserved state is saved whole (and as an artifact on GitHub);
 * a settled one leaves a tombstone under the same prefix, so the newest entry tells
 * the truth. `finished` is the bottle's metadata as it was just before cleanup.
 */
export async function saveState(
  result: RunResult,
  inputs: ActionInputs,
  ctx: JobContext,
  finished: Metadata | null,
  deps: StateCacheDeps,
): Promise<SavedState> {
  const { core, state, store } = deps;
  const saved: SavedState = { cacheKey: null, artifactId: null };
  if (inputs.saveState === "none") return saved;
  const key = stateCacheKey(result.identity, ctx);
  if (!result.preserved) {
    if (finished)
      await saveTombstone(
        finished,
        { outcome: result.outcome, origin: { run: ctx.runId, attempt: ctx.attempt }, at: new Date().toISOString() },
        key,
        deps,
      );
    return saved;
  }
  const cached = await store.save(state.dir(result.identity), key);
  if (cached.saved) {
    saved.cacheKey = key;
    core.info(`saved the bottle's state to the cache as ${key}`);
  } else {
    core.warning(
      `the bottle's state was not saved to the cache: ${cached.reason}; it is still in ` +
        `${state.dir(result.identity)} on this runner`,
    );
  }
  if (inputs.saveState === "cache-and-artifact") {
    saved.artifactId = await uploadStateArtifact(
      deps,
      ctx,
      state,
      result.identity,
      inputs.artifactName ?? defaultArtifactName(result.identity, ctx.attempt),
    );
  }
  return saved;
}

async function saveTombstone(metadata: Metadata, settled: Settled, key: string, deps: StateCacheDeps): Promise<void> {
  const home = await mkdtemp(join(deps.state.home, ".tombstone-"));
  try {
    const tombstones = new StateStore(home);
    await tombstones.writeTombstone(metadata, settled);
    const cached = await deps.store.save(tombstones.dir(metadata.identity), key);
    if (cached.saved)
      deps.core.info(`recorded in the cache that ${metadata.identity} finished (${settled.outcome}) as ${key}`);
    else
      deps.core.warning(
        `could not record in the cache that ${metadata.identity} finished: ${cached.reason}; a later resume job ` +
          `may find an older state`,
      );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
