/**
 * The gate's part of a plan: its credential routes and where each credential
 * comes from, the effective allowlist (the manifest's entries plus what
 * claude-code itself needs), and the config written into the gate at launch.
 *
 * The plan holds no credential values: a route names the runner environment
 * variable its credential comes from, and the value is read only when the gate
 * container is created.
 */
import { GATE_PORT, type GateConfig, secretEnvName } from "../gate/config.js";
import type { Bottle, Route } from "../manifest/schema.js";

/** What claude-code itself must reach when no anthropic route carries its traffic. */
export const CLAUDE_CODE_HOSTS = ["api.anthropic.com"] as const;

export interface CredentialPlan {
  route: string;
  header: string;
  fromEnv: string;
  present: boolean;
}

/** The route the agent reaches the Anthropic API through, and whether it holds an OAuth token there. */
export interface AnthropicRoute {
  name: string;
  oauth: boolean;
}

export interface GateRoutes {
  routes: GateConfig["routes"];
  credentials: CredentialPlan[];
  /** The runner variables the credentials come from: the agent may never hold one. */
  secretSources: Set<string>;
  anthropicRoute: AnthropicRoute | null;
}

/** The manifest's routes as the gate runs them; `env` only says whether each credential is there. */
export function gateRoutes(manifestRoutes: readonly Route[], env: NodeJS.ProcessEnv): GateRoutes {
  const credentials: CredentialPlan[] = [];
  const routes: GateConfig["routes"] = [];
  const secretSources = new Set<string>();
  let anthropicRoute: AnthropicRoute | null = null;
  for (const route of manifestRoutes) {
    if (route.inject) {
      const { header, fromEnv, format } = route.inject;
      credentials.push({ route: route.name, header, fromEnv, present: Boolean(env[fromEnv]) });
      secretSources.add(fromEnv);
      const inject = { header, secretEnv: secretEnvName(route.name), ...(format ? { format } : {}) };
      routes.push({ name: route.name, upstream: route.upstream, inject });
    } else {
      routes.push({ name: route.name, upstream: route.upstream });
    }
    if (route.role) anthropicRoute = { name: route.name, oauth: route.role === "anthropic-oauth" };
  }
  return { routes, credentials, secretSources, anthropicRoute };
}

/** One allowlist entry as the gate holds it. */
export interface AllowEntryPlan {
  host: string;
  port: number;
}

/** `host`, `*.host` or either with `:port` (default 443), as the manifest writes them. */
function allowEntry(entry: string): AllowEntryPlan {
  const match = /^(.*):(\d+)$/.exec(entry);
  return match ? { host: match[1] as string, port: Number(match[2]) } : { host: entry, port: 443 };
}

/**
 * The manifest's allow entries plus what claude-code needs (`defaults`): through
 * an anthropic route it needs no direct host at all.
 */
export function effectiveAllowlist(
  manifestAllow: readonly string[],
  anthropicRoute: AnthropicRoute | null,
): { allow: AllowEntryPlan[]; defaults: string[] } {
  const defaults = anthropicRoute ? [] : [...CLAUDE_CODE_HOSTS];
  const added = defaults.filter((host) => !manifestAllow.includes(host));
  return { allow: [...manifestAllow, ...added].map(allowEntry), defaults };
}

/** The gate's config; `proxy.deniedCidrs` gets the bottle's own subnets at launch. */
export function gateConfig(
  egress: Bottle["egress"],
  allow: AllowEntryPlan[],
  routes: GateConfig["routes"],
): GateConfig {
  return {
    version: 1,
    listen: { host: "0.0.0.0", port: GATE_PORT },
    proxy: {
      mode: egress.mode,
      allow,
      deniedCidrs: [],
      tunnelIdleMs: egress.tunnelIdleMs,
      tunnelMaxLifetimeMs: egress.tunnelLifetimeMs,
    },
    routes,
  };
}
