/**
 * The images a launch runs: pulled when missing, or built. A per-bottle Dockerfile
 * (the agent's own) is built behind the bottle's gate once that is up
 * (bottle-image.ts); a failed one is its own outcome, with its log in the state.
 */
import type { DockerClient } from "../../docker/client.js";
import { ROLES } from "../../docker/client.js";
import { buildStep } from "../../docker/build-steps.js";
import { errorMessage } from "../../errors.js";
import type { Log } from "../../log/log.js";
import { BOTTLE_BUILD_TERMS, bottleBuildRequest } from "../bottle-image.js";
import { buildContext } from "../images.js";
import type { BottlePlan } from "../plan.js";
import { roleLabels } from "./resources.js";
import { BuildFailed, LaunchError, type LaunchDeps } from "./types.js";

const BUILD_LOG_LIMIT = 1024 * 1024;
const BUILD_TAIL_LINES = 20;

export async function ensureImage(docker: DockerClient, ref: string, log: Log): Promise<void> {
  if (await docker.imageExists(ref)) return;
  log.info(`pulling ${ref}`);
  try {
    await docker.pullImage(ref, (line) => log.progress(line));
  } catch (error) {
    throw new LaunchError(
      `image ${ref} is not on this engine and pulling it failed (${errorMessage(error)}); build or load it first`,
    );
  }
}

/** The tag of a per-bottle image, which is built only once the gate is up; null for every other image. */
export function perBottleTag(plan: BottlePlan): string | null {
  return plan.image.kind === "build" && plan.image.source === "per-bottle" ? plan.image.tag : null;
}

/** Pulls, reuses or builds the agent's image; returns its reference. */
export async function ensureAgentImage(plan: BottlePlan, deps: LaunchDeps): Promise<string> {
  const image = plan.image;
  if (image.kind === "prebuilt") {
    await ensureImage(deps.docker, image.ref, deps.log);
    return image.ref;
  }
  if (image.reuse && (await deps.docker.imageExists(image.tag))) return image.tag;
  const perBottle = image.source === "per-bottle";
  deps.log.info(
    `building agent image ${image.tag} from the ${image.source} Dockerfile` +
      (perBottle ? ` (${BOTTLE_BUILD_TERMS})` : ""),
  );
  const output = new BuildOutput(deps.log);
  try {
    const request = perBottle
      ? await bottleBuildRequest(
          { ...image, labels: plan.labels, network: plan.networks.internal, agentEnv: plan.agentContainer.env },
          deps.docker,
        )
      : {
          context: await buildContext(image.contextDir, image.dockerfile),
          dockerfile: ".claude-bottle.Dockerfile",
          tag: image.tag,
          buildArgs: image.buildArgs,
          labels: roleLabels(plan, ROLES.image),
        };
    await deps.docker.buildImage(request, (line) => output.accept(line));
  } catch (error) {
    if (perBottle) {
      // Its own outcome: the state (and the Dockerfile in it) is what the person fixes.
      await deps.state.writeBuildLog(plan.identity, `${output.full.join("\n")}\n${errorMessage(error)}\n`);
      throw new BuildFailed(
        `building the per-bottle Dockerfile failed: ${errorMessage(error)}\n${output.tail.join("\n")}`,
      );
    }
    throw new LaunchError(
      `building the agent image from the ${image.source} Dockerfile failed: ${errorMessage(error)}\n` +
        output.tail.join("\n"),
    );
  }
  if (perBottle) await promoteProposal(plan, deps);
  return image.tag;
}

/** A build's lines: its steps to the log, the last few for an error, the first megabyte for the state's build log. */
class BuildOutput {
  readonly tail: string[] = [];
  readonly full: string[] = [];
  private fullBytes = 0;

  constructor(private readonly log: Log) {}

  accept(line: string): void {
    const step = buildStep(line);
    if (step) this.log.progress(step);
    this.tail.push(line);
    if (this.tail.length > BUILD_TAIL_LINES) this.tail.shift();
    if (this.fullBytes < BUILD_LOG_LIMIT) {
      this.full.push(line);
      this.fullBytes += line.length + 1;
    }
  }
}

/** A proposal waiting in Dockerfile.proposed becomes the bottle's Dockerfile once it has built (and only that one). */
async function promoteProposal(plan: BottlePlan, deps: LaunchDeps): Promise<void> {
  const { state } = deps;
  const text = await state.readProposedDockerfile(plan.identity);
  if (text === null || plan.image.kind !== "build" || text !== plan.image.dockerfile) return;
  await state.promoteProposedDockerfile(plan.identity);
  const record = await state.readCapabilityBlock(plan.identity);
  if (record && typeof record === "object")
    await state.writeCapabilityBlock(plan.identity, { ...record, result: "rebuilt" });
}
