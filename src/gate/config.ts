/**
 * The gate's config: the JSON file the runner writes and the gate reads at start.
 *
 * Runner and gate import the same schema, so a config the runner can write is
 * exactly a config the gate accepts, and both derive a route's secret variable
 * from `secretEnvName`. The file holds no secrets, only the *names* of the gate's
 * environment variables that do: the config may be logged, copied into the gate
 * container's filesystem and read back by anyone, the environment may not.
 *
 * The `proxy` section is the bottle's egress policy for everything that is not a
 * route: which `host:port` pairs the forward proxy may reach, which networks it
 * must never connect to (networks, and the Docker host's own addresses), and how
 * long a tunnel may live. Every field has a
 * default, so a config without it parses to "refuse everything". Allowlist
 * hosts are put in the same canonical form the proxy matches against.
 *
 * This module is bundled into the gate, so it may import only `node:` built-ins
 * and zod.
 */
import { z } from "zod";
import { parseCidr, parseIp } from "./address.js";
import { normaliseAllowHost } from "./hosts.js";
import { checkUpstream, upstreamRuleText } from "./upstream.js";
import { NAME_PATTERN } from "../names.js";

/** The port the gate listens on inside its container. */
export const GATE_PORT = 8080;
/** The name the agent container resolves the gate by on the internal network. */
export const GATE_HOST_ALIAS = "gate";

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
// RFC 9110 token: what Node accepts as a header name.
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers the gate sets or strips itself; injecting into one would either be
// overwritten or corrupt the framing of the forwarded request.
const RESERVED_HEADERS = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "expect",
]);

/** `GATE_SECRET_<ROUTE NAME UPPERCASED, - → _>`: the variable holding a route's credential. */
export function secretEnvName(routeName: string): string {
  return `GATE_SECRET_${routeName.toUpperCase().replaceAll("-", "_")}`;
}

const UpstreamSchema = z.string().superRefine((value, ctx) => {
  const broken = checkUpstream(value);
  if (broken !== undefined) {
    ctx.addIssue({ code: "custom", message: `upstream ${JSON.stringify(value)} ${upstreamRuleText(broken)}` });
  }
});

const InjectSchema = z.strictObject({
  header: z
    .string()
    .regex(HEADER_NAME_PATTERN, "inject.header must be an HTTP header name like x-api-key")
    .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), {
      message: "inject.header must not be a header the gate manages (host, hop-by-hop, content-length, expect)",
    }),
  secretEnv: z
    .string()
    .regex(ENV_NAME_PATTERN, "inject.secretEnv must be an environment variable name like GATE_SECRET_ANTHROPIC"),
  format: z
    .string()
    .max(200)
    .refine(
      (f) => f.split("{value}").length === 2 && !/[\r\n]/.test(f),
      "inject.format must hold {value} exactly once and no line break",
    )
    .optional(),
});

const RouteSchema = z.strictObject({
  name: z
    .string()
    .regex(
      NAME_PATTERN,
      "route name must be 1-40 lowercase letters, digits and hyphens, starting with a letter or digit",
    ),
  upstream: UpstreamSchema,
  inject: InjectSchema.optional(),
});

// Timers in Node overflow past 2^31-1 ms and fire at once.
const MAX_TIMER_MS = 2_147_483_647;

function durationSchema(name: string, fallback: number) {
  return z
    .int(`${name} must be a whole number of milliseconds`)
    .min(1, `${name} must be at least 1 ms`)
    .max(MAX_TIMER_MS, `${name} must be at most ${MAX_TIMER_MS} ms (about 24 days)`)
    .default(fallback);
}

const AllowHostSchema = z.string().transform((value, ctx) => {
  const host = normaliseAllowHost(value);
  if ("refused" in host) {
    ctx.addIssue({ code: "custom", message: `allow host ${JSON.stringify(value)}: ${host.refused}` });
    return z.NEVER;
  }
  return host.ok;
});

const AllowEntrySchema = z.strictObject({
  host: AllowHostSchema,
  port: z.int().min(1, "allow port must be 1-65535").max(65535, "allow port must be 1-65535").default(443),
});

const cidrSchema = (field: string) =>
  z.string().refine((value) => parseCidr(value) !== undefined, {
    error: (issue) =>
      `${field} entry ${JSON.stringify(issue.input)} is not a network; write it like 172.18.0.0/16 or fd00::/8`,
  });

/** Only the gate's own loopback, unless the runner names the bottle's internal network. */
const LOOPBACK_CLIENTS = ["127.0.0.0/8", "::1/128"];

const ListenSchema = z.strictObject({
  host: z.string().min(1).default("0.0.0.0"),
  port: z.int().min(0).max(65535).default(GATE_PORT),
  /**
   * The networks a client may connect from, and to: any other connection is closed unanswered. The
   * gate's way out is shared (the engine's default bridge, or a user's network); whatever else runs
   * there must never use its credentials or its proxy.
   */
  clients: z
    .array(cidrSchema("listen.clients"))
    .min(1, "listen.clients must name at least one network")
    .default(LOOPBACK_CLIENTS),
});

const HostAddressSchema = z.string().refine((value) => parseIp(value) !== undefined, {
  error: (issue) =>
    `hostAddresses entry ${JSON.stringify(issue.input)} is not an IP address; write it like 192.0.2.1 or 2001:db8::1`,
});

const ProxySchema = z.strictObject({
  /** `audit` lets through what the allowlist and SNI checks would refuse, and logs it. */
  mode: z.enum(["enforce", "audit"]).default("enforce"),
  allow: z.array(AllowEntrySchema).default([]),
  deniedCidrs: z.array(cidrSchema("deniedCidrs")).default([]),
  /** The Docker host's own addresses (its interfaces, its gateways on the gate's networks), refused like the gate's. */
  hostAddresses: z.array(HostAddressSchema).default([]),
  tunnelMaxLifetimeMs: durationSchema("tunnelMaxLifetimeMs", 30 * 60_000),
  tunnelIdleMs: durationSchema("tunnelIdleMs", 5 * 60_000),
  connectTimeoutMs: durationSchema("connectTimeoutMs", 10_000),
});

export const GateConfigSchema = z.strictObject({
  version: z.literal(1),
  listen: ListenSchema.prefault({}),
  proxy: ProxySchema.prefault({}),
  routes: z.array(RouteSchema).superRefine((routes, ctx) => {
    const seen = new Set<string>();
    routes.forEach((route, index) => {
      if (seen.has(route.name)) {
        const message = `route name ${JSON.stringify(route.name)} is used twice`;
        ctx.addIssue({ code: "custom", path: [index, "name"], message });
      }
      seen.add(route.name);
    });
  }),
});

/** The config as the runner writes it: fields with defaults may be left out. */
export type GateConfig = z.input<typeof GateConfigSchema>;
/** The config as the gate runs it, every default filled in and every host canonical. */
export type ResolvedGateConfig = z.output<typeof GateConfigSchema>;
export type GateRoute = ResolvedGateConfig["routes"][number];
export type GateProxyConfig = ResolvedGateConfig["proxy"];
