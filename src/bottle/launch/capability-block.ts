/**
 * Keeping an accepted capability-block proposal in the state. With `preserve` it
 * becomes the bottle's Dockerfile, which the next launch builds; with `rebuild` it
 * waits in Dockerfile.proposed until the rebuild that follows has built it, so a
 * proposal that does not build leaves the bottle's Dockerfile as it was.
 */
import { createHash } from "node:crypto";
import type { DockerClient } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import type { Log } from "../../log/log.js";
import type { StateStore } from "../../state/store.js";
import { type Proposal, type SuperviseConfig, SuperviseConfigSchema } from "../../supervise/config.js";
import { readTarFiles } from "../archive.js";
import { type BottlePlan, currentDockerfile } from "../plan.js";
import { PROPOSAL_READ_LIMIT, ProposalWatch } from "./proposals.js";
import { SUPERVISE_CONFIG_PATH } from "./supervise.js";
import type { CapabilityBlockRecord, LaunchDeps } from "./types.js";

export function capabilityBlockRecord(
  proposal: Proposal,
  policy: CapabilityBlockRecord["policy"],
  before: CapabilityBlockRecord["before"],
): CapabilityBlockRecord {
  return {
    version: 1,
    reason: proposal.reason,
    at: proposal.at,
    policy,
    before,
    proposed: proposal.dockerfile,
    sha256: createHash("sha256").update(proposal.dockerfile).digest("hex"),
  };
}

/** Keeps a proposal accepted in this launch, as the plan's policy says. */
export async function keepProposal(
  plan: BottlePlan,
  deps: LaunchDeps,
  proposal: Proposal,
): Promise<CapabilityBlockRecord> {
  const { state } = deps;
  const policy = plan.supervise?.policy === "rebuild" ? "rebuild" : "preserve";
  const record = capabilityBlockRecord(proposal, policy, currentDockerfile(plan.image));
  await state.writeCapabilityBlock(plan.identity, record);
  if (policy === "rebuild") await state.writeProposedDockerfile(plan.identity, proposal.dockerfile);
  else await state.writeDockerfile(plan.identity, proposal.dockerfile);
  deps.log.info(`capability-block (${policy}): ${proposal.reason}`);
  return record;
}

/** The rebuild did not build the proposal: its record says so. */
export async function markBuildFailed(
  state: StateStore,
  identity: string,
  history: CapabilityBlockRecord[],
): Promise<void> {
  const last = history.at(-1);
  if (last?.policy !== "rebuild" || last.result !== undefined) return;
  last.result = "build-failed";
  await state.writeCapabilityBlock(identity, last);
}

/**
 * Reads an accepted proposal (and the sidecar's config, for what it replaces) out of
 * a dead runner's supervise sidecar, and keeps it as `preserve` would: a person decides.
 */
export async function rescueProposal(
  docker: DockerClient,
  state: StateStore,
  container: string,
  identity: string,
  log: Log,
): Promise<boolean> {
  const watch = new ProposalWatch(docker, log);
  watch.watch(container);
  await watch.finish();
  const proposal = watch.proposal;
  if (!proposal) return false;
  let before: SuperviseConfig["currentDockerfile"] = {
    source: "per-bottle",
    text: (await state.readDockerfile(identity)) ?? "",
  };
  try {
    const tar = await docker.getArchive(container, SUPERVISE_CONFIG_PATH);
    const file = tar ? [...(await readTarFiles(tar, PROPOSAL_READ_LIMIT)).values()][0] : undefined;
    if (file) before = SuperviseConfigSchema.parse(JSON.parse(file.toString("utf8"))).currentDockerfile;
  } catch (error) {
    log.warn(
      `reading the supervise config failed (${errorMessage(error)}); the proposal is kept without what it replaced`,
    );
  }
  await state.writeCapabilityBlock(identity, capabilityBlockRecord(proposal, "preserve", before));
  await state.writeDockerfile(identity, proposal.dockerfile);
  log.info(`kept the capability-block proposal the stopped runner had not settled: ${proposal.reason}`);
  return true;
}
