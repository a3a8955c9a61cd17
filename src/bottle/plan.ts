/**
 * Resolving a launch plan: everything a launch will do, decided before any Docker
 * resource exists. Pure apart from reading the environment it is handed, so a bad
 * input fails here with nothing created, and `--dry-run` prints exactly this.
 *
 * The plan holds no credential values: a route names the runner environment
 * variable its credential comes from, and the value is read only when the gate
 * container is created.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { IDENTITY_LABEL, RUNNER_LABEL, RUNNER_PROCESS_LABEL } from "../docker/client.js";
import { InputError } from "../errors.js";
import { GATE_HOST_ALIAS, GATE_PORT, type GateConfig, secretEnvName } from "../gate/config.js";
import type { LoadedManifest } from "../manifest/load.js";
import type { Manifest } from "../manifest/schema.js";
import {
  type CapabilityPolicy,
  MAX_DOCKERFILE_BYTES,
  PROPOSALS_DIR,
  SUPERVISE_HOST_ALIAS,
  SUPERVISE_PORT,
  type SuperviseConfig,
} from "../supervise/config.js";
import { AGENT_DOCKERFILE, DEFAULT_BASE_IMAGE } from "./agent-dockerfile.js";
import { bottleImageTag, keptBuildArgs } from "./bottle-image.js";
import { AGENT_HOME, type ClaudeOptions, DEFAULT_RESUME_PROMPT, REBUILT_RESUME_PROMPT, claudeArgs } from "./claude.js";
import { agentRuntime, enginePidsLimit } from "./runtime.js";

/** The placeholder the agent holds instead of a key; leaking it tells an attacker nothing. */
export const PLACEHOLDER_API_KEY = "sk-ant-bottle-placeholder-the-gate-holds-the-real-key";
export const PLACEHOLDER_OAUTH_TOKEN = "sk-ant-oat01-bottle-placeholder-the-gate-holds-the-real-token";
export const DEFAULT_GATE_IMAGE = "node:24.11.1-bookworm-slim";
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 30_000;

export type ImagePlan =
  | { kind: "prebuilt"; ref: string }
  | {
      kind: "build";
      tag: string;
      /** Where the Dockerfile comes from: the bundled one, the manifest's, or the per-bottle override in the state. */
      source: "bundled" | "manifest" | "per-bottle";
      /** The Dockerfile's text (read at plan time, so a missing file fails before anything exists). */
      dockerfile: string;
      /** The file it was read from, for people reading the plan. */
      dockerfilePath: string | null;
      /** A directory on the runner to send as the build context, or null for a context holding only the Dockerfile. */
      contextDir: string | null;
      buildArgs: Record<string, string>;
      /** Content-addressed tags can be reused as they are; others are rebuilt (Docker's layer cache keeps that cheap). */
      reuse: boolean;
      /** For a per-bottle override: what the bottle was built from before it, so people can see the change. */
      replaces?: string;
    };

export interface CredentialPlan {
  route: string;
  header: string;
  fromEnv: string;
  present: boolean;
}

/** The supervise sidecar: the agent's MCP server for capability-block, on the internal network only. */
export interface SupervisePlan {
  name: string;
  image: string;
  /** What a proposal does in this launch: "rebuild" only while rebuilds are left, else "preserve". */
  policy: CapabilityPolicy;
  /** Rebuilds this run may still do after this launch's proposal. */
  rebuildsLeft: number;
  /** Written into the sidecar at launch. */
  config: SuperviseConfig;
}

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
    egress: string;
    /** The egress network is the user's (CLAUDE_BOTTLE_EGRESS_NETWORK): joined, never created or removed. */
    egressExternal: boolean;
  };
  egress: {
    mode: "enforce" | "audit";
    /** The effective allowlist: the manifest's entries plus what claude-code itself needs. */
    allow: { host: string; port: number }[];
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
  gateImage?: string | undefined;
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
  if (!agent) throw new InputError("agent", name, `is not an agent in ${loaded.path}`, `use one of: ${Object.keys(loaded.manifest.agents).join(", ")}`);
  return agent;
}

export function resolvePlan(request: PlanRequest): BottlePlan {
  const { manifest } = request.loaded;
  const agent = agentOf(request.loaded, request.agent);
  const bottle = manifest.bottles[agent.bottle];
  if (!bottle) throw new Error(`manifest validation let agent ${request.agent} name a missing bottle`);
  const bottlePath = `bottles.${agent.bottle}`;
  const identity = request.identity;
  const prefix = `claude-bottle-${identity}`;

  const credentials: CredentialPlan[] = [];
  const routes: GateConfig["routes"] = [];
  const secretSources = new Set<string>();
  let anthropicRoute: { name: string; oauth: boolean } | null = null;
  for (const route of bottle.egress.routes) {
    if (route.inject) {
      credentials.push({
        route: route.name,
        header: route.inject.header,
        fromEnv: route.inject.fromEnv,
        present: Boolean(request.env[route.inject.fromEnv]),
      });
      secretSources.add(route.inject.fromEnv);
    }
    routes.push({
      name: route.name,
      upstream: route.upstream,
      ...(route.inject
        ? { inject: { header: route.inject.header, secretEnv: secretEnvName(route.name), ...(route.inject.format ? { format: route.inject.format } : {}) } }
        : {}),
    });
    if (route.role) anthropicRoute = { name: route.name, oauth: route.role === "anthropic-oauth" };
  }

  const gateUrl = `http://${GATE_HOST_ALIAS}:${GATE_PORT}`;
  // Tools that honour proxy variables go through the gate's forward proxy; anything
  // that ignores them finds no route out of the internal network at all.
  const proxyEnv = {
    HTTPS_PROXY: gateUrl,
    HTTP_PROXY: gateUrl,
    https_proxy: gateUrl,
    http_proxy: gateUrl,
    NO_PROXY: bottle.supervise ? `${GATE_HOST_ALIAS},${SUPERVISE_HOST_ALIAS}` : GATE_HOST_ALIAS,
    no_proxy: bottle.supervise ? `${GATE_HOST_ALIAS},${SUPERVISE_HOST_ALIAS}` : GATE_HOST_ALIAS,
  };
  const env: Record<string, string> = {
    HOME: AGENT_HOME,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_TELEMETRY: "1",
    ...proxyEnv,
  };
  const gateOwned = new Set<string>(Object.keys(proxyEnv));
  if (anthropicRoute) {
    env.ANTHROPIC_BASE_URL = `${gateUrl}/${anthropicRoute.name}`;
    // claude-code refuses to start without a credential; it gets one that is worth nothing.
    if (anthropicRoute.oauth) env.CLAUDE_CODE_OAUTH_TOKEN = PLACEHOLDER_OAUTH_TOKEN;
    else env.ANTHROPIC_API_KEY = PLACEHOLDER_API_KEY;
    gateOwned.add("ANTHROPIC_BASE_URL").add("ANTHROPIC_API_KEY").add("ANTHROPIC_AUTH_TOKEN").add("CLAUDE_CODE_OAUTH_TOKEN");
  }
  for (const [name, value] of Object.entries(bottle.env)) {
    const field = `${bottlePath}.env.${name}`;
    if (gateOwned.has(name)) {
      throw new InputError(field, name, "is set by the gate", "remove it from env: the gate sets the proxy variables and, with an anthropic route, the API URL and a placeholder key");
    }
    if (typeof value === "string") {
      for (const source of secretSources) {
        const secret = request.env[source];
        if (secret && value.includes(secret)) {
          throw new InputError(field, "(redacted)", `contains the credential a route injects from ${source}`, "the agent must never hold a credential; let the gate inject it");
        }
      }
      env[name] = value;
      continue;
    }
    if (secretSources.has(value.fromEnv)) {
      throw new InputError(`${field}.fromEnv`, value.fromEnv, "is the credential a route injects", "the agent must never hold a credential; remove this env entry and let the gate inject it");
    }
    const hostValue = request.env[value.fromEnv];
    if (hostValue === undefined) {
      throw new InputError(`${field}.fromEnv`, value.fromEnv, "is not set in the runner's environment", `export ${value.fromEnv} before launching, or give ${name} a literal value`);
    }
    env[name] = hostValue;
  }

  const image = resolveImage(request, bottle, bottlePath, identity);
  const runtime = agentRuntime(request.runtimes);
  const limits = bottle.limits;
  // claude-code needs only the model API; through an anthropic route it needs no direct host at all.
  const defaults = anthropicRoute ? [] : [...CLAUDE_CODE_HOSTS];
  const allow = [...bottle.egress.allow, ...defaults.filter((d) => !bottle.egress.allow.includes(d))].map(allowEntry);
  const egressNetwork = request.env.CLAUDE_BOTTLE_EGRESS_NETWORK;
  const gateImage = request.gateImage ?? request.env.CLAUDE_BOTTLE_GATE_IMAGE ?? DEFAULT_GATE_IMAGE;
  const policy = request.capabilityBlock ?? bottle.capabilityBlock;
  const maxRebuilds = request.maxRebuilds ?? bottle.maxRebuilds;
  const supervise: SupervisePlan | null = bottle.supervise
    ? {
        name: `${prefix}-supervise`,
        // The sidecar needs only Node, which the gate image has.
        image: gateImage,
        policy: policy === "rebuild" && maxRebuilds === 0 ? "preserve" : policy,
        rebuildsLeft: policy === "rebuild" ? maxRebuilds : 0,
        config: {
          version: 1,
          listen: { host: "0.0.0.0", port: SUPERVISE_PORT },
          policy: policy === "rebuild" && maxRebuilds === 0 ? "preserve" : policy,
          maxDockerfileBytes: MAX_DOCKERFILE_BYTES,
          proposalsDir: PROPOSALS_DIR,
          currentDockerfile: currentDockerfile(image),
          egress: {
            mode: bottle.egress.mode,
            allow: allow.map((a) => `${a.host}:${a.port}`),
            routes: routes.map((r) => ({ name: r.name, upstream: r.upstream })),
          },
        },
      }
    : null;
  const claude: ClaudeOptions = {
    prompt: request.prompt,
    model: agent.model,
    maxTurns: agent.maxTurns,
    resumeSession: request.resumeSession,
    ...(supervise ? { mcpConfig: superviseMcpConfig() } : {}),
  };
  const gateDns = (request.env.CLAUDE_BOTTLE_GATE_DNS ?? "").split(",").map((d) => d.trim()).filter(Boolean);
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
      config: {
        version: 1,
        listen: { host: "0.0.0.0", port: GATE_PORT },
        proxy: {
          mode: bottle.egress.mode,
          allow,
          deniedCidrs: [],
          tunnelIdleMs: bottle.egress.tunnelIdleMs,
          tunnelMaxLifetimeMs: bottle.egress.tunnelLifetimeMs,
        },
        routes,
      },
      credentials,
      dns: gateDns,
    },
    networks: {
      internal: `${prefix}-internal`,
      egress: egressNetwork || `${prefix}-egress`,
      egressExternal: Boolean(egressNetwork),
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

function resolveImage(
  request: PlanRequest,
  bottle: LoadedManifest["manifest"]["bottles"][string],
  bottlePath: string,
  identity: string,
): ImagePlan {
  const buildArgs: Record<string, string> = { ...bottle.buildArgs };
  const manifestDockerfile = bottle.dockerfile ? resolve(request.loaded.dir, bottle.dockerfile) : null;
  if (request.perBottleDockerfile !== null) {
    // The per-bottle override wins over everything: it is what a capability-block asked for.
    const replaces = bottle.image
      ? `FROM ${bottle.image}\n`
      : manifestDockerfile
        ? readDockerfile(manifestDockerfile, `${bottlePath}.dockerfile`, bottle.dockerfile ?? "")
        : AGENT_DOCKERFILE;
    // The agent's text: it gets no context and no build arg that could hold a secret (bottle-image.ts).
    return {
      kind: "build",
      tag: bottleImageTag(identity),
      source: "per-bottle",
      replaces,
      dockerfile: request.perBottleDockerfile,
      dockerfilePath: "state/<identity>/Dockerfile",
      contextDir: null,
      buildArgs: keptBuildArgs(withBaseImage(buildArgs, request.env)),
      reuse: false,
    };
  }
  if (bottle.image) return { kind: "prebuilt", ref: bottle.image };
  if (manifestDockerfile) {
    const text = readDockerfile(manifestDockerfile, `${bottlePath}.dockerfile`, bottle.dockerfile ?? "");
    return {
      kind: "build",
      tag: `claude-bottle-agent:${request.agent}-${hash(text + JSON.stringify(Object.entries(buildArgs).sort()))}`,
      source: "manifest",
      dockerfile: text,
      dockerfilePath: manifestDockerfile,
      contextDir: dirname(manifestDockerfile),
      buildArgs,
      reuse: false,
    };
  }
  const args = withBaseImage(buildArgs, request.env);
  return {
    kind: "build",
    tag: `claude-bottle-agent:${hash(AGENT_DOCKERFILE + JSON.stringify(Object.entries(args).sort()))}`,
    source: "bundled",
    dockerfile: AGENT_DOCKERFILE,
    dockerfilePath: null,
    contextDir: null,
    buildArgs: args,
    reuse: true,
  };
}

/** The `--mcp-config` document that points claude at the supervise sidecar. */
export function superviseMcpConfig(): string {
  return JSON.stringify({ mcpServers: { supervise: { type: "http", url: `http://${SUPERVISE_HOST_ALIAS}:${SUPERVISE_PORT}/mcp` } } });
}

/** What the agent is told it runs on, for `current-dockerfile`. */
export function currentDockerfile(image: ImagePlan): SuperviseConfig["currentDockerfile"] {
  if (image.kind === "prebuilt") {
    return { source: "prebuilt", text: `# This bottle runs the prebuilt image ${image.ref}; a proposal can start FROM it.\nFROM ${image.ref}\n` };
  }
  return { source: image.source, text: image.dockerfile, image: image.tag };
}

/**
 * The plan for continuing the same session right after a rebuild: the same bottle
 * and identity, resumed in the image just built from the agent's proposal.
 */
export function rebuiltPlan(plan: BottlePlan, proposal: { dockerfile: string; imageTag: string }, sessionId: string): BottlePlan {
  const previous = plan.image.kind === "build" ? plan.image.dockerfile : currentDockerfile(plan.image).text;
  const image: ImagePlan = {
    kind: "build",
    tag: proposal.imageTag,
    source: "per-bottle",
    replaces: previous,
    dockerfile: proposal.dockerfile,
    dockerfilePath: "state/<identity>/Dockerfile",
    contextDir: null,
    buildArgs: keptBuildArgs(plan.image.kind === "build" ? plan.image.buildArgs : {}),
    // Built by the launch that follows; until it has built, the state keeps it as Dockerfile.proposed.
    reuse: false,
  };
  const supervise = plan.supervise && {
    ...plan.supervise,
    policy: plan.supervise.rebuildsLeft > 1 ? plan.supervise.policy : ("preserve" as const),
    rebuildsLeft: Math.max(0, plan.supervise.rebuildsLeft - 1),
    config: {
      ...plan.supervise.config,
      policy: plan.supervise.rebuildsLeft > 1 ? plan.supervise.config.policy : ("preserve" as const),
      currentDockerfile: currentDockerfile(image),
    },
  };
  return { ...continuing(plan, sessionId, REBUILT_RESUME_PROMPT), image, supervise };
}

/** The same bottle resumed at once after a crash: same identity, image and session, the resume prompt. */
export function resumedPlan(plan: BottlePlan, sessionId: string): BottlePlan {
  return { ...continuing(plan, sessionId, plan.autoResume.prompt), autoResume: { ...plan.autoResume, left: plan.autoResume.left - 1 } };
}

/** The plan resuming `sessionId` with `prompt`: claude's options and the command made from them. */
function continuing(plan: BottlePlan, sessionId: string, prompt: string): BottlePlan {
  const claude: ClaudeOptions = { ...plan.claude, prompt, resumeSession: sessionId };
  return { ...plan, mode: "resume", prompt, resumeSession: sessionId, claude, agentContainer: { ...plan.agentContainer, command: claudeArgs(claude) } };
}

/** The bundled Dockerfile's base: the manifest's build arg, else CLAUDE_BOTTLE_BASE_IMAGE, else the default. */
function withBaseImage(args: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  if (args.BASE_IMAGE) return args;
  return { ...args, BASE_IMAGE: env.CLAUDE_BOTTLE_BASE_IMAGE || DEFAULT_BASE_IMAGE };
}

/** What claude-code itself must reach when no anthropic route carries its traffic. */
export const CLAUDE_CODE_HOSTS = ["api.anthropic.com"] as const;

/** `host`, `*.host` or either with `:port` (default 443), as the manifest writes them. */
function allowEntry(entry: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(entry);
  return match ? { host: match[1] as string, port: Number(match[2]) } : { host: entry, port: 443 };
}

function readDockerfile(path: string, field: string, given: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(field, given, `cannot be read (${code ?? "error"} at ${path})`, "give a path to a Dockerfile relative to the manifest, or remove the field to use the bundled one");
  }
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
