/**
 * The post step's logic (runs with `post-if: always()`). When main finished, it only
 * makes sure no container or network of this bottle is left. When main was killed
 * or the job cancelled mid-run, it rescues the bottle — stops claude, takes the
 * final snapshot, marks it preserved — saves the state to the cache and removes
 * every container and network with this bottle's identity. It has to finish well
 * inside the runner's cancel grace period, so it does nothing else.
 */
import { rescueBottle } from "../bottle/launch/rescue.js";
import { cleanupOrphans } from "../bottle/inventory.js";
import { errorMessage } from "../errors.js";
import { StateStore } from "../state/store.js";
import { CacheStore } from "./cache-store.js";
import { jobContext, stateCacheKey } from "./context.js";
import { actionLog, safeToolkit } from "./log.js";
import type { ActionDeps, MainState } from "./run.js";

export async function runPost(deps: Omit<ActionDeps, "artifact" | "signal">): Promise<void> {
  const core = safeToolkit(deps.core);
  const raw = core.getState("main");
  if (!raw) return; // main failed before it chose a bottle: nothing was created
  let main: MainState;
  try {
    main = JSON.parse(raw) as MainState;
  } catch {
    core.warning("post: the state main saved is unreadable; nothing to clean up");
    return;
  }
  try {
    const docker = await deps.docker();
    const state = new StateStore(main.stateHome);
    const log = actionLog(core);
    const interrupted = main.phase !== "done";
    let rescued = false;
    // Main is gone either way, so nothing labelled with this identity has a live owner.
    const report = await cleanupOrphans(docker, {
      identities: [main.identity],
      force: true,
      ...(interrupted
        ? {
            rescue: async (identity: string) =>
              (rescued = await rescueBottle(identity, { docker, state, clock: { now: () => new Date() }, log })),
          }
        : {}),
    });
    for (const r of report.removed) core.info(`post: removed ${[...r.containers, ...r.networks].join(", ")}`);
    for (const f of report.failures) core.warning(`post: ${f}`);
    if (interrupted && (rescued || state.isPreserved(main.identity))) {
      const key = stateCacheKey(main.identity, jobContext(deps.env));
      const saved = await new CacheStore(deps.cache, main.workspace).save(state.dir(main.identity), key);
      if (saved.saved) core.info(`post: main stopped early; the bottle's state is saved to the cache as ${key}`);
      else core.warning(`post: main stopped early and the state could not be saved to the cache: ${saved.reason}`);
    }
  } catch (error) {
    core.warning(`post: ${errorMessage(error)}`);
  }
}
