/**
 * The shape of `claude-bottle.json` and what every violation of it says.
 *
 * Bottles describe a sandbox (image, env, egress, limits); agents pick a bottle
 * and add a system prompt. Parsing also computes what the runner needs in
 * numbers (memory in bytes, timeout in milliseconds) so no other module reads
 * the raw strings. Messages name the bad value and the fix; `load.ts` adds the
 * file and the JSON path. The committed JSON Schema is generated from
 * `ManifestSchema`, so editors and this parser agree on the input shape.
 */
import { z } from "zod";
import { GateConfigSchema } from "../gate/config.js";
import { type BrokenAllowRule, checkAllowHost, MAX_HOST_LENGTH } from "../gate/hosts.js";
import { type BrokenUpstreamRule, checkUpstream } from "../gate/upstream.js";
import { CAPABILITY_POLICIES, type CapabilityPolicy } from "../supervise/config.js";
import { closest } from "../closest.js";
import { formatDuration, parseDuration } from "./duration.js";
import { parseMemory } from "./memory.js";
import { parseSize } from "./size.js";
import { NAME_PATTERN } from "../names.js";

const NAME_RULE = "1-40 lowercase letters, digits and hyphens, starting with a letter or digit";
const VARIABLE_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A transcript and a small work tree need some room; below this, nothing useful fits.
const MIN_STATE_BYTES = 1024 ** 2;
/** `limits.state` when the manifest does not say, and for a state whose metadata does not record it. */
export const DEFAULT_STATE_LIMIT = "2g";
// Timers in Node overflow past 2^31-1 ms and fire at once; stay below that.
const MAX_TIMEOUT_MS = 24 * 86_400_000;
const ALLOW_EXAMPLES = "like api.github.com, *.githubusercontent.com or registry.npmjs.org:443";

// The gate decides which headers a route may inject; asking its schema here
// reports a bad header when the manifest loads instead of when the gate starts.
const GATE_INJECT_HEADER = GateConfigSchema.shape.routes.element.shape.inject.unwrap().shape.header;

/** A value as it appeared in the manifest, short enough for one line of an error. */
function showValue(value: unknown): string {
  if (value === undefined) return "(missing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Bytes the state directory may hold (`limits.state`). */
export function parseStateLimit(text: string): number {
  const bytes = parseSize(text, "size", "500m or 2g");
  if (bytes < MIN_STATE_BYTES) {
    throw new Error(`${showValue(text)} is below the smallest state limit, 1m; use something like 500m or 2g`);
  }
  return bytes;
}

function parseTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms > MAX_TIMEOUT_MS) {
    const longest = formatDuration(MAX_TIMEOUT_MS);
    throw new Error(`${showValue(text)} is longer than the longest timeout, ${longest}; use something like 30m or 6h`);
  }
  return ms;
}

/** A string field checked by a parser that throws a user-facing message. */
function parsedString(parse: (text: string) => unknown, notString: (input: unknown) => string) {
  return z.string({ error: (issue) => notString(issue.input) }).superRefine((text, ctx) => {
    try {
      parse(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });
}

/** The manifest's words for a host the gate's allowlist refuses (`gate/hosts.ts` holds the rules). */
function allowRuleText(rule: BrokenAllowRule): string {
  switch (rule.broken) {
    case "empty":
      return `is empty; give a host name, ${ALLOW_EXAMPLES}`;
    case "not-ascii":
      return "is not plain ASCII; write an internationalised name in punycode (xn--...), like xn--bcher-kva.example";
    case "too-long":
      return `is longer than ${MAX_HOST_LENGTH} characters, the most a host name can be; write one host name`;
    case "empty-label":
      return "has an empty label (a dot at the start, or two dots in a row); write it like api.github.com";
    case "ip-address":
      return `is an IP address; the allow list takes host names only, ${ALLOW_EXAMPLES}`;
    case "label":
      return (
        `has the label ${showValue(rule.label)}; ` +
        "a label is 1-63 letters, digits and hyphens, not starting or ending with a hyphen"
      );
    case "wildcard-inside":
      return "has a wildcard that is not the whole first label; write it as *.example.com";
    case "not-host-only":
      return `is not a host name; write only the host, ${ALLOW_EXAMPLES}`;
    case "wildcard-too-broad":
      return "is too broad; a wildcard covers the subdomains of a domain with a dot in it, like *.example.com";
    case "no-dot":
      return `has no dot; give a full host name, ${ALLOW_EXAMPLES}`;
  }
}

/**
 * An allow entry in canonical form (`host` or `host:port`, the host as the gate
 * matches it), or why it cannot be one. The entry's own syntax (a port after the
 * host, nothing else) is the manifest's; the host is checked by the gate's rules.
 */
function parseAllowEntry(entry: string): { ok: string } | { problem: string } {
  if (entry.includes("://")) return { problem: `is a URL; list only the host, ${ALLOW_EXAMPLES}` };
  if (entry.includes("/")) {
    return { problem: `has a path; the allow list matches hosts, not URLs; write only the host, ${ALLOW_EXAMPLES}` };
  }
  if (entry.includes("@")) return { problem: `has user info; write only the host, ${ALLOW_EXAMPLES}` };
  if (entry.startsWith("[") || entry.split(":").length > 2) {
    return { problem: `is an IP address; the allow list takes host names only, ${ALLOW_EXAMPLES}` };
  }
  let host = entry;
  let port = "";
  const withPort = /^(.*):(\d+)$/.exec(entry);
  if (withPort !== null) {
    host = withPort[1]!;
    port = `:${withPort[2]}`;
    const number = Number(withPort[2]);
    if (number < 1 || number > 65535) return { problem: `has port ${withPort[2]}; a port is 1-65535` };
  }
  if (host.includes(":")) return { problem: `has a port that is not a number 1-65535; write it ${ALLOW_EXAMPLES}` };
  const checked = checkAllowHost(host);
  return "ok" in checked ? { ok: checked.ok + port } : { problem: allowRuleText(checked) };
}

/** The manifest's words for an upstream the gate refuses (`gate/upstream.ts` holds the rules). */
function upstreamRuleText(rule: BrokenUpstreamRule): string {
  const shape = "an upstream is an origin with an optional path prefix, like https://api.example.com/v1";
  switch (rule.broken) {
    case "whitespace":
      return "contains whitespace; write the URL alone, like https://api.anthropic.com";
    case "not-url":
      return "is not an absolute URL; write it like https://api.anthropic.com";
    case "scheme":
      return `uses ${rule.scheme}; an upstream is an http or https URL, like https://api.anthropic.com`;
    case "credentials":
      return (
        "carries credentials; drop them from the URL and let the gate add them with " +
        '"inject": { "header": ..., "fromEnv": ... }'
      );
    case "query":
      return `has a query; ${shape}`;
    case "fragment":
      return `has a fragment; ${shape}`;
  }
}

function nameSchema(kind: string, example: string) {
  return z.string().regex(NAME_PATTERN, {
    error: (issue) =>
      `${kind} name ${showValue(issue.input)} is not allowed; use ${NAME_RULE}, like ${showValue(example)}`,
  });
}

function variableSchema(kind: string) {
  return z.string().regex(VARIABLE_PATTERN, {
    error: (issue) =>
      `${kind} ${showValue(issue.input)} is not a variable name; ` +
      "use letters, digits and underscores, not starting with a digit, like ANTHROPIC_API_KEY",
  });
}

const FromEnvSchema = z.strictObject({
  fromEnv: variableSchema("fromEnv").describe("Name of the runner's environment variable whose value is passed in."),
});

const EnvValueSchema = z
  .union([z.string(), FromEnvSchema], {
    error: (issue) =>
      issue.code === "invalid_union"
        ? `${showValue(issue.input)} is not an env value; ` +
          'use a string, or { "fromEnv": "HOST_VAR" } to pass a variable of the runner through'
        : undefined,
  })
  .describe('A literal value, or { "fromEnv": "HOST_VAR" } to copy a variable from the runner\'s environment.');

const AllowEntrySchema = z
  .string()
  .transform((entry, ctx) => {
    const parsed = parseAllowEntry(entry);
    if ("ok" in parsed) return parsed.ok;
    ctx.addIssue({ code: "custom", message: `${showValue(entry)} ${parsed.problem}` });
    return z.NEVER;
  })
  .describe("A host the bottle may reach directly: host, *.host, or either with :port.");

const InjectSchema = z
  .strictObject({
    header: z.string().superRefine((header, ctx) => {
      if (!GATE_INJECT_HEADER.safeParse(header).success) {
        ctx.addIssue({
          code: "custom",
          message:
            `${showValue(header)} is not a header the gate can inject; use an HTTP header name like x-api-key ` +
            "or authorization (not host, content-length or a hop-by-hop header)",
        });
      }
    }),
    fromEnv: variableSchema("fromEnv"),
    format: z
      .string()
      .superRefine((format, ctx) => {
        if (format.split("{value}").length !== 2 || /[\r\n]/.test(format) || format.length > 200) {
          const message = `${showValue(format)} must hold {value} exactly once, like "Bearer {value}"`;
          ctx.addIssue({ code: "custom", message });
        }
      })
      .optional()
      .describe('How the value is written into the header, like "Bearer {value}"; default the value itself.'),
  })
  .describe("A header the gate adds to every request on this route, its value read from the runner's environment.");

const RouteSchema = z.strictObject({
  name: z.string().regex(NAME_PATTERN, {
    error: (issue) => `route name ${showValue(issue.input)} is not allowed; use ${NAME_RULE}, like "anthropic"`,
  }),
  upstream: z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'missing; give the URL this route forwards to, like "upstream": "https://api.anthropic.com"'
          : `${showValue(issue.input)} is not a URL; write the upstream as a string like "https://api.anthropic.com"`,
    })
    .superRefine((upstream, ctx) => {
      const broken = checkUpstream(upstream);
      if (broken !== undefined) {
        ctx.addIssue({ code: "custom", message: `${showValue(upstream)} ${upstreamRuleText(broken)}` });
      }
    })
    .describe("The http or https origin (with an optional path prefix) this route forwards to."),
  inject: InjectSchema.optional(),
  role: z
    .enum(["anthropic", "anthropic-oauth"], {
      error: (issue) =>
        `${showValue(issue.input)} is not a route role; use "anthropic" (API key) or "anthropic-oauth" (OAuth token)`,
    })
    .optional()
    .describe(
      '"anthropic" or "anthropic-oauth": the agent reaches the Anthropic API through this route, ' +
        "holding a placeholder API key or OAuth token.",
    ),
});

const RoutesSchema = z.array(RouteSchema).superRefine(
  (routes, ctx) => {
    const names = new Map<string, number>();
    let anthropic: number | undefined;
    routes.forEach((route, index) => {
      if (!isRecord(route)) return;
      if (typeof route.name === "string") {
        const first = names.get(route.name);
        if (first === undefined) {
          names.set(route.name, index);
        } else {
          ctx.addIssue({
            code: "custom",
            path: [index, "name"],
            message: `${showValue(route.name)} is already the name of routes[${first}]; give each route its own name`,
          });
        }
      }
      if (route.role === "anthropic" || route.role === "anthropic-oauth") {
        if (anthropic !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: [index, "role"],
            message: `routes[${anthropic}] already has an anthropic role; a bottle has at most one anthropic route`,
          });
        } else {
          anthropic = index;
        }
      }
    });
  },
  // Runs even when one route is malformed, so every problem shows up in one pass.
  { when: (payload) => Array.isArray(payload.value) },
);

const EgressSchema = z
  .strictObject({
    allow: z.array(AllowEntrySchema).default([]).describe("Hosts the bottle may reach directly, besides its routes."),
    routes: RoutesSchema.default([]).describe("Upstreams reached through the gate, which can inject credentials."),
    mode: z
      .enum(["enforce", "audit"], {
        error: (issue) =>
          `${showValue(issue.input)} is not an egress mode; use "enforce" (refuse what is not allowed) ` +
          'or "audit" (allow it and log what would be refused)',
      })
      .default("enforce")
      .describe(
        '"enforce" refuses what the allow list does not name; ' +
          '"audit" lets it through and logs what would have been refused.',
      ),
    tunnelIdle: parsedString(parseTimeout, (input) => `${showValue(input)} is not a duration; write it like "5m"`)
      .default("5m")
      .describe("How long a tunnel through the gate may sit idle before it is closed."),
    tunnelLifetime: parsedString(parseTimeout, (input) => `${showValue(input)} is not a duration; write it like "30m"`)
      .default("30m")
      .describe("How long a tunnel through the gate may stay open at most."),
  })
  .transform((egress) => ({
    ...egress,
    tunnelIdleMs: parseTimeout(egress.tunnelIdle),
    tunnelLifetimeMs: parseTimeout(egress.tunnelLifetime),
  }))
  .describe("Where the bottle's traffic may go; everything else is refused.");

const LimitsSchema = z
  .strictObject({
    memory: parsedString(
      parseMemory,
      (input) => `${showValue(input)} is not a memory size; write it as a string like "512m" or "4g"`,
    )
      .default("4g")
      .describe("Memory limit, Docker style: a number with an optional unit b, k, m or g (at least 6m)."),
    cpus: z.number().gt(0).max(64).default(2).describe("CPUs the bottle may use, fractions allowed (0 < cpus <= 64)."),
    pids: z.int().min(16).default(512).describe("Most processes the bottle may run at once (at least 16)."),
    timeout: parsedString(
      parseTimeout,
      (input) =>
        `${showValue(input)} is not a duration; write it as a string with a unit, like "90s", "30m" or "1h30m"`,
    )
      .default("30m")
      .describe("How long the agent may run, like 90s, 30m or 1h30m."),
    state: parsedString(
      parseStateLimit,
      (input) => `${showValue(input)} is not a size; write it as a string like "500m" or "2g"`,
    )
      .default(DEFAULT_STATE_LIMIT)
      .describe(
        "The most the bottle's saved state (its work tree, its ~/.claude, its logs) may take on the runner's disk, " +
          "like 500m or 2g (at least 1m). A snapshot that would go past it is not kept.",
      ),
  })
  .transform((limits) => ({
    ...limits,
    memoryBytes: parseMemory(limits.memory),
    timeoutMs: parseTimeout(limits.timeout),
    stateBytes: parseStateLimit(limits.state),
  }));

/** Rebuilds a bottle with capabilityBlock "rebuild" may do in one run unless maxRebuilds says otherwise. */
export const DEFAULT_MAX_REBUILDS = 2;

const BottleSchema = z
  .strictObject({
    image: z
      .string()
      .min(1)
      .optional()
      .describe("A prebuilt image to run. Leave out image and dockerfile for the bundled agent image."),
    dockerfile: z.string().min(1).optional().describe("A Dockerfile to build, relative to the manifest."),
    buildArgs: z
      .record(variableSchema("build arg"), z.string())
      .optional()
      .describe("Build args for the Dockerfile, like BASE_IMAGE."),
    env: z
      .record(variableSchema("env name"), EnvValueSchema)
      .default({})
      .describe("Environment variables set in the bottle."),
    egress: EgressSchema.prefault({}),
    limits: LimitsSchema.prefault({}).describe("Resource limits; each has a default."),
    supervise: z
      .boolean()
      .default(false)
      .describe(
        "Give the agent the supervise MCP server, through which it can ask for a different image (capability-block).",
      ),
    capabilityBlock: z
      .enum(CAPABILITY_POLICIES, {
        error: (issue) =>
          `${showValue(issue.input)} is not a capability-block policy; use "preserve", "rebuild" or "deny"`,
      })
      .optional()
      .describe(
        'What a capability-block proposal does: "preserve" (default) ends the session and keeps the state ' +
          'for a resume on the new image, "rebuild" builds it and resumes at once, "deny" refuses it.',
      ),
    maxRebuilds: z
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe(
        'With capabilityBlock "rebuild": most rebuilds in one run (default 2); further proposals are preserved.',
      ),
  })
  .superRefine(
    (bottle, ctx) => {
      if (bottle.image !== undefined && bottle.dockerfile !== undefined) {
        ctx.addIssue({
          code: "custom",
          message:
            'has both "image" and "dockerfile"; a bottle runs a prebuilt image or builds one from a Dockerfile, ' +
            "so remove one",
        });
      }
      for (const key of ["capabilityBlock", "maxRebuilds"] as const) {
        if (bottle[key] !== undefined && bottle.supervise !== true) {
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `only applies to a supervised bottle; set "supervise": true, or remove "${key}"`,
          });
        }
      }
      if (bottle.image !== undefined && bottle.buildArgs !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["buildArgs"],
          message:
            'build args only apply when the bottle is built from a Dockerfile; remove "buildArgs", ' +
            'or "image" to build instead',
        });
      }
    },
    { when: (payload) => isRecord(payload.value) },
  )
  .transform((bottle) => ({
    ...bottle,
    buildArgs: bottle.buildArgs ?? {},
    capabilityBlock: bottle.capabilityBlock ?? ("preserve" as CapabilityPolicy),
    maxRebuilds: bottle.maxRebuilds ?? DEFAULT_MAX_REBUILDS,
  }));

const AgentSchema = z.strictObject({
  bottle: z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'missing; name the bottle this agent runs in, one of the keys of "bottles"'
          : `${showValue(issue.input)} is not a bottle name; name one of the keys of "bottles" as a string`,
    })
    .describe('The bottle this agent runs in: a key of "bottles".'),
  prompt: z.string().default("").describe("Appended to claude's system prompt."),
  model: z
    .string()
    .min(1)
    .optional()
    .describe("The model claude uses, like claude-sonnet-4-5; leave out for claude's default."),
  maxTurns: z.int().min(1).max(10_000).optional().describe("Most turns claude may take before it stops."),
});

export const ManifestSchema = z
  .strictObject({
    $schema: z.string().optional().describe("Ignored; lets an editor find this JSON Schema."),
    bottles: z
      .record(nameSchema("bottle", "default"), BottleSchema)
      .refine((bottles) => Object.keys(bottles).length > 0, {
        message: 'no bottles defined; add one, like "bottles": { "default": {} }',
      })
      .describe("Sandboxes, by name."),
    agents: z
      .record(nameSchema("agent", "claude"), AgentSchema)
      .refine((agents) => Object.keys(agents).length > 0, {
        message: 'no agents defined; add one, like "agents": { "claude": { "bottle": "default" } }',
      })
      .describe("Agents, by name; each runs in one of the bottles."),
  })
  .superRefine(
    (manifest, ctx) => {
      const bottles = Object.keys(manifest.bottles);
      for (const [name, agent] of Object.entries(manifest.agents)) {
        if (!isRecord(agent) || typeof agent.bottle !== "string") continue;
        if (Object.hasOwn(manifest.bottles, agent.bottle)) continue;
        const path = ["agents", name, "bottle"];
        if (!NAME_PATTERN.test(agent.bottle)) {
          ctx.addIssue({
            code: "custom",
            path,
            message: `${showValue(agent.bottle)} cannot name a bottle; bottle names are ${NAME_RULE}`,
          });
          continue;
        }
        // With no bottles at all, "no bottles defined" already says what to do.
        if (bottles.length === 0) continue;
        const guess = closest(agent.bottle, bottles);
        ctx.addIssue({
          code: "custom",
          path,
          message:
            guess !== undefined
              ? `${showValue(agent.bottle)} is not a bottle in this manifest; ` +
                `did you mean ${showValue(guess)}? (bottles: ${bottles.join(", ")})`
              : `${showValue(agent.bottle)} is not a bottle in this manifest; use one of: ${bottles.join(", ")}`,
        });
      }
    },
    // Runs even when a bottle is malformed: a dangling reference is worth reporting in the same pass.
    { when: (payload) => isRecord(payload.value) && isRecord(payload.value.bottles) && isRecord(payload.value.agents) },
  );

export type ManifestInput = z.input<typeof ManifestSchema>;
export type Manifest = z.output<typeof ManifestSchema>;
export type Bottle = Manifest["bottles"][string];
export type Agent = Manifest["agents"][string];
export type Route = Bottle["egress"]["routes"][number];
export type Limits = Bottle["limits"];

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "an object",
  record: "an object",
  array: "an array",
};

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "boolean") return "a boolean";
  return `a ${typeof value}`;
}

function unknownKeysMessage(keys: string[], known: string[]): string {
  const guesses = keys.map((key) => closest(key, known));
  if (keys.length === 1 && guesses[0] !== undefined) {
    return `unknown key ${showValue(keys[0])}; did you mean ${showValue(guesses[0])}?`;
  }
  const named = keys.map((key, i) =>
    guesses[i] !== undefined ? `${showValue(key)} (did you mean ${showValue(guesses[i])}?)` : showValue(key),
  );
  return `unknown key${keys.length > 1 ? "s" : ""} ${named.join(", ")}; allowed keys are ${known.join(", ")}`;
}

/**
 * Messages for the issues the schema leaves to zod's defaults: wrong types,
 * unknown keys, numbers out of range. Pass it as `error` with `reportInput: true`
 * so the message can name the value.
 */
export const describeManifestIssue: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type": {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `missing; expected ${expected}`;
      if (issue.expected === "int" && typeof issue.input === "number") {
        return `${showValue(issue.input)} is not a whole number`;
      }
      return `${showValue(issue.input)} is ${kindOf(issue.input)}; expected ${expected}`;
    }
    case "unrecognized_keys": {
      const known = issue.inst instanceof z.ZodObject ? Object.keys(issue.inst.shape) : [];
      return unknownKeysMessage(issue.keys, known);
    }
    case "too_small": {
      if (issue.origin === "string") return `${showValue(issue.input)} is empty; give a value or leave the key out`;
      const bound = issue.inclusive ? "at least" : "more than";
      return `${showValue(issue.input)} is too small; use ${bound} ${issue.minimum}`;
    }
    case "too_big":
      return `${showValue(issue.input)} is too big; use ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`;
    case "invalid_value":
      return `${showValue(issue.input)} is not allowed; use ${issue.values.map(showValue).join(" or ")}`;
    case "invalid_key":
      return issue.issues.map((inner) => inner.message).join("; ");
    case "invalid_format":
      return `${showValue(issue.input)} does not match ${issue.pattern ?? issue.format}`;
    default:
      return undefined;
  }
};

/** The JSON Schema of what a manifest file may contain, for editors. */
export function manifestJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(ManifestSchema, { io: "input", target: "draft-2020-12" });
  return {
    $schema,
    title: "claude-bottle manifest",
    description: "Bottles (sandboxes) and the agents that run in them.",
    ...rest,
  };
}
