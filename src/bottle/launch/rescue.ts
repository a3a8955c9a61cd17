/**
 * A runner died (SIGKILL, a cancelled job) and left a bottle behind: stop claude,
 * take the final snapshot from the agent container while it still exists, and mark
 * the state preserved as `interrupted`. A fresh bottle whose claude never started
 * has nothing to keep, and its state is removed. The caller removes the containers after.
 */
import { IDENTITY_LABEL, ROLE_LABEL, ROLES } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import { DEFAULT_STATE_LIMIT, parseStateLimit } from "../../manifest/schema.js";
import { StateBudget } from "../../state/budget.js";
import { removeBottleState } from "../bottle-image.js";
import { rescueProposal } from "./capability-block.js";
import { snapshotTranscript, snapshotWorkspace } from "./snapshots.js";
import { stopClaude } from "./stop.js";
import type { LaunchDeps } from "./types.js";

export async function rescueBottle(
  identity: string,
  deps: Pick<LaunchDeps, "docker" | "state" | "clock" | "log">,
): Promise<boolean> {
  const { docker, state, log } = deps;
  const containers = await docker.listContainers([`${IDENTITY_LABEL}=${identity}`]);
  const agent = containers.find((c) => c.labels[ROLE_LABEL] === ROLES.agent);
  const supervise = containers.find((c) => c.labels[ROLE_LABEL] === ROLES.supervise);
  if (!state.exists(identity)) return false;
  await state.recover(identity);
  if (agent?.running) await stopClaude(docker, agent.id, log);
  const recorded = await state.readMetadata(identity).catch(() => null);
  if (agent) {
    const budget = await StateBudget.open(
      state,
      identity,
      recorded?.stateLimitBytes ?? parseStateLimit(DEFAULT_STATE_LIMIT),
    );
    const source = { docker, state, container: agent.id, identity, budget };
    await snapshotTranscript(source).catch((e) =>
      log.warn(`final transcript snapshot failed, the last one is kept: ${errorMessage(e)}`),
    );
    await snapshotWorkspace(source, log).catch((e) =>
      log.warn(`workspace snapshot failed, the last one is kept: ${errorMessage(e)}`),
    );
  }
  if (recorded && recorded.sessionId === null) {
    // The runner may have died between claude's first event and recording its session: the transcript knows it.
    const sessionId = state.transcriptSession(identity);
    if (sessionId) {
      await state.updateMetadata(identity, { sessionId });
    } else {
      // claude never started in a fresh bottle: there is no session to keep, and the work tree is
      // still where it came from.
      await removeBottleState(identity, deps);
      log.info(
        `removed the state of ${identity}: its runner stopped before claude started, so there was nothing to keep`,
      );
      return false;
    }
  }
  // A proposal the dead runner had not settled yet is kept, as `preserve` would: a person decides.
  const proposal = supervise ? await rescueProposal(docker, state, supervise.id, identity, log) : false;
  const metadata = await state.readMetadata(identity).catch(() => null);
  if (metadata?.outcome === "running") {
    await state.updateMetadata(identity, {
      outcome: proposal ? "capability-block" : "interrupted",
      endedAt: deps.clock.now().toISOString(),
    });
  }
  await state.markPreserved(identity);
  log.info(`preserved ${identity} after its runner stopped: node runner resume ${identity}`);
  return true;
}
