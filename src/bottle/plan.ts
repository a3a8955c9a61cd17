/**
 * Resolving a launch plan: everything a launch will do, decided before any Docker
 * resource exists. Pure apart from reading the environment it is handed (and a
 * Dockerfile), so a bad input fails here with nothing created, and `--dry-run`
 * prints exactly this. The parts have files of their own: the image
 * (`plan-image.ts`), the gate and its allowlist (`plan-gate.ts`), the agent's
 * environment (`plan-env.ts`) and the supervise sidecar (`plan-supervise.ts`).
 *
 * The plan holds no credential values: a route names the runner environment
 * variable its credential comes from, and the value is read only when the gate
 * container is created.
 */
import { DEFAULT_BRIDGE, IDENTITY_LABEL, RUNNER_LABEL, RUNNER_PROCESS_LABEL } from "../docker/client.js";
import { InputError } from "../errors.js";
import type { GateConfig } from "../gate/config.js";
import type { LoadedManifest } from "../manifest/load.js";
import type { Manifest } from "../manifest/schema.js";
import type { CapabilityPolicy, SuperviseConfig } from "../supervise/config.js";
import { type ClaudeOptions, DEFAULT_RESUME_PROMPT, REBUILT_RESUME_PROMPT, claudeArgs } from "./claude.js";
import { agentEnv } from "./plan-env.js";
import { type AllowEntryPlan, type CredentialPlan, effectiveAllowlist, gateConfig, gateRoutes } from "./plan-gate.js";
import { type ImagePlan, PER_BOTTLE_DOCKERFILE_PATH, resolveImage } from "./plan-image.js";
import { afterRebuild, type SupervisePlan, superviseMcpConfig, supervisePlan } from "./plan-supervise.js";
import { keptBuildArgs } from "./bottle-image.js";
import { agentRuntime, enginePidsLimit } from "./runtime.js";

export const DEFAULT_GATE_IMAGE = "node:24.11.1-bookworm-slim";
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 30_000;

export interface BottlePlan {
  identity: string;
  agent: string;
  bottle: string;
  mode: "start" | "resume";
  manifestPath: string;
  workspace: string;
  /** The task (start) or the resume prompt (resume). */
  prompt: string;
  resumeSession: string | null;
  systemPrompt: string;
  image: ImagePlan;
  agentContainer: {
    name: string;
    user: string;
    env: Record<string, string>;
    command: string[];
    memoryBytes: number;
    nanoCpus: number;
    /** The manifest's `limits.pids`: processes in the bottle. */
    pids: number;
    /** The limit the engine enforces, in host tasks (scaled from `pids` under gVisor). */
    pidsLimit: number;
    runtime: string | null;
  };
  /** How claude is invoked (the command above is made from these), kept so a rebuild can resume it. */
  claude: ClaudeOptions;
  /** Null unless the bottle has `supervise: true`. */
  supervise: SupervisePlan | null;
  gate: {
    name: string;
    image: string;
    /** Written into the gate at launch; `proxy.deniedCidrs` gets the bottle's own subnets then. */
    config: GateConfig;
    credentials: CredentialPlan[];
    /** DNS servers for the gate (CLAUDE_BOTTLE_GATE_DNS), else the engine's. */
    dns: string[];
  };
  networks: {
    internal: string;
    /**
     * The gate's way out, joined, never created or removed: the user's network
     * (CLAUDE_BOTTLE_EGRESS_NETWORK), else the engine's default bridge.
     */
    egress: string;
    /** Set when `egress` is the engine's default bridge: the bottle's own network, made when the engine has none. */
    ownEgress?: string;
  };
  egress: {
    mode: "enforce" | "audit";
    /** The effective allowlist: the manifest's entries plus what claude-code itself needs. */
    allow: AllowEntryPlan[];
    /** The part of `allow` the runner added because claude-code needs it. */
    defaults: string[];
  };
  labels: Record<string, string>;
  timeoutMs: number;
  /** `limits.state`: the most the state directory may hold; a snapshot past it is not kept. */
  stateLimitBytes: number;
  snapshotIntervalMs: number;
  /** After a crash, resume the same session at once, up to `left` more times, with `prompt`. */
  autoResume: { left: number; prompt: string };
}

export interface PlanRequest {
  loaded: LoadedManifest;
  agent: string;
  mode: "start" | "resume";
  identity: string;
  prompt: string;
  resumeSession: string | null;
  workspace: string;
  /** The per-bottle Dockerfile found in the state, if any. */
  perBottleDockerfile: string | null;
  env: NodeJS.ProcessEnv;
  runtimes: string[];
  runnerId: string;
  /** Where the runner's process lives (runner-process.ts), when it can tell. */
  runnerProcess?: string | undefined;
  snapshotIntervalMs?: number | undefined;
  /** How many times a crashed session is resumed at once (default 0), and with what prompt. */
  maxResumes?: number | undefined;
  resumePrompt?: string | undefined;
  /** The CLI flag or action input, over the manifest's `capabilityBlock`. */
  capabilityBlock?: CapabilityPolicy | undefined;
  /** The CLI flag or action input, over the manifest's `maxRebuilds`. */
  maxRebuilds?: number | undefined;
}

/** The manifest's agent of that name, or an InputError listing the agents there are. */
export function agentOf(loaded: LoadedManifest, name: string): Manifest["agents"][string] {
  const agent = loaded.manifest.agents[name];
  if (!agent) {
    const agents = Object.keys(loaded.manifest.agents).join(", ");
    throw new InputError("agent", name, `is not an agent in ${loaded.path}`, `use one of: ${agents}`);
  }
  return agent;
}

export function resolvePlan(request: PlanRequest): BottlePlan {
  const agent = agentOf(request.loaded, request.agent);
  const bottle = request.loaded.manifest.bottles[agent.bottle];
  if (!bottle) throw new Error(`manifest validation let agent ${request.agent} name a missing bottle`);
  const bottlePath = `bottles.${agent.bottle}`;
  const { identity, env: runnerEnv } = request;
  const prefix = `claude-bottle-${identity}`;

  const { routes, credentials, secretSources, anthropicRoute } = gateRoutes(bottle.egress.routes, runnerEnv);
  const env = agentEnv({
    env: bottle.env,
    bottlePath,
    supervise: bottle.supervise,
    anthropicRoute,
    secretSources,
    runnerEnv,
  });
  const image = resolveImage({
    bottle,
    bottlePath,
    agent: request.agent,
    identity,
    manifestDir: request.loaded.dir,
    perBottleDockerfile: request.perBottleDockerfile,
    env: runnerEnv,
  });
  const { allow, defaults } = effectiveAllowlist(bottle.egress.allow, anthropicRoute);
  const egressNetwork = runnerEnv.CLAUDE_BOTTLE_EGRESS_NETWORK;
  const gateImage = runnerEnv.CLAUDE_BOTTLE_GATE_IMAGE ?? DEFAULT_GATE_IMAGE;
  const supervise = bottle.supervise
    ? supervisePlan({
        name: `${prefix}-supervise`,
        // The sidecar needs only Node, which the gate image has.
        image: gateImage,
        policy: request.capabilityBlock ?? bottle.capabilityBlock,
        maxRebuilds: request.maxRebuilds ?? bottle.maxRebuilds,
        currentDockerfile: currentDockerfile(image),
        egress: {
          mode: bottle.egress.mode,
          allow: allow.map((a) => `${a.host}:${a.port}`),
          routes: routes.map((r) => ({ name: r.name, upstream: r.upstream })),
        },
      })
    : null;
  const claude: ClaudeOptions = {
    prompt: request.prompt,
    model: agent.model,
    maxTurns: agent.maxTurns,
    resumeSession: request.resumeSession,
    ...(supervise ? { mcpConfig: superviseMcpConfig() } : {}),
  };
  const limits = bottle.limits;
  const runtime = agentRuntime(request.runtimes);
  return {
    identity,
    agent: request.agent,
    bottle: agent.bottle,
    mode: request.mode,
    manifestPath: request.loaded.path,
    workspace: request.workspace,
    prompt: request.prompt,
    resumeSession: request.resumeSession,
    systemPrompt: agent.prompt,
    image,
    agentContainer: {
      name: `${prefix}-agent`,
      user: "node",
      env,
      command: claudeArgs(claude),
      memoryBytes: limits.memoryBytes,
      nanoCpus: Math.round(limits.cpus * 1e9),
      pids: limits.pids,
      pidsLimit: enginePidsLimit(limits.pids, runtime),
      runtime,
    },
    claude,
    supervise,
    gate: {
      name: `${prefix}-gate`,
      image: gateImage,
      config: gateConfig(bottle.egress, allow, routes),
      credentials,
      dns: (runnerEnv.CLAUDE_BOTTLE_GATE_DNS ?? "")
        .split(",")
        .map((d) => d.trim())
        .filter(Boolean),
    },
    networks: {
      internal: `${prefix}-internal`,
      ...(egressNetwork ? { egress: egressNetwork } : { egress: DEFAULT_BRIDGE, ownEgress: `${prefix}-egress` }),
    },
    egress: { mode: bottle.egress.mode, allow, defaults },
    labels: {
      [IDENTITY_LABEL]: identity,
      [RUNNER_LABEL]: request.runnerId,
      ...(request.runnerProcess ? { [RUNNER_PROCESS_LABEL]: request.runnerProcess } : {}),
      "claude-bottle.agent": request.agent,
    },
    timeoutMs: limits.timeoutMs,
    stateLimitBytes: limits.stateBytes,
    snapshotIntervalMs: request.snapshotIntervalMs ?? DEFAULT_SNAPSHOT_INTERVAL_MS,
    autoResume: { left: request.maxResumes ?? 0, prompt: request.resumePrompt ?? DEFAULT_RESUME_PROMPT },
  };
}

/** What the agent is told it runs on, for `current-dockerfile`. */
export function currentDockerfile(image: ImagePlan): SuperviseConfig["currentDockerfile"] {
  if (image.kind === "prebuilt") {
    const text = `# This bottle runs the prebuilt image ${image.ref}; a proposal can start FROM it.\n`;
    return { source: "prebuilt", text: `${text}FROM ${image.ref}\n` };
  }
  return { source: image.source, text: image.dockerfile, image: image.tag };
}

/**
 * The plan for continuing the same session right after a rebuild: the same bottle
 * and identity, resumed in the image just built from the agent's proposal.
 */
export function rebuiltPlan(
  plan: BottlePlan,
  proposal: { dockerfile: string; imageTag: string },
  sessionId: string,
): BottlePlan {
  const previous = plan.image.kind === "build" ? plan.image.dockerfile : currentDockerfile(plan.image).text;
  const image: ImagePlan = {
    kind: "build",
    tag: proposal.imageTag,
    source: "per-bottle",
    replaces: previous,
    dockerfile: proposal.dockerfile,
    dockerfilePath: PER_BOTTLE_DOCKERFILE_PATH,
    contextDir: null,
    buildArgs: keptBuildArgs(plan.image.kind === "build" ? plan.image.buildArgs : {}),
    // Built by the launch that follows; until it has built, the state keeps it as Dockerfile.proposed.
    reuse: false,
  };
  const supervise = plan.supervise && afterRebuild(plan.supervise, currentDockerfile(image));
  return { ...continuing(plan, sessionId, REBUILT_RESUME_PROMPT), image, supervise };
}

/** The same bottle resumed at once after a crash: same identity, image and session, the resume prompt. */
export function resumedPlan(plan: BottlePlan, sessionId: string): BottlePlan {
  const autoResume = { ...plan.autoResume, left: plan.autoResume.left - 1 };
  return { ...continuing(plan, sessionId, plan.autoResume.prompt), autoResume };
}

/** The plan resuming `sessionId` with `prompt`: claude's options and the command made from them. */
function continuing(plan: BottlePlan, sessionId: string, prompt: string): BottlePlan {
  const claude: ClaudeOptions = { ...plan.claude, prompt, resumeSession: sessionId };
  const agentContainer = { ...plan.agentContainer, command: claudeArgs(claude) };
  return { ...plan, mode: "resume", prompt, resumeSession: sessionId, claude, agentContainer };
}
