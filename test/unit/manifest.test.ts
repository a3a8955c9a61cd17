import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { DEFAULT_AGENT, DEFAULT_MANIFEST } from "../../src/manifest/default.js";
import { GateConfigSchema } from "../../src/gate/config.js";
import {
  EMBEDDED_MANIFEST_PATH,
  ManifestError,
  type ManifestIssue,
  loadManifest,
  parseManifest,
} from "../../src/manifest/load.js";

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

const MINIMAL = { bottles: { default: {} }, agents: { claude: { bottle: "default" } } };

const FULL = {
  $schema: "./schema/claude-bottle.schema.json",
  bottles: {
    default: {
      dockerfile: "docker/agent.Dockerfile",
      buildArgs: { BASE_IMAGE: "node:24-bookworm" },
      env: { CI: "true", GH_TOKEN: { fromEnv: "GITHUB_TOKEN" } },
      egress: {
        allow: ["registry.npmjs.org", "*.GitHubUserContent.com", "api.github.com:443"],
        routes: [
          {
            name: "anthropic",
            upstream: "https://api.anthropic.com",
            inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
            role: "anthropic",
          },
          { name: "internal-api", upstream: "http://api.example.com/v1/" },
        ],
      },
      limits: { memory: "8g", cpus: 0.5, pids: 1024, timeout: "1h30m" },
      supervise: true,
    },
  },
  agents: {
    fixer: { bottle: "default", prompt: "Fix the failing tests.", model: "claude-sonnet-4-5", maxTurns: 50 },
  },
};

/** A manifest whose one bottle, `default`, is `bottle`. */
function withBottle(bottle: Record<string, unknown>): unknown {
  return { bottles: { default: bottle }, agents: { claude: { bottle: "default" } } };
}

function withRoutes(...routes: unknown[]): unknown {
  return withBottle({ egress: { routes } });
}

const LONG_LINE = `  "agents": { "claude": { "bottle": "default", "prompt": "${"x".repeat(100)}", "maxTurns": NaN } }`;

const ANTHROPIC_ROUTE = { name: "anthropic", upstream: "https://api.anthropic.com", role: "anthropic" };

function issuesOf(manifest: unknown): ManifestIssue[] {
  const text = typeof manifest === "string" ? manifest : JSON.stringify(manifest, null, 2);
  try {
    parseManifest(text, "claude-bottle.json");
  } catch (error) {
    if (error instanceof ManifestError) return error.issues;
    throw error;
  }
  throw new Error("the manifest was accepted");
}

describe("valid manifests", () => {
  test.each([
    {
      name: "minimal, with every default filled in",
      manifest: MINIMAL,
      expected: {
        bottles: {
          default: {
            buildArgs: {},
            env: {},
            egress: { allow: [], routes: [] },
            limits: {
              memory: "4g",
              memoryBytes: 4 * GIB,
              cpus: 2,
              pids: 512,
              timeout: "30m",
              timeoutMs: 1_800_000,
              state: "2g",
              stateBytes: 2 * GIB,
            },
            supervise: false,
          },
        },
        agents: { claude: { bottle: "default", prompt: "" } },
      },
    },
    {
      name: "the full example",
      manifest: FULL,
      expected: {
        bottles: {
          default: {
            dockerfile: "docker/agent.Dockerfile",
            buildArgs: { BASE_IMAGE: "node:24-bookworm" },
            env: { CI: "true", GH_TOKEN: { fromEnv: "GITHUB_TOKEN" } },
            egress: {
              allow: ["registry.npmjs.org", "*.githubusercontent.com", "api.github.com:443"],
              routes: [
                {
                  name: "anthropic",
                  upstream: "https://api.anthropic.com",
                  inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
                  role: "anthropic",
                },
                { name: "internal-api", upstream: "http://api.example.com/v1/" },
              ],
            },
            limits: {
              memory: "8g",
              memoryBytes: 8 * GIB,
              cpus: 0.5,
              pids: 1024,
              timeout: "1h30m",
              timeoutMs: 5_400_000,
            },
            supervise: true,
          },
        },
        agents: {
          fixer: { bottle: "default", prompt: "Fix the failing tests.", model: "claude-sonnet-4-5", maxTurns: 50 },
        },
      },
    },
    {
      name: "a prebuilt image",
      manifest: withBottle({ image: "ghcr.io/acme/agent:1.2" }),
      expected: { bottles: { default: { image: "ghcr.io/acme/agent:1.2", buildArgs: {} } } },
    },
    {
      name: "env passed through from the runner",
      manifest: withBottle({ env: { TOKEN: { fromEnv: "HOST_TOKEN" }, _lower_ok: "x" } }),
      expected: { bottles: { default: { env: { TOKEN: { fromEnv: "HOST_TOKEN" }, _lower_ok: "x" } } } },
    },
    {
      name: "memory in other units",
      manifest: withBottle({ limits: { memory: "1.5G", timeout: "500ms" } }),
      expected: { bottles: { default: { limits: { memory: "1.5G", memoryBytes: 1.5 * GIB, timeoutMs: 500 } } } },
    },
    {
      name: "the smallest memory Docker accepts",
      manifest: withBottle({ limits: { memory: "6m" } }),
      expected: { bottles: { default: { limits: { memoryBytes: 6 * MIB } } } },
    },
    {
      name: "a state limit in megabytes, and the smallest one",
      manifest: {
        bottles: { a: { limits: { state: "500m" } }, b: { limits: { state: "1m" } } },
        agents: { x: { bottle: "a" } },
      },
      expected: {
        bottles: { a: { limits: { state: "500m", stateBytes: 500 * MIB } }, b: { limits: { stateBytes: MIB } } },
      },
    },
    {
      name: "memory in bytes",
      manifest: withBottle({ limits: { memory: "536870912" } }),
      expected: { bottles: { default: { limits: { memoryBytes: 512 * MIB } } } },
    },
    {
      name: "several bottles and agents",
      manifest: {
        bottles: { small: { limits: { cpus: 1 } }, "big-2": { limits: { cpus: 64 } } },
        agents: { a: { bottle: "small" }, "0-b": { bottle: "big-2", prompt: "" } },
      },
      expected: { agents: { a: { bottle: "small" }, "0-b": { bottle: "big-2" } } },
    },
    {
      name: "an empty route list and allow list",
      manifest: withBottle({ egress: {} }),
      expected: { bottles: { default: { egress: { allow: [], routes: [] } } } },
    },
    {
      name: "the embedded default",
      manifest: DEFAULT_MANIFEST,
      expected: { agents: { [DEFAULT_AGENT]: { bottle: "default" } } },
    },
  ])("$name", ({ manifest, expected }) => {
    expect(parseManifest(JSON.stringify(manifest), "claude-bottle.json")).toMatchObject(expected);
  });
});

describe("invalid manifests", () => {
  test.each([
    // Unknown keys
    {
      name: "unknown key at the top level",
      manifest: { ...MINIMAL, agent: {} },
      path: "(root)",
      message: 'unknown key "agent"; did you mean "agents"?',
    },
    {
      name: "unknown key in a bottle",
      manifest: withBottle({ limit: {} }),
      path: "bottles.default",
      message: 'unknown key "limit"; did you mean "limits"?',
    },
    {
      name: "unknown key with no near miss",
      manifest: withBottle({ limits: { swap: "1g" } }),
      path: "bottles.default.limits",
      message: 'unknown key "swap"; allowed keys are memory, cpus, pids, timeout, state',
    },
    {
      name: "unknown key in a route",
      manifest: withRoutes({ ...ANTHROPIC_ROUTE, upstrem: "x" }),
      path: "bottles.default.egress.routes[0]",
      message: 'unknown key "upstrem"; did you mean "upstream"?',
    },
    {
      name: "unknown key differing only in case",
      manifest: { ...MINIMAL, agents: { claude: { bottle: "default", maxturns: 5 } } },
      path: "agents.claude",
      message: 'unknown key "maxturns"; did you mean "maxTurns"?',
    },
    {
      name: "unknown key next to fromEnv",
      manifest: withBottle({ env: { A: { fromEnv: "B", default: "c" } } }),
      path: "bottles.default.env.A",
      message: 'unknown key "default"; allowed keys are fromEnv',
    },
    // Shape
    { name: "not an object", manifest: [], path: "(root)", message: "[] is an array; expected an object" },
    { name: "no bottles", manifest: { ...MINIMAL, bottles: {} }, path: "bottles", message: "no bottles defined" },
    { name: "no agents", manifest: { ...MINIMAL, agents: {} }, path: "agents", message: "no agents defined" },
    {
      name: "missing agents",
      manifest: { bottles: { default: {} } },
      path: "agents",
      message: "missing; expected an object",
    },
    // Names
    {
      name: "bottle name with capitals",
      manifest: { bottles: { Default: {}, small: {} }, agents: { claude: { bottle: "small" } } },
      path: "bottles.Default",
      message: 'bottle name "Default" is not allowed; use 1-40 lowercase letters, digits and hyphens',
    },
    {
      name: "agent name too long",
      manifest: { ...MINIMAL, agents: { ["a".repeat(41)]: { bottle: "default" } } },
      path: `agents.${"a".repeat(41)}`,
      message: `agent name "${"a".repeat(41)}" is not allowed`,
    },
    {
      name: "agent name with a space",
      manifest: { ...MINIMAL, agents: { "my agent": { bottle: "default" } } },
      path: 'agents["my agent"]',
      message: 'agent name "my agent" is not allowed',
    },
    {
      name: "agent name starting with a hyphen",
      manifest: { ...MINIMAL, agents: { "-x": { bottle: "default" } } },
      path: "agents.-x",
      message: 'agent name "-x" is not allowed',
    },
    {
      name: "route name with an underscore",
      manifest: withRoutes({ name: "my_route", upstream: "https://x.example.com" }),
      path: "bottles.default.egress.routes[0].name",
      message: 'route name "my_route" is not allowed',
    },
    // Agents
    {
      name: "agent naming a missing bottle",
      manifest: { ...MINIMAL, agents: { claude: { bottle: "big" } } },
      path: "agents.claude.bottle",
      message: '"big" is not a bottle in this manifest; use one of: default',
    },
    {
      name: "agent naming a misspelt bottle",
      manifest: { bottles: { default: {}, big: {} }, agents: { claude: { bottle: "defualt" } } },
      path: "agents.claude.bottle",
      message: '"defualt" is not a bottle in this manifest; did you mean "default"? (bottles: default, big)',
    },
    {
      name: "agent without a bottle",
      manifest: { ...MINIMAL, agents: { claude: {} } },
      path: "agents.claude.bottle",
      message: "missing; name the bottle",
    },
    {
      name: "empty model",
      manifest: { ...MINIMAL, agents: { claude: { bottle: "default", model: "" } } },
      path: "agents.claude.model",
      message: '"" is empty',
    },
    {
      name: "maxTurns of zero",
      manifest: { ...MINIMAL, agents: { claude: { bottle: "default", maxTurns: 0 } } },
      path: "agents.claude.maxTurns",
      message: "0 is too small; use at least 1",
    },
    {
      name: "maxTurns too high",
      manifest: { ...MINIMAL, agents: { claude: { bottle: "default", maxTurns: 10_001 } } },
      path: "agents.claude.maxTurns",
      message: "10001 is too big; use at most 10000",
    },
    {
      name: "fractional maxTurns",
      manifest: { ...MINIMAL, agents: { claude: { bottle: "default", maxTurns: 2.5 } } },
      path: "agents.claude.maxTurns",
      message: "2.5 is not a whole number",
    },
    {
      name: "prompt that is not a string",
      manifest: { ...MINIMAL, agents: { claude: { bottle: "default", prompt: ["a"] } } },
      path: "agents.claude.prompt",
      message: '["a"] is an array; expected a string',
    },
    // Image and Dockerfile
    {
      name: "image and dockerfile together",
      manifest: withBottle({ image: "node:24", dockerfile: "Dockerfile" }),
      path: "bottles.default",
      message: 'has both "image" and "dockerfile"',
    },
    {
      name: "buildArgs with an image",
      manifest: withBottle({ image: "node:24", buildArgs: { BASE_IMAGE: "x" } }),
      path: "bottles.default.buildArgs",
      message: "build args only apply when the bottle is built from a Dockerfile",
    },
    {
      name: "build arg with a bad name",
      manifest: withBottle({ buildArgs: { "BASE-IMAGE": "x" } }),
      path: "bottles.default.buildArgs.BASE-IMAGE",
      message: 'build arg "BASE-IMAGE" is not a variable name',
    },
    { name: "empty image", manifest: withBottle({ image: "" }), path: "bottles.default.image", message: '"" is empty' },
    // Env
    {
      name: "env name starting with a digit",
      manifest: withBottle({ env: { "1X": "a" } }),
      path: "bottles.default.env.1X",
      message: 'env name "1X" is not a variable name',
    },
    {
      name: "env value that is a number",
      manifest: withBottle({ env: { PORT: 8080 } }),
      path: "bottles.default.env.PORT",
      message: '8080 is not an env value; use a string, or { "fromEnv": "HOST_VAR" }',
    },
    {
      name: "env value that is an empty object",
      manifest: withBottle({ env: { A: {} } }),
      path: "bottles.default.env.A",
      message: "{} is not an env value",
    },
    {
      name: "fromEnv that is not a variable name",
      manifest: withBottle({ env: { A: { fromEnv: "$HOME" } } }),
      path: "bottles.default.env.A.fromEnv",
      message: 'fromEnv "$HOME" is not a variable name',
    },
    // Routes
    {
      name: "route without an upstream",
      manifest: withRoutes({ name: "anthropic", role: "anthropic" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: 'missing; give the URL this route forwards to, like "upstream": "https://api.anthropic.com"',
    },
    {
      name: "upstream with user info",
      manifest: withRoutes({ name: "a", upstream: "https://user:secret@api.example.com" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: '"https://user:secret@api.example.com" carries credentials',
    },
    {
      name: "upstream with an empty user info",
      manifest: withRoutes({ name: "a", upstream: "https://@api.example.com" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: "carries credentials",
    },
    {
      name: "upstream with a query",
      manifest: withRoutes({ name: "a", upstream: "https://api.example.com/v1?key=1" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: '"https://api.example.com/v1?key=1" has a query',
    },
    {
      name: "upstream with an empty query",
      manifest: withRoutes({ name: "a", upstream: "https://api.example.com?" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: "has a query",
    },
    {
      name: "upstream with a fragment",
      manifest: withRoutes({ name: "a", upstream: "https://api.example.com/#top" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: "has a fragment",
    },
    {
      name: "upstream that is not http",
      manifest: withRoutes({ name: "a", upstream: "ftp://files.example.com" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: '"ftp://files.example.com" uses ftp; an upstream is an http or https URL',
    },
    {
      name: "upstream with whitespace",
      manifest: withRoutes({ name: "a", upstream: " https://api.example.com" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: "contains whitespace",
    },
    {
      name: "upstream that is not a URL",
      manifest: withRoutes({ name: "a", upstream: "api.anthropic.com" }),
      path: "bottles.default.egress.routes[0].upstream",
      message: '"api.anthropic.com" is not an absolute URL',
    },
    {
      name: "duplicate route names",
      manifest: withRoutes(ANTHROPIC_ROUTE, { name: "anthropic", upstream: "https://other.example.com" }),
      path: "bottles.default.egress.routes[1].name",
      message: '"anthropic" is already the name of routes[0]',
    },
    {
      name: "two anthropic routes",
      manifest: withRoutes(ANTHROPIC_ROUTE, { ...ANTHROPIC_ROUTE, name: "anthropic-2" }),
      path: "bottles.default.egress.routes[1].role",
      message: "routes[0] already has an anthropic role; a bottle has at most one anthropic route",
    },
    {
      name: "unknown role",
      manifest: withRoutes({ ...ANTHROPIC_ROUTE, role: "openai" }),
      path: "bottles.default.egress.routes[0].role",
      message: '"openai" is not a route role; use "anthropic" (API key) or "anthropic-oauth" (OAuth token)',
    },
    {
      name: "inject header that is not a token",
      manifest: withRoutes({ ...ANTHROPIC_ROUTE, inject: { header: "x api key", fromEnv: "KEY" } }),
      path: "bottles.default.egress.routes[0].inject.header",
      message: '"x api key" is not a header the gate can inject',
    },
    {
      name: "inject header the gate manages",
      manifest: withRoutes({ ...ANTHROPIC_ROUTE, inject: { header: "Host", fromEnv: "KEY" } }),
      path: "bottles.default.egress.routes[0].inject.header",
      message: '"Host" is not a header the gate can inject',
    },
    {
      name: "inject without fromEnv",
      manifest: withRoutes({ ...ANTHROPIC_ROUTE, inject: { header: "x-api-key" } }),
      path: "bottles.default.egress.routes[0].inject.fromEnv",
      message: "missing; expected a string",
    },
    // Allow list
    {
      name: "IPv4 literal",
      manifest: withBottle({ egress: { allow: ["10.0.0.1"] } }),
      path: "bottles.default.egress.allow[0]",
      message: '"10.0.0.1" is an IP address; the allow list takes host names only',
    },
    {
      name: "IPv4 literal with a port",
      manifest: withBottle({ egress: { allow: ["api.github.com", "169.254.169.254:80"] } }),
      path: "bottles.default.egress.allow[1]",
      message: '"169.254.169.254:80" is an IP address',
    },
    {
      name: "decimal IPv4",
      manifest: withBottle({ egress: { allow: ["2130706433"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "is an IP address",
    },
    {
      name: "IPv6 literal",
      manifest: withBottle({ egress: { allow: ["[::1]:443"] } }),
      path: "bottles.default.egress.allow[0]",
      message: '"[::1]:443" is an IP address',
    },
    {
      name: "bare IPv6",
      manifest: withBottle({ egress: { allow: ["fe80::1"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "is an IP address",
    },
    {
      name: "a URL",
      manifest: withBottle({ egress: { allow: ["https://api.github.com"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "is a URL",
    },
    {
      name: "a path",
      manifest: withBottle({ egress: { allow: ["api.github.com/repos"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "has a path",
    },
    {
      name: "user info",
      manifest: withBottle({ egress: { allow: ["git@github.com"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "has user info",
    },
    {
      name: "no dot",
      manifest: withBottle({ egress: { allow: ["localhost"] } }),
      path: "bottles.default.egress.allow[0]",
      message: '"localhost" has no dot',
    },
    {
      name: "wildcard over a TLD",
      manifest: withBottle({ egress: { allow: ["*.com"] } }),
      path: "bottles.default.egress.allow[0]",
      message: '"*.com" is too broad',
    },
    {
      name: "wildcard inside",
      manifest: withBottle({ egress: { allow: ["api.*.com"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "has a wildcard that is not the whole first label",
    },
    {
      name: "port out of range",
      manifest: withBottle({ egress: { allow: ["api.github.com:70000"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "has port 70000; a port is 1-65535",
    },
    {
      name: "port zero",
      manifest: withBottle({ egress: { allow: ["api.github.com:0"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "has port 0",
    },
    {
      name: "port not a number",
      manifest: withBottle({ egress: { allow: ["api.github.com:https"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "has a port that is not a number",
    },
    {
      name: "label with an underscore",
      manifest: withBottle({ egress: { allow: ["my_host.example.com"] } }),
      path: "bottles.default.egress.allow[0]",
      message: 'has the label "my_host"',
    },
    {
      name: "label ending in a hyphen",
      manifest: withBottle({ egress: { allow: ["api-.example.com"] } }),
      path: "bottles.default.egress.allow[0]",
      message: 'has the label "api-"',
    },
    {
      name: "empty label",
      manifest: withBottle({ egress: { allow: ["example..com"] } }),
      path: "bottles.default.egress.allow[0]",
      message: "has an empty label",
    },
    {
      name: "host name too long",
      manifest: withBottle({ egress: { allow: [`${`${"a".repeat(60)}.`.repeat(5)}com`] } }),
      path: "bottles.default.egress.allow[0]",
      message: "is longer than 253 characters",
    },
    // Limits
    {
      name: "timeout that is not a duration",
      manifest: withBottle({ limits: { timeout: "30 minutes" } }),
      path: "bottles.default.limits.timeout",
      message: '"30 minutes" is not a duration; use a number with a unit, like 90s, 30m or 1h30m',
    },
    {
      name: "timeout as a bare number",
      manifest: withBottle({ limits: { timeout: 1800 } }),
      path: "bottles.default.limits.timeout",
      message: '1800 is not a duration; write it as a string with a unit, like "90s", "30m" or "1h30m"',
    },
    {
      name: "zero timeout",
      manifest: withBottle({ limits: { timeout: "0s" } }),
      path: "bottles.default.limits.timeout",
      message: '"0s" is zero',
    },
    {
      name: "timeout too long",
      manifest: withBottle({ limits: { timeout: "30d" } }),
      path: "bottles.default.limits.timeout",
      message: '"30d" is longer than the longest timeout, 24d',
    },
    {
      name: "memory with a word for a unit",
      manifest: withBottle({ limits: { memory: "4 GB" } }),
      path: "bottles.default.limits.memory",
      message: '"4 GB" is not a memory size; use a number with an optional unit b, k, m or g, like 512m or 4g',
    },
    {
      name: "memory below Docker's minimum",
      manifest: withBottle({ limits: { memory: "4m" } }),
      path: "bottles.default.limits.memory",
      message: '"4m" is below Docker\'s minimum of 6m',
    },
    {
      name: "memory as a number",
      manifest: withBottle({ limits: { memory: 4096 } }),
      path: "bottles.default.limits.memory",
      message: "4096 is not a memory size",
    },
    {
      name: "negative memory",
      manifest: withBottle({ limits: { memory: "-1g" } }),
      path: "bottles.default.limits.memory",
      message: '"-1g" is not a memory size',
    },
    {
      name: "a state limit with a word for a unit",
      manifest: withBottle({ limits: { state: "2 GB" } }),
      path: "bottles.default.limits.state",
      message: '"2 GB" is not a size; use a number with an optional unit b, k, m or g, like 500m or 2g',
    },
    {
      name: "a state limit below 1m",
      manifest: withBottle({ limits: { state: "512k" } }),
      path: "bottles.default.limits.state",
      message: '"512k" is below the smallest state limit, 1m; use something like 500m or 2g',
    },
    {
      name: "a state limit as a number",
      manifest: withBottle({ limits: { state: 2048 } }),
      path: "bottles.default.limits.state",
      message: '2048 is not a size; write it as a string like "500m" or "2g"',
    },
    {
      name: "a state limit too large to count",
      manifest: withBottle({ limits: { state: "99999999999g" } }),
      path: "bottles.default.limits.state",
      message: '"99999999999g" is too large a size',
    },
    {
      name: "zero cpus",
      manifest: withBottle({ limits: { cpus: 0 } }),
      path: "bottles.default.limits.cpus",
      message: "0 is too small; use more than 0",
    },
    {
      name: "too many cpus",
      manifest: withBottle({ limits: { cpus: 65 } }),
      path: "bottles.default.limits.cpus",
      message: "65 is too big; use at most 64",
    },
    {
      name: "cpus as a string",
      manifest: withBottle({ limits: { cpus: "2" } }),
      path: "bottles.default.limits.cpus",
      message: '"2" is a string; expected a number',
    },
    {
      name: "too few pids",
      manifest: withBottle({ limits: { pids: 8 } }),
      path: "bottles.default.limits.pids",
      message: "8 is too small; use at least 16",
    },
    {
      name: "supervise as a string",
      manifest: withBottle({ supervise: "yes" }),
      path: "bottles.default.supervise",
      message: '"yes" is a string; expected true or false',
    },
    {
      name: "an unknown capability-block policy",
      manifest: withBottle({ supervise: true, capabilityBlock: "approve" }),
      path: "bottles.default.capabilityBlock",
      message: '"approve" is not a capability-block policy; use "preserve", "rebuild" or "deny"',
    },
    {
      name: "a capability-block policy on an unsupervised bottle",
      manifest: withBottle({ capabilityBlock: "rebuild" }),
      path: "bottles.default.capabilityBlock",
      message: 'only applies to a supervised bottle; set "supervise": true, or remove "capabilityBlock"',
    },
    {
      name: "maxRebuilds without supervise",
      manifest: withBottle({ maxRebuilds: 1 }),
      path: "bottles.default.maxRebuilds",
      message: 'set "supervise": true, or remove "maxRebuilds"',
    },
    {
      name: "too many rebuilds",
      manifest: withBottle({ supervise: true, maxRebuilds: 11 }),
      path: "bottles.default.maxRebuilds",
      message: "11 is too big; use at most 10",
    },
    // JSON
    {
      name: "invalid JSON, with line and column",
      manifest: '{\n  "bottles": { "default": {} },\n  "agents" { "claude": { "bottle": "default" } }\n}\n',
      path: "(file)",
      message: "not valid JSON at line 3, column 12: Expected ':' after property name",
    },
    {
      name: "invalid JSON where the parser gives no position",
      manifest: '{\n  "bottles": {\n    "default": { "supervise": yes }\n  }\n}\n',
      path: "(file)",
      message: "not valid JSON at line 3, column 31: Unexpected token 'y'",
    },
    {
      name: "invalid JSON deep in a long line",
      manifest: `{\n${LONG_LINE}\n}\n`,
      path: "(file)",
      message: `not valid JSON at line 2, column ${LONG_LINE.indexOf("NaN") + 1}: Unexpected token 'N'`,
    },
    {
      name: "a trailing comma",
      manifest: '{\n  "bottles": { "default": {} },\n}\n',
      path: "(file)",
      message: "not valid JSON at line 3, column 1: Expected double-quoted property name",
    },
    {
      name: "a truncated file",
      manifest: '{\n  "bottles": {',
      path: "(file)",
      message: "not valid JSON at line 2, column 15",
    },
    {
      name: "a truncated value",
      manifest: '{\n  "bottles": t',
      path: "(file)",
      message: "not valid JSON at line 2, column 15: Unexpected end of JSON input",
    },
    { name: "an empty file", manifest: "  \n", path: "(file)", message: "is empty; a manifest is a JSON object" },
  ])("$name", ({ manifest, path, message }) => {
    expect(issuesOf(manifest)).toEqual([{ path, message: expect.stringContaining(message) }]);
  });

  test("a bad bottle name is reported where it is defined and where it is used", () => {
    expect(issuesOf({ bottles: { Default: {} }, agents: { claude: { bottle: "Default" } } })).toEqual([
      { path: "bottles.Default", message: expect.stringContaining('bottle name "Default" is not allowed') },
      { path: "agents.claude.bottle", message: expect.stringContaining('"Default" cannot name a bottle') },
    ]);
  });

  test("every problem is reported at once", () => {
    const issues = issuesOf({
      bottles: { default: { image: "node:24", dockerfile: "Dockerfile", limits: { timeout: "soon" } } },
      agents: { claude: { bottle: "nope" } },
    });
    expect(issues.map((issue) => issue.path)).toEqual([
      "bottles.default.limits.timeout",
      "bottles.default",
      "agents.claude.bottle",
    ]);
  });

  test("the error message lists each issue under the file, with no stack trace", () => {
    const error = (() => {
      try {
        parseManifest(
          JSON.stringify(withBottle({ limits: { timeout: "30 minutes" }, egress: { routes: [{ name: "a" }] } })),
          "/repo/claude-bottle.json",
        );
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ManifestError);
    const manifestError = error as ManifestError;
    expect(manifestError.file).toBe("/repo/claude-bottle.json");
    expect(manifestError.message).toBe(
      [
        "invalid manifest /repo/claude-bottle.json:",
        '  bottles.default.egress.routes[0].upstream: missing; give the URL this route forwards to, like "upstream": "https://api.anthropic.com"',
        '  bottles.default.limits.timeout: "30 minutes" is not a duration; use a number with a unit, like 90s, 30m or 1h30m (units d, h, m, s, ms, largest first)',
      ].join("\n"),
    );
  });
});

// The manifest's allow list and routes are checked by the gate's own rules
// (src/gate/hosts.ts, src/gate/upstream.ts), worded for people editing the manifest:
// every host and upstream one accepts the other accepts, in the same canonical form.
describe("the manifest and the gate agree", () => {
  type Verdict = { ok: string } | { refused: string };

  /** The manifest's verdict on one allow entry: its canonical form, or the message for it. */
  function manifestAllow(entry: string): Verdict {
    try {
      const manifest = parseManifest(JSON.stringify(withBottle({ egress: { allow: [entry] } })), "m.json");
      return { ok: manifest.bottles.default!.egress.allow[0]! };
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      expect(error.issues).toHaveLength(1);
      expect(error.issues[0]!.path).toBe("bottles.default.egress.allow[0]");
      return { refused: error.issues[0]!.message };
    }
  }

  /** The gate config's verdict on one allowlist host. */
  function gateAllow(host: string, port = 443): Verdict {
    const parsed = GateConfigSchema.safeParse({ version: 1, routes: [], proxy: { allow: [{ host, port }] } });
    return parsed.success ? { ok: parsed.data.proxy.allow[0]!.host } : { refused: parsed.error.issues[0]!.message };
  }

  function manifestUpstream(upstream: string): Verdict {
    try {
      parseManifest(JSON.stringify(withRoutes({ name: "a", upstream })), "m.json");
      return { ok: upstream };
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      return { refused: error.issues[0]!.message };
    }
  }

  function gateUpstream(upstream: string): Verdict {
    const parsed = GateConfigSchema.safeParse({ version: 1, routes: [{ name: "a", upstream }] });
    return parsed.success ? { ok: upstream } : { refused: parsed.error.issues[0]!.message };
  }

  /** The same verdict on `entry`, or a refusal worded by each: the manifest's names the value first and gives a fix. */
  function expectAgreement(entry: string, manifest: Verdict, gate: Verdict, canonical: (ok: string) => string): void {
    if ("ok" in gate) {
      expect(manifest, `the gate accepts ${JSON.stringify(entry)}`).toEqual({ ok: canonical(gate.ok) });
      return;
    }
    expect(manifest, `the gate refuses ${JSON.stringify(entry)}: ${gate.refused}`).toHaveProperty("refused");
    if ("refused" in manifest) {
      if (entry.length < 60) expect(manifest.refused.startsWith(`${JSON.stringify(entry)} `)).toBe(true);
      expect(manifest.refused).toMatch(/; /);
      expect(manifest.refused).not.toBe(gate.refused);
    }
  }

  const HOSTS = [
    // accepted by both, in one canonical form
    "example.com",
    "EXAMPLE.com.",
    "*.Example.com",
    "*.a.b.example",
    "xn--bcher-kva.example",
    "a-b.c-d.example",
    `${"a".repeat(63)}.example`,
    `${`${"a".repeat(62)}.`.repeat(4)}com`,
    // refused by both
    "",
    ".",
    "..",
    "*",
    "*.",
    "*.com",
    "com",
    "localhost",
    "a.*.example.com",
    "*example.com",
    "**.example.com",
    "user@example.com",
    "[::1]",
    "fe80::1",
    "198.18.0.10",
    "10.1",
    "0x7f.1",
    "2130706433",
    "example.0x",
    "exämple.com",
    "\u212aelvin.example",
    "my_host.example.com",
    "-a.example.com",
    "a-.example.com",
    "example..com",
    ".example.com",
    "example.com..",
    `${"a".repeat(64)}.example`,
    `${`${"a".repeat(61)}.`.repeat(5)}com`,
    "example.com/path",
    "https://example.com",
    "example.com?x",
    "example.com#x",
    "exa mple.com",
    " example.com",
    "example.com:https",
    "example.com:",
    "a]b.example",
  ];

  test.each(HOSTS)("allow host %j", (host) => {
    expectAgreement(`${host}:8443`, manifestAllow(`${host}:8443`), gateAllow(host, 8443), (ok) => `${ok}:8443`);
    if (!/:\d+$/.test(host)) expectAgreement(host, manifestAllow(host), gateAllow(host), (ok) => ok);
  });

  test("allow hosts: the same verdict on 3000 seeded random hosts near the rules' edges", () => {
    let state = 0x0a11_0e57;
    const random = (): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const CHARS = [..."abcxyzABC0129-", ..."._*:@/?#[] \u212aä"];
    const LABELS = ["example", "com", "a", "0x7f", "10", "xn--bcher-kva", "", "a".repeat(63), "a".repeat(64), "-x"];
    const randomLabel = (): string => Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(CHARS)).join("");
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const labels = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        random() < 0.5 ? pick(LABELS) : randomLabel(),
      );
      const host = `${random() < 0.2 ? "*." : ""}${labels.join(".")}${random() < 0.1 ? "." : ""}`;
      const gate = gateAllow(host, 8443);
      if ("ok" in gate) accepted += 1;
      expectAgreement(`${host}:8443`, manifestAllow(`${host}:8443`), gate, (ok) => `${ok}:8443`);
    }
    // The set must hold both kinds for the comparison to mean anything.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(2900);
  });

  test.each([
    // accepted by both
    "https://api.anthropic.com",
    "http://api.example.com/v1/",
    "https://api.example.com:8443/v1",
    "http://10.0.0.2:8000",
    "HTTPS://API.EXAMPLE.COM",
    // refused by both
    "ftp://files.example.com",
    "api.anthropic.com",
    "/v1",
    "",
    "https://user:secret@api.example.com",
    "https://@api.example.com",
    "https://user@api.example.com",
    "https://api.example.com?",
    "https://api.example.com/v1?key=1",
    "https://api.example.com#",
    "https://api.example.com/#top",
    " https://api.example.com",
    "https://api.example.com\n",
    "https://api.exa\tmple.com",
    "javascript:alert(1)",
    "https://",
  ])("upstream %j", (upstream) => {
    expectAgreement(upstream, manifestUpstream(upstream), gateUpstream(upstream), (ok) => ok);
  });
});

describe("loadManifest", () => {
  const root = mkdtempSync(join(tmpdir(), "claude-bottle-manifest-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function project(name: string, files: Record<string, string> = {}): string {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(dir, file, ".."), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    return dir;
  }

  function loadError(opts: { path?: string; cwd: string }): ManifestError {
    try {
      loadManifest(opts);
    } catch (error) {
      if (error instanceof ManifestError) return error;
      throw error;
    }
    throw new Error("the manifest loaded");
  }

  test("uses claude-bottle.json in the working directory", () => {
    const cwd = project("implicit", { "claude-bottle.json": JSON.stringify(FULL) });
    const loaded = loadManifest({ cwd });
    expect(loaded).toMatchObject({ path: join(cwd, "claude-bottle.json"), dir: cwd, embedded: false });
    expect(Object.keys(loaded.manifest.agents)).toEqual(["fixer"]);
  });

  test("falls back to the embedded default without a file", () => {
    const cwd = project("empty");
    const loaded = loadManifest({ cwd });
    expect(loaded).toMatchObject({ path: EMBEDDED_MANIFEST_PATH, dir: cwd, embedded: true });
    expect(loaded.manifest.agents[DEFAULT_AGENT]).toMatchObject({ bottle: "default" });
  });

  test("reads an explicit path relative to the working directory", () => {
    const cwd = project("explicit", { "config/bottles.json": `\uFEFF${JSON.stringify(MINIMAL)}` });
    const loaded = loadManifest({ path: "config/bottles.json", cwd });
    expect(loaded).toMatchObject({ path: join(cwd, "config/bottles.json"), dir: join(cwd, "config"), embedded: false });
  });

  test("an explicit path never falls back to the embedded default", () => {
    const cwd = project("missing", { "claude-bottle.json": JSON.stringify(MINIMAL) });
    const error = loadError({ path: "other.json", cwd });
    expect(error.file).toBe(join(cwd, "other.json"));
    expect(error.issues).toEqual([{ path: "(file)", message: expect.stringContaining("no such file") }]);
    expect(error.message).toMatch(/^invalid manifest .*other\.json:\n {2}\(file\): no such file/);
  });

  test("a directory is not a manifest", () => {
    const cwd = project("directory", { "claude-bottle.json/keep": "" });
    expect(loadError({ cwd }).issues).toEqual([{ path: "(file)", message: expect.stringContaining("is a directory") }]);
  });

  test("reports problems in the file it found", () => {
    const cwd = project("broken", { "claude-bottle.json": JSON.stringify(withBottle({ limits: { memory: "lots" } })) });
    const error = loadError({ cwd });
    expect(error.file).toBe(join(cwd, "claude-bottle.json"));
    expect(error.issues).toEqual([
      { path: "bottles.default.limits.memory", message: expect.stringContaining('"lots" is not a memory size') },
    ]);
  });

  test("the embedded default's recorded path loads it again", () => {
    const cwd = project("roundtrip", { "claude-bottle.json": JSON.stringify(FULL) });
    expect(loadManifest({ path: EMBEDDED_MANIFEST_PATH, cwd })).toMatchObject({
      path: EMBEDDED_MANIFEST_PATH,
      embedded: true,
    });
  });
});

describe("the embedded default", () => {
  const manifest = parseManifest(JSON.stringify(DEFAULT_MANIFEST), EMBEDDED_MANIFEST_PATH);

  test("runs the claude agent in the bundled image, reaching only Anthropic through the gate", () => {
    const bottle = manifest.bottles.default!;
    expect(bottle.image).toBeUndefined();
    expect(bottle.dockerfile).toBeUndefined();
    expect(bottle.egress).toMatchObject({
      allow: [],
      mode: "enforce",
      routes: [
        {
          name: "anthropic",
          upstream: "https://api.anthropic.com",
          inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
          role: "anthropic",
        },
      ],
    });
  });

  test("tells the agent where it works and that nobody is watching", () => {
    const agent = manifest.agents[DEFAULT_AGENT]!;
    expect(agent.bottle).toBe("default");
    expect(agent.prompt).toContain("/home/node/workspace");
    expect(agent.prompt).toContain("headlessly");
  });
});
