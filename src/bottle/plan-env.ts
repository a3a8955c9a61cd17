/**
 * The agent container's environment: the proxy variables that send its traffic
 * through the gate, the gate's URL and a placeholder credential with an
 * anthropic route, claude's config directory, and the manifest's own variables. The gate's variables cannot
 * be overridden, and no variable may carry a credential a route injects.
 */
import { InputError } from "../errors.js";
import { GATE_HOST_ALIAS, GATE_PORT } from "../gate/config.js";
import type { Bottle } from "../manifest/schema.js";
import { SUPERVISE_HOST_ALIAS } from "../supervise/config.js";
import { AGENT_CONFIG_DIR, AGENT_HOME } from "./claude.js";
import type { AnthropicRoute } from "./plan-gate.js";

/** The placeholder the agent holds instead of a key; leaking it tells an attacker nothing. */
export const PLACEHOLDER_API_KEY = "sk-ant-bottle-placeholder-the-gate-holds-the-real-key";
export const PLACEHOLDER_OAUTH_TOKEN = "sk-ant-oat01-bottle-placeholder-the-gate-holds-the-real-token";

export interface AgentEnvRequest {
  /** The manifest's `env`. */
  env: Bottle["env"];
  /** `bottles.<name>`, for errors. */
  bottlePath: string;
  /** Whether the supervise sidecar is reached directly, not through the proxy. */
  supervise: boolean;
  anthropicRoute: AnthropicRoute | null;
  /** The runner variables the gate's credentials come from. */
  secretSources: ReadonlySet<string>;
  /** The runner's environment, for `fromEnv` values and to recognise a credential. */
  runnerEnv: NodeJS.ProcessEnv;
}

/** The agent's environment, or an InputError naming the manifest entry that may not be set. */
export function agentEnv(request: AgentEnvRequest): Record<string, string> {
  const { anthropicRoute } = request;
  const gateUrl = `http://${GATE_HOST_ALIAS}:${GATE_PORT}`;
  const direct = request.supervise ? `${GATE_HOST_ALIAS},${SUPERVISE_HOST_ALIAS}` : GATE_HOST_ALIAS;
  // Tools that honour proxy variables go through the gate's forward proxy; anything
  // that ignores them finds no route out of the internal network at all.
  const proxyEnv = {
    HTTPS_PROXY: gateUrl,
    HTTP_PROXY: gateUrl,
    https_proxy: gateUrl,
    http_proxy: gateUrl,
    NO_PROXY: direct,
    no_proxy: direct,
  };
  const env: Record<string, string> = {
    HOME: AGENT_HOME,
    CLAUDE_CONFIG_DIR: AGENT_CONFIG_DIR,
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
    for (const name of ["ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"]) {
      gateOwned.add(name);
    }
  }
  for (const [name, value] of Object.entries(request.env)) {
    if (name === "CLAUDE_CONFIG_DIR") {
      throw new InputError(
        `${request.bottlePath}.env.${name}`,
        name,
        "is set by the bottle",
        `remove it from env: claude keeps its transcripts and settings in ${AGENT_CONFIG_DIR}, ` +
          "where the bottle's snapshots read them",
      );
    }
    if (gateOwned.has(name)) {
      throw new InputError(
        `${request.bottlePath}.env.${name}`,
        name,
        "is set by the gate",
        "remove it from env: the gate sets the proxy variables and, with an anthropic route, " +
          "the API URL and a placeholder key",
      );
    }
    env[name] = manifestValue(request, name, value);
  }
  return env;
}

/** One manifest env value: a literal, or a runner variable; never a credential a route injects. */
function manifestValue(request: AgentEnvRequest, name: string, value: Bottle["env"][string]): string {
  const field = `${request.bottlePath}.env.${name}`;
  const never = "the agent must never hold a credential";
  if (typeof value === "string") {
    for (const source of request.secretSources) {
      const secret = request.runnerEnv[source];
      if (secret && value.includes(secret)) {
        const problem = `contains the credential a route injects from ${source}`;
        throw new InputError(field, "(redacted)", problem, `${never}; let the gate inject it`);
      }
    }
    return value;
  }
  if (request.secretSources.has(value.fromEnv)) {
    throw new InputError(
      `${field}.fromEnv`,
      value.fromEnv,
      "is the credential a route injects",
      `${never}; remove this env entry and let the gate inject it`,
    );
  }
  const runnerValue = request.runnerEnv[value.fromEnv];
  if (runnerValue === undefined) {
    throw new InputError(
      `${field}.fromEnv`,
      value.fromEnv,
      "is not set in the runner's environment",
      `export ${value.fromEnv} before launching, or give ${name} a literal value`,
    );
  }
  return runnerValue;
}
