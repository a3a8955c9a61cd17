/**
 * Starting the supervise sidecar: on the internal network only (the agent reaches
 * it as `supervise`, nothing outside the bottle can), no credentials, no
 * capabilities. It never touches Docker: it tells the runner of a proposal on its
 * stdout (proposals.ts).
 */
import { ROLES } from "../../docker/client.js";
import { SUPERVISE_HOST_ALIAS } from "../../supervise/config.js";
import { programLoader } from "../gate-program.js";
import type { BottlePlan } from "../plan.js";
import type { SupervisePlan } from "../plan-supervise.js";
import { ensureImage } from "./agent-image.js";
import type { BottleResources } from "./resources.js";
import { hardenedSidecar, installAndStart, type Sidecar, sidecarConfigPath } from "./sidecar.js";
import type { LaunchDeps } from "./types.js";

const SUPERVISE_DIR = "/opt/claude-bottle-supervise";
/** Where the sidecar's config is, which a rescue reads back for the Dockerfile a proposal replaces. */
export const SUPERVISE_CONFIG_PATH = sidecarConfigPath({ dir: SUPERVISE_DIR });

/** Creates and starts the supervise sidecar; returns its container id once it is ready. */
export async function startSupervise(
  plan: BottlePlan,
  supervise: SupervisePlan,
  deps: LaunchDeps,
  resources: BottleResources,
): Promise<string> {
  await ensureImage(deps.docker, supervise.image, deps.log);
  const sidecar = superviseSidecar(plan, supervise);
  const id = await resources.createContainer(hardenedSidecar(plan, sidecar));
  const program = deps.superviseProgram ?? programLoader("supervise", deps.env);
  await installAndStart(deps.docker, id, sidecar, { program: await program(), config: supervise.config });
  return id;
}

function superviseSidecar(plan: BottlePlan, supervise: SupervisePlan): Sidecar {
  return {
    what: "the supervise server",
    name: supervise.name,
    image: supervise.image,
    role: ROLES.supervise,
    dir: SUPERVISE_DIR,
    program: "supervise.mjs",
    network: plan.networks.internal,
    aliases: [SUPERVISE_HOST_ALIAS],
    env: {},
    memoryBytes: 128 * 1024 * 1024,
    pidsLimit: 64,
  };
}
