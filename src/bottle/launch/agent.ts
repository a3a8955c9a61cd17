/**
 * The agent container: created on the internal network only, with no
 * capabilities and the bottle's limits, sleeping until claude is exec'd in it;
 * the system prompt, the work tree and (on a resume) the transcript are copied in
 * once it has started, before claude is exec'd. Started first, so that the engine's
 * copy (a helper process of its own) does not compete with the agent's and the
 * gate's starts for the same cores.
 */
import { existsSync, lstatSync } from "node:fs";
import { basename, join } from "node:path";
import type { ContainerRequest } from "../../docker/client.js";
import { ROLES } from "../../docker/client.js";
import { AGENT_OWNER, type ArchivePart, directoryPart, filesPart, packParts, ROOT_OWNER } from "../archive.js";
import { AGENT_CONFIG_DIR, AGENT_HOME, AGENT_WORKSPACE, LEGACY_SETTINGS_FILE, SYSTEM_PROMPT_PATH } from "../claude.js";
import type { BottlePlan } from "../plan.js";
import { workTreePart } from "../worktree-copy-in.js";
import type { PhaseTimer } from "./phase-timer.js";
import { type BottleResources, roleLabels } from "./resources.js";
import type { LaunchDeps, Phase } from "./types.js";

export interface AgentStart {
  plan: BottlePlan;
  deps: LaunchDeps;
  resources: BottleResources;
  imageRef: string;
  /** The directory the work tree is copied from: the plan's, or a resumed bottle's snapshot. */
  workspaceSource: string;
  timer: PhaseTimer;
  pause: (phase: Phase) => Promise<void>;
}

/**
 * Creates and starts the agent, then copies in what it needs; `agent-start` times
 * creating and starting, `copy-in` the copy.
 */
export async function startAgent(start: AgentStart): Promise<string> {
  const { plan, deps, timer } = start;
  const creating = performance.now();
  const id = await start.resources.createContainer(agentRequest(plan, start.imageRef));
  await deps.docker.startContainer(id);
  timer.record("agent-start", performance.now() - creating);
  await start.pause("copy-in");
  await timer.time("copy-in", () => copyIn(plan, deps, id, start.workspaceSource));
  return id;
}

export function agentRequest(plan: BottlePlan, imageRef: string): ContainerRequest {
  const c = plan.agentContainer;
  return {
    name: c.name,
    image: imageRef,
    // claude runs through exec, never as PID 1: a PID 1 ignores SIGKILL from inside its namespace.
    cmd: ["sleep", "infinity"],
    user: c.user,
    workingDir: AGENT_WORKSPACE,
    env: c.env,
    labels: roleLabels(plan, ROLES.agent),
    network: plan.networks.internal,
    capDrop: ["ALL"],
    securityOpt: ["no-new-privileges"],
    memoryBytes: c.memoryBytes,
    nanoCpus: c.nanoCpus,
    pidsLimit: c.pidsLimit,
    ...(c.runtime ? { runtime: c.runtime } : {}),
  };
}

/**
 * One archive at `/`: the system prompt (root's, read-only), the work tree (the agent's) and, on a
 * resume, the transcript into the agent's home. Each directory on the way to an entry (from `opt`,
 * `home/node/workspace` and, on a resume, `home/node` down) is itself an entry before it, so it
 * replaces whatever link the agent's image has there; and no entry is made up below a link of the
 * state's own (see transcriptPart).
 */
async function copyIn(plan: BottlePlan, deps: LaunchDeps, id: string, workspaceSource: string): Promise<void> {
  const { docker, state } = deps;
  const home = AGENT_HOME.slice(1);
  const parts = [
    filesPart([{ name: SYSTEM_PROMPT_PATH.slice(1), content: plan.systemPrompt, mode: 0o444 }], ROOT_OWNER),
  ];
  if (existsSync(workspaceSource)) {
    parts.push(workTreePart(workspaceSource, AGENT_OWNER, AGENT_WORKSPACE.slice(1), deps.log));
  }
  if (plan.mode === "resume" && state.hasSnapshot(plan.identity, "transcript")) {
    parts.push(transcriptPart(state.path(plan.identity, "transcript"), home));
  }
  await docker.putArchive(id, "/", packParts(parts));
}

/**
 * A saved transcript as it goes back into the agent's home. One saved before claude's settings moved
 * into its config directory has them beside it, as ~/.claude.json: they go where claude reads them now,
 * when that is a directory of the state's own (a restored state may hold a link there; nothing is
 * written through it).
 */
function transcriptPart(dir: string, home: string): ArchivePart {
  const config = basename(AGENT_CONFIG_DIR);
  const settings = `${config}/${LEGACY_SETTINGS_FILE}`;
  const moved = isRealDirectory(join(dir, config)) && !existsSync(join(dir, settings));
  return directoryPart(dir, AGENT_OWNER, home, undefined, (name) =>
    moved && name === LEGACY_SETTINGS_FILE ? settings : name,
  );
}

function isRealDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}
