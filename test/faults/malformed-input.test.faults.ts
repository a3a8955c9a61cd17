/**
 * Malformed input, generated from tables: a wrong value of every kind at every field
 * of `claude-bottle.json`, unknown keys and typos at every level, bad names, broken
 * rules and broken JSON; `node runner` invocations (unknown commands and flags, flags
 * of another command, missing and bad values, bad identities); and the action's
 * inputs. What a user must see in every case: the documented exit code (the CLI 2;
 * the action 1 with an `::error::` line), the field named (a JSON path, a flag, an
 * input) with the offending value or "missing", no stack trace, and no Docker
 * resource created. Cases run four processes at a time; the labelled containers,
 * networks and images are listed before and after each batch, and no new one may
 * carry the runner label of a case's process or the identity a case would have used.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { deriveIdentity, jobContext } from "../../src/action/context.js";
import { NODE, ROOT, RUNNER } from "../support/runner.js";
import {
  type Ran,
  type Resource,
  added,
  describeResources,
  inventory,
  madeBy,
  pool,
  run,
  stackTrace,
  table,
} from "./support.js";

type Json = unknown;
type Category = "manifest" | "cli" | "action";

interface Case {
  category: Category;
  /** The row of the result table this case counts in. */
  group: string;
  name: string;
  /** manifest: the file's bytes. */
  manifest?: string | Buffer;
  /** cli: the arguments after `node runner`. */
  args?: string[];
  /** action: the inputs, by their action.yml names. */
  inputs?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  /** Files the case needs in its working directory (a prompt-file, a manifest). */
  files?: Record<string, string>;
  /** One line of the output names this (a JSON path, a flag, an input)... */
  field: string;
  /** ...and, on the same line, this (the value as the product shows it, or "missing"). */
  shows: string | null;
  code: number;
  /** The identity the case would have run as, when it can be known in advance. */
  identity?: string;
}

const AGENT = "faulty";
const dir = mkdtempSync(join(tmpdir(), "malformed-input-"));
const workspace = join(dir, "workspace");
mkdirSync(workspace);
const SECRET = "sk-ant-malformed-input-not-a-real-key";
const baseEnv: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  HOME: dir,
  CLAUDE_BOTTLE_HOME: join(dir, "home"),
  ANTHROPIC_API_KEY: SECRET,
  GH_TOKEN: "gh-token-for-env",
};

/** A value as the manifest loader shows it in a message. */
function show(value: Json): string {
  if (value === undefined) return "missing";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? text.slice(0, 77) : text;
}

/** `["bottles", "default", "egress", "routes", 0, "upstream"]` as the loader prints it: `bottles.default.egress.routes[0].upstream`. */
function jsonPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(root)";
  return path
    .map((segment, index) => {
      if (typeof segment === "number") return `[${segment}]`;
      if (/^[A-Za-z0-9_$-]+$/.test(segment)) return index === 0 ? segment : `.${segment}`;
      return `[${JSON.stringify(segment)}]`;
    })
    .join("");
}

// --- manifests -------------------------------------------------------------------------------

/** Every field set: each case changes one thing, so each error is the injected one. It passes `--dry-run`. */
const VALID = {
  $schema: "./schema/claude-bottle.schema.json",
  bottles: {
    default: {
      // Never present locally: a case the loader wrongly accepted fails at the image, before any network.
      image: "bottle-faults/absent:never",
      env: { LOG_LEVEL: "debug", GH: { fromEnv: "GH_TOKEN" } },
      egress: {
        mode: "enforce",
        allow: ["registry.npmjs.org", "*.github.com", "example.com:8443"],
        tunnelIdle: "5m",
        tunnelLifetime: "30m",
        routes: [
          {
            name: "anthropic",
            upstream: "https://api.anthropic.com",
            inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY", format: "{value}" },
            role: "anthropic",
          },
        ],
      },
      limits: { memory: "1g", cpus: 1, pids: 64, timeout: "5m" },
      supervise: true,
      capabilityBlock: "preserve",
      maxRebuilds: 2,
    },
    builder: { dockerfile: "agent.Dockerfile", buildArgs: { BASE_IMAGE: "node:24" } },
  },
  agents: { [AGENT]: { bottle: "default", prompt: "be careful", model: "claude-sonnet-4-5", maxTurns: 5 } },
};

type Path = (string | number)[];

function edit(change: (m: Record<string, any>) => void): Record<string, any> {
  const copy = structuredClone(VALID) as Record<string, any>;
  change(copy);
  return copy;
}

function setAt(path: Path, value: Json): Record<string, any> {
  return edit((m) => {
    let node = m;
    for (const key of path.slice(0, -1)) node = node[key];
    const last = path[path.length - 1] as string | number;
    if (value === undefined) delete node[last];
    else node[last] = value;
  });
}

/** A value of every other JSON kind, for a field of this kind. */
const WRONG_KIND: Record<string, Json[]> = {
  string: [42, true, null, [], {}],
  number: ["2", true, null, [], {}],
  int: [1.5, "64", true, null, []],
  boolean: ["true", 1, null, []],
  object: ["x", 42, true, [], null],
  array: ["x", 42, true, {}, null],
  record: ["x", 42, [], null],
};

/** Every field, its kind, and values of the right kind that break its own rule. */
const FIELDS: { path: Path; kind: keyof typeof WRONG_KIND; bad: Json[] }[] = [
  { path: ["$schema"], kind: "string", bad: [] },
  { path: ["bottles"], kind: "record", bad: [] },
  { path: ["agents"], kind: "record", bad: [] },
  { path: ["bottles", "default"], kind: "object", bad: [] },
  { path: ["bottles", "default", "image"], kind: "string", bad: [""] },
  { path: ["bottles", "builder", "dockerfile"], kind: "string", bad: [""] },
  { path: ["bottles", "builder", "buildArgs"], kind: "record", bad: [] },
  { path: ["bottles", "builder", "buildArgs", "BASE_IMAGE"], kind: "string", bad: [] },
  { path: ["bottles", "default", "env"], kind: "record", bad: [] },
  { path: ["bottles", "default", "env", "LOG_LEVEL"], kind: "string", bad: [] },
  { path: ["bottles", "default", "env", "GH", "fromEnv"], kind: "string", bad: ["", "1X", "bad-name", "A B", "$(id)"] },
  { path: ["bottles", "default", "egress"], kind: "object", bad: [] },
  { path: ["bottles", "default", "egress", "mode"], kind: "string", bad: ["block", "ENFORCE", "audit,enforce"] },
  { path: ["bottles", "default", "egress", "allow"], kind: "array", bad: [] },
  { path: ["bottles", "default", "egress", "allow", 0], kind: "string", bad: [] },
  {
    path: ["bottles", "default", "egress", "tunnelIdle"],
    kind: "string",
    bad: ["soon", "30", "", "5 minutes", "0s", "-1m", "1m30h", "25d"],
  },
  { path: ["bottles", "default", "egress", "tunnelLifetime"], kind: "string", bad: ["forever", "1.5h"] },
  { path: ["bottles", "default", "egress", "routes"], kind: "array", bad: [] },
  { path: ["bottles", "default", "egress", "routes", 0], kind: "object", bad: [] },
  { path: ["bottles", "default", "egress", "routes", 0, "name"], kind: "string", bad: [] },
  { path: ["bottles", "default", "egress", "routes", 0, "upstream"], kind: "string", bad: [] },
  { path: ["bottles", "default", "egress", "routes", 0, "inject"], kind: "object", bad: [] },
  { path: ["bottles", "default", "egress", "routes", 0, "inject", "header"], kind: "string", bad: [] },
  {
    path: ["bottles", "default", "egress", "routes", 0, "inject", "fromEnv"],
    kind: "string",
    bad: ["", "1X", "bad-name", "ANTHROPIC API KEY"],
  },
  {
    path: ["bottles", "default", "egress", "routes", 0, "inject", "format"],
    kind: "string",
    bad: ["Bearer", "{value}{value}", "Bearer {value}\r\nX-Evil: 1"],
  },
  { path: ["bottles", "default", "egress", "routes", 0, "role"], kind: "string", bad: ["openai", "ANTHROPIC", ""] },
  { path: ["bottles", "default", "limits"], kind: "object", bad: [] },
  {
    path: ["bottles", "default", "limits", "memory"],
    kind: "string",
    bad: ["lots", "4m", "-1g", "4 GB", "1t", "", "99999999999g", "0"],
  },
  { path: ["bottles", "default", "limits", "cpus"], kind: "number", bad: [0, -1, 65, 1e9] },
  { path: ["bottles", "default", "limits", "pids"], kind: "int", bad: [8, -3, 0, 15] },
  {
    path: ["bottles", "default", "limits", "timeout"],
    kind: "string",
    bad: ["soon", "30", "", "5 minutes", "0s", "25d", "1m30h", "5M"],
  },
  { path: ["bottles", "default", "supervise"], kind: "boolean", bad: [] },
  { path: ["bottles", "default", "capabilityBlock"], kind: "string", bad: ["approve", "PRESERVE", "ask", ""] },
  { path: ["bottles", "default", "maxRebuilds"], kind: "int", bad: [-1, 11, 1000] },
  { path: ["agents", AGENT], kind: "object", bad: [] },
  { path: ["agents", AGENT, "bottle"], kind: "string", bad: ["missing", "", "Default", "-default", "a".repeat(41)] },
  { path: ["agents", AGENT, "prompt"], kind: "string", bad: [] },
  { path: ["agents", AGENT, "model"], kind: "string", bad: [""] },
  { path: ["agents", AGENT, "maxTurns"], kind: "int", bad: [0, -1, 10_001] },
];

/** Hosts that have no place on an allow list, each for its own reason. */
const BAD_ALLOW = [
  "10.0.0.1",
  "10.1",
  "2130706433",
  "0x7f.1",
  "[::1]",
  "::1",
  "[2001:db8::1]:443",
  "example.com:0",
  "example.com:65536",
  "example.com:99999",
  "example.com:abc",
  "example.com:",
  "ex*ample.com",
  "foo.*.example.com",
  "*.*.example.com",
  "*",
  "*.com",
  "**.example.com",
  "https://example.com",
  "http://example.com:8080",
  "example.com/path",
  "user@example.com",
  "",
  "localhost",
  "-bad.example.com",
  "bad-.example.com",
  "a..b.com",
  ".example.com",
  `${"a".repeat(64)}.com`,
  `${"a.".repeat(127)}com`,
  "exa mple.com",
  "exämple.com",
];

/** Routes broken in one way each; the JSON path and what the line must show. */
const BAD_ROUTES: { name: string; routes: Json[]; at: Path; shows: string }[] = [
  { name: "a route without upstream", routes: [{ name: "api" }], at: [0, "upstream"], shows: "missing" },
  { name: "a route without name", routes: [{ upstream: "https://x.test" }], at: [0, "name"], shows: "missing" },
  {
    name: "an upstream with credentials",
    routes: [{ name: "api", upstream: "https://user:pw@x.test" }],
    at: [0, "upstream"],
    shows: '"https://user:pw@x.test"',
  },
  {
    name: "an upstream with an empty user",
    routes: [{ name: "api", upstream: "https://@x.test" }],
    at: [0, "upstream"],
    shows: '"https://@x.test"',
  },
  {
    name: "an upstream with a query",
    routes: [{ name: "api", upstream: "https://x.test/v1?key=1" }],
    at: [0, "upstream"],
    shows: '"https://x.test/v1?key=1"',
  },
  {
    name: "an upstream with a bare ?",
    routes: [{ name: "api", upstream: "https://x.test/?" }],
    at: [0, "upstream"],
    shows: '"https://x.test/?"',
  },
  {
    name: "an upstream with a fragment",
    routes: [{ name: "api", upstream: "https://x.test/#top" }],
    at: [0, "upstream"],
    shows: '"https://x.test/#top"',
  },
  {
    name: "an ftp upstream",
    routes: [{ name: "api", upstream: "ftp://x.test" }],
    at: [0, "upstream"],
    shows: '"ftp://x.test"',
  },
  {
    name: "a file upstream",
    routes: [{ name: "api", upstream: "file:///etc/passwd" }],
    at: [0, "upstream"],
    shows: '"file:///etc/passwd"',
  },
  {
    name: "a javascript upstream",
    routes: [{ name: "api", upstream: "javascript:alert(1)" }],
    at: [0, "upstream"],
    shows: '"javascript:alert(1)"',
  },
  {
    name: "an upstream that is no URL",
    routes: [{ name: "api", upstream: "api.example.com" }],
    at: [0, "upstream"],
    shows: '"api.example.com"',
  },
  {
    name: "an upstream with a space",
    routes: [{ name: "api", upstream: "https://x.test /v1" }],
    at: [0, "upstream"],
    shows: '"https://x.test /v1"',
  },
  { name: "an empty upstream", routes: [{ name: "api", upstream: "" }], at: [0, "upstream"], shows: '""' },
  ...[
    "host",
    "Host",
    "content-length",
    "connection",
    "transfer-encoding",
    "upgrade",
    "x api key",
    "",
    "x-key\r\nx-evil",
  ].map((header) => ({
    name: `inject header ${JSON.stringify(header)}`,
    routes: [{ name: "api", upstream: "https://x.test", inject: { header, fromEnv: "API_KEY" } }],
    at: [0, "inject", "header"] as Path,
    shows: JSON.stringify(header),
  })),
  {
    name: "inject without fromEnv",
    routes: [{ name: "api", upstream: "https://x.test", inject: { header: "x-key" } }],
    at: [0, "inject", "fromEnv"],
    shows: "missing",
  },
  {
    name: "inject without header",
    routes: [{ name: "api", upstream: "https://x.test", inject: { fromEnv: "API_KEY" } }],
    at: [0, "inject", "header"],
    shows: "missing",
  },
  {
    name: "two anthropic roles",
    routes: [
      { name: "one", upstream: "https://a.test", role: "anthropic" },
      { name: "two", upstream: "https://b.test", role: "anthropic" },
    ],
    at: [1, "role"],
    shows: "routes[0] already has an anthropic role",
  },
  {
    name: "anthropic and anthropic-oauth roles",
    routes: [
      { name: "one", upstream: "https://a.test", role: "anthropic-oauth" },
      { name: "two", upstream: "https://b.test", role: "anthropic" },
    ],
    at: [1, "role"],
    shows: "routes[0] already has an anthropic role",
  },
  {
    name: "two routes of one name",
    routes: [
      { name: "api", upstream: "https://a.test" },
      { name: "api", upstream: "https://b.test" },
    ],
    at: [1, "name"],
    shows: '"api" is already the name of routes[0]',
  },
];

const BAD_NAMES = ["Default", "my bottle", "a".repeat(41), "-lead", "under_score", "dot.name", "ünï", "trail\n"];

/** Object levels and their keys: an unknown key and a typo of each known key. Records (bottles, agents, env, buildArgs) take any key. */
const LEVELS: { at: Path; keys: string[] }[] = [
  { at: [], keys: ["$schema", "bottles", "agents"] },
  {
    at: ["bottles", "default"],
    keys: ["image", "env", "egress", "limits", "supervise", "capabilityBlock", "maxRebuilds"],
  },
  { at: ["bottles", "builder"], keys: ["dockerfile", "buildArgs"] },
  { at: ["bottles", "default", "egress"], keys: ["mode", "allow", "tunnelIdle", "tunnelLifetime", "routes"] },
  { at: ["bottles", "default", "egress", "routes", 0], keys: ["name", "upstream", "inject", "role"] },
  { at: ["bottles", "default", "egress", "routes", 0, "inject"], keys: ["header", "fromEnv", "format"] },
  { at: ["bottles", "default", "env", "GH"], keys: ["fromEnv"] },
  { at: ["bottles", "default", "limits"], keys: ["memory", "cpus", "pids", "timeout"] },
  { at: ["agents", AGENT], keys: ["bottle", "prompt", "model", "maxTurns"] },
];

/** A typo of `key` that the loader should recognise: the last letter dropped, or two swapped. */
function typo(key: string): string {
  const swapped = `${key.slice(0, 1)}${key[2]}${key[1]}${key.slice(3)}`;
  return key.length > 4 && swapped !== key ? swapped : key.slice(0, -1);
}

const manifestCases: Case[] = [];
const manifestCase = (
  group: string,
  name: string,
  manifest: Json | string | Buffer,
  field: string,
  shows: string | null,
  extra: Partial<Case> = {},
) =>
  manifestCases.push({
    category: "manifest",
    group,
    name,
    manifest: typeof manifest === "string" || Buffer.isBuffer(manifest) ? manifest : JSON.stringify(manifest, null, 2),
    field,
    shows,
    code: 2,
    ...extra,
  });

/** Where a field's error is reported when not at the field itself: an env value is one of two shapes, so a bad `fromEnv` object is reported whole. */
function reportedAt(path: Path, value: Json): { field: string; shows: string } {
  const [, , section, , key] = path;
  if (section === "env" && key === "fromEnv" && typeof value !== "string") {
    const parent = path.slice(0, -1);
    return { field: `${jsonPath(parent)}:`, shows: show({ fromEnv: value }) };
  }
  return { field: `${jsonPath(path)}:`, shows: show(value) };
}

for (const { path, kind, bad } of FIELDS) {
  for (const value of WRONG_KIND[kind] ?? []) {
    const { field, shows } = reportedAt(path, value);
    manifestCase(
      "a value of the wrong type",
      `${jsonPath(path)} = ${JSON.stringify(value)}`,
      setAt(path, value),
      field,
      shows,
    );
  }
  for (const value of bad) {
    manifestCase(
      "a value that breaks the field's rule",
      `${jsonPath(path)} = ${JSON.stringify(value)}`,
      setAt(path, value),
      `${jsonPath(path)}:`,
      show(value),
    );
  }
}
for (const entry of BAD_ALLOW) {
  const path: Path = ["bottles", "default", "egress", "allow", 1];
  manifestCase(
    "a bad egress.allow entry",
    `allow ${JSON.stringify(entry)}`,
    setAt(path, entry),
    `${jsonPath(path)}:`,
    show(entry),
  );
}
for (const { name, routes, at, shows } of BAD_ROUTES) {
  const path: Path = ["bottles", "default", "egress", "routes", ...at];
  manifestCase(
    "a bad route",
    name,
    setAt(["bottles", "default", "egress", "routes"], routes),
    `${jsonPath(path)}:`,
    shows,
  );
}
for (const bad of BAD_NAMES) {
  manifestCase(
    "a bad bottle, agent or route name",
    `bottle name ${JSON.stringify(bad)}`,
    edit((m) => {
      m.bottles[bad] = m.bottles.default;
      delete m.bottles.default;
      m.agents[AGENT].bottle = bad;
    }),
    `${jsonPath(["bottles", bad])}:`,
    `bottle name ${show(bad)}`,
  );
  manifestCase(
    "a bad bottle, agent or route name",
    `agent name ${JSON.stringify(bad)}`,
    edit((m) => {
      m.agents[bad] = m.agents[AGENT];
    }),
    `${jsonPath(["agents", bad])}:`,
    `agent name ${show(bad)}`,
  );
  const route: Path = ["bottles", "default", "egress", "routes", 0, "name"];
  manifestCase(
    "a bad bottle, agent or route name",
    `route name ${JSON.stringify(bad)}`,
    setAt(route, bad),
    `${jsonPath(route)}:`,
    `route name ${show(bad)}`,
  );
}
for (const { at, keys } of LEVELS) {
  const where = `${jsonPath(at)}:`;
  manifestCase(
    "an unknown key or a typo",
    `unknown key at ${jsonPath(at)}`,
    setAt([...at, "colour"], "blue"),
    where,
    'unknown key "colour"',
  );
  for (const key of keys) {
    const wrong = typo(key);
    // `{ "fromEnv": ... }` is one of two shapes an env value takes: a typo in it makes the whole value no env value.
    const fromEnvShape = at.includes("env");
    manifestCase(
      "an unknown key or a typo",
      `${JSON.stringify(wrong)} for ${jsonPath([...at, key])}`,
      edit((m) => {
        let node = m;
        for (const k of at) node = node[k];
        node[wrong] = node[key];
        delete node[key];
      }),
      where,
      fromEnvShape
        ? `${show({ [wrong]: "GH_TOKEN" })} is not an env value`
        : `unknown key ${JSON.stringify(wrong)}; did you mean ${JSON.stringify(key)}?`,
    );
  }
}

// Rules across fields.
manifestCase(
  "a value that breaks the field's rule",
  "bottles = {}",
  setAt(["bottles"], {}),
  "bottles:",
  "no bottles defined",
);
manifestCase(
  "a value that breaks the field's rule",
  "agents = {}",
  setAt(["agents"], {}),
  "agents:",
  "no agents defined",
);
manifestCase(
  "a rule across fields",
  "an agent naming a missing bottle",
  setAt(["agents", AGENT, "bottle"], "nowhere"),
  "agents.faulty.bottle:",
  '"nowhere" is not a bottle in this manifest',
);
manifestCase(
  "a rule across fields",
  "an agent naming a bottle with a typo",
  setAt(["agents", AGENT, "bottle"], "defualt"),
  "agents.faulty.bottle:",
  'did you mean "default"?',
);
manifestCase(
  "a rule across fields",
  "both image and dockerfile",
  setAt(["bottles", "default", "dockerfile"], "agent.Dockerfile"),
  "bottles.default:",
  'has both "image" and "dockerfile"',
);
manifestCase(
  "a rule across fields",
  "buildArgs with an image",
  setAt(["bottles", "default", "buildArgs"], { BASE_IMAGE: "x" }),
  "bottles.default.buildArgs:",
  "build args only apply",
);
manifestCase(
  "a rule across fields",
  "capabilityBlock without supervise",
  setAt(["bottles", "default", "supervise"], false),
  "bottles.default.capabilityBlock:",
  'set "supervise": true',
);
manifestCase(
  "a rule across fields",
  "maxRebuilds without supervise",
  setAt(["bottles", "default", "supervise"], undefined),
  "bottles.default.maxRebuilds:",
  'set "supervise": true',
);
manifestCase(
  "a rule across fields",
  "capabilityBlock alone on a bottle",
  edit((m) => {
    m.bottles.builder.capabilityBlock = "rebuild";
  }),
  "bottles.builder.capabilityBlock:",
  "only applies to a supervised bottle",
);
// Rules the plan checks (still before anything is created).
manifestCase(
  "a rule across fields",
  "env passes the injected credential",
  setAt(["bottles", "default", "env", "KEY"], { fromEnv: "ANTHROPIC_API_KEY" }),
  "bottles.default.env.KEY.fromEnv:",
  '"ANTHROPIC_API_KEY" is the credential a route injects',
);
manifestCase(
  "a rule across fields",
  "env holds the credential's value",
  setAt(["bottles", "default", "env", "KEY"], `prefix-${SECRET}`),
  "bottles.default.env.KEY:",
  '"(redacted)" contains the credential',
);
manifestCase(
  "a rule across fields",
  "env sets a gate variable",
  setAt(["bottles", "default", "env", "HTTPS_PROXY"], "http://evil.test"),
  "bottles.default.env.HTTPS_PROXY:",
  '"HTTPS_PROXY" is set by the gate',
);
manifestCase(
  "a rule across fields",
  "env from an unset variable",
  setAt(["bottles", "default", "env", "GH", "fromEnv"], "NOT_SET_ANYWHERE"),
  "bottles.default.env.GH.fromEnv:",
  '"NOT_SET_ANYWHERE" is not set',
);
manifestCase(
  "a rule across fields",
  "a dockerfile that is not there",
  setAt(["agents", AGENT, "bottle"], "builder"),
  "bottles.builder.dockerfile:",
  '"agent.Dockerfile" cannot be read',
);

// The file itself.
const good = JSON.stringify(VALID, null, 2);
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
const RAW: { name: string; bytes: string | Buffer; field: string; shows: string }[] = [
  { name: "a 0-byte file", bytes: "", field: "(file):", shows: "is empty" },
  { name: "only whitespace", bytes: " \n\t\n", field: "(file):", shows: "is empty" },
  { name: "only a byte order mark", bytes: "\uFEFF", field: "(file):", shows: "is empty" },
  {
    name: "truncated in the middle",
    bytes: good.slice(0, Math.floor(good.length / 2)),
    field: "(file):",
    shows: "not valid JSON",
  },
  { name: "truncated by one byte", bytes: good.slice(0, -1), field: "(file):", shows: "not valid JSON" },
  { name: "a top-level array", bytes: "[]", field: "(root):", shows: "[] is an array; expected an object" },
  {
    name: "a top-level array of the manifest",
    bytes: `[${good}]`,
    field: "(root):",
    shows: "is an array; expected an object",
  },
  {
    name: "a top-level string",
    bytes: '"claude"',
    field: "(root):",
    shows: '"claude" is a string; expected an object',
  },
  { name: "a top-level number", bytes: "42", field: "(root):", shows: "42 is a number; expected an object" },
  { name: "a top-level null", bytes: "null", field: "(root):", shows: "null is null; expected an object" },
  { name: "a top-level true", bytes: "true", field: "(root):", shows: "true is a boolean; expected an object" },
  { name: "an empty object", bytes: "{}", field: "bottles:", shows: "missing" },
  { name: "a trailing comma", bytes: good.replace(/\n}$/, ",\n}"), field: "(file):", shows: "not valid JSON" },
  { name: "comments", bytes: `// my agents\n${good}`, field: "(file):", shows: "not valid JSON at line 1" },
  { name: "single quotes", bytes: good.replaceAll('"', "'"), field: "(file):", shows: "not valid JSON" },
  { name: "two documents", bytes: `${good}\n${good}`, field: "(file):", shows: "not valid JSON" },
  { name: "NaN", bytes: good.replace('"cpus": 1', '"cpus": NaN'), field: "(file):", shows: "not valid JSON" },
  { name: "a NUL byte", bytes: good.replace('"image"', '"im\u0000age"'), field: "(file):", shows: "not valid JSON" },
  {
    name: "invalid UTF-8 between tokens",
    bytes: Buffer.concat([Buffer.from("{"), Buffer.from([0xff, 0xfe]), Buffer.from(good.slice(1))]),
    field: "(file):",
    shows: "not valid JSON at line 1, column 2",
  },
  {
    name: "invalid UTF-8 in a key",
    bytes: Buffer.concat([Buffer.from('{"'), Buffer.from([0xc3, 0x28]), Buffer.from(`":1,${good.slice(1)}`)]),
    field: "(root):",
    shows: "unknown key",
  },
  {
    name: "a byte order mark and a bad field",
    bytes: `\uFEFF${JSON.stringify(setAt(["bottles", "default", "limits", "cpus"], "2"))}`,
    field: "bottles.default.limits.cpus:",
    shows: '"2" is a string',
  },
  {
    name: "5000 nested arrays",
    bytes: `${"[".repeat(5000)}${"]".repeat(5000)}`,
    field: "(file):",
    shows: "nested more than",
  },
  {
    name: "100 nested objects inside env",
    bytes: JSON.stringify(setAt(["bottles", "default", "env"], "@@")).replace('"@@"', deepObject(100)),
    field: "(file):",
    shows: "nested more than",
  },
  { name: "100000 nested objects", bytes: deepObject(100_000), field: "(file):", shows: "nested more than" },
];
for (const { name, bytes, field, shows } of RAW) manifestCase("a broken file", name, bytes, field, shows);

// --- node runner -----------------------------------------------------------------------------

const goodManifest = join(dir, "good.json");
writeFileSync(goodManifest, good);
const aFile = join(dir, "a-file.txt");
writeFileSync(aFile, "not a directory\n");

const COMMANDS = ["start", "resume", "list", "cleanup", "demo"] as const;
/** Which flags each command takes, and a value that would be fine for each. */
const FLAGS: Record<string, string | null> = {
  prompt: "x",
  manifest: goodManifest,
  workspace: workspace,
  format: "json",
  "dry-run": null,
  "snapshot-interval": "30s",
  "capability-block": "preserve",
  "max-rebuilds": "1",
  force: null,
};
const TAKES: Record<(typeof COMMANDS)[number], string[]> = {
  start: [
    "prompt",
    "manifest",
    "workspace",
    "format",
    "dry-run",
    "snapshot-interval",
    "capability-block",
    "max-rebuilds",
  ],
  resume: ["prompt", "workspace", "format", "dry-run", "snapshot-interval", "capability-block", "max-rebuilds"],
  list: ["format"],
  cleanup: ["format", "force"],
  demo: ["format"],
};
/** The rest of a command line that is fine, so the injected mistake is the only one. */
const REST: Record<(typeof COMMANDS)[number], string[]> = {
  start: [AGENT, "--manifest", goodManifest, "--prompt", "x"],
  resume: ["faulty-zzzzz"],
  list: [],
  cleanup: [],
  demo: [],
};

const BAD_IDENTITIES = [
  "../x",
  "../../etc/passwd",
  "..",
  ".",
  "/abs",
  "claude/abcde",
  "claude\\abcde",
  "Claude-ABCDE",
  "CLAUDE",
  "a".repeat(64),
  "-abc",
  "claude_abcde",
  "claude.abcde",
  "claude abcde",
  "claude\tabc",
  "claude$(id)",
  "claude;rm",
  "claude`id`",
  "~root",
  "ｃｌａｕｄｅ",
  "claude\u00e9",
  "claude\nabc",
];

const cliCases: Case[] = [];
const cliCase = (
  group: string,
  name: string,
  args: string[],
  field: string,
  shows: string | null,
  extra: Partial<Case> = {},
) => cliCases.push({ category: "cli", group, name, args, field, shows, code: 2, ...extra });

for (const command of ["launch", "START", "run", "stop", "rm", "", "--prompt", "-x", "help-me", "lists"]) {
  cliCase(
    "an unknown command",
    JSON.stringify(command),
    [command, "--prompt", "x"],
    "command:",
    JSON.stringify(command),
  );
}
for (const command of COMMANDS) {
  for (const flag of ["--colour", "--promt", "-x", "--PROMPT"]) {
    cliCase(
      "an unknown flag",
      `${command} ${flag}`,
      [command, ...REST[command], flag],
      `${flag}:`,
      `${JSON.stringify(flag)} is not understood`,
    );
  }
  // A flag of the command that takes no value, given one: the message must not say the command lacks the flag.
  if (TAKES[command].includes("dry-run")) {
    cliCase(
      "a flag without its value",
      `${command} --dry-run=yes`,
      [command, ...REST[command], "--dry-run=yes"],
      "--dry-run:",
      "yes",
      {},
    );
  }
  for (const flag of Object.keys(FLAGS).filter((f) => !TAKES[command].includes(f))) {
    const value = FLAGS[flag] ?? null;
    cliCase(
      "a flag of another command",
      `${command} --${flag}`,
      [command, ...REST[command], `--${flag}`, ...(value === null ? [] : [value])],
      `--${flag}:`,
      `is not a flag of \`${command}\``,
    );
  }
  for (const flag of TAKES[command].filter((f) => FLAGS[f] !== null)) {
    cliCase(
      "a flag without its value",
      `${command} --${flag} at the end`,
      [command, ...REST[command], `--${flag}`],
      `--${flag}:`,
      "(missing) needs a value",
    );
  }
}
cliCase(
  "a flag without its value",
  "start --manifest followed by another flag",
  ["start", AGENT, "--manifest", "--prompt", "x"],
  "--manifest:",
  "needs a value",
  {},
);
for (const positional of [["start"], ["resume"], ["start", "a", "b"], ["resume", "a-1", "b-2"], ["list", "x"]]) {
  const [command] = positional as [string];
  cliCase(
    "missing or extra arguments",
    positional.join(" "),
    [...positional, ...(command === "start" ? ["--prompt", "x"] : [])],
    `${command}:`,
    positional.length === 1 ? "(missing)" : JSON.stringify(positional.slice(2).join(" ") || positional[1]),
  );
}
for (const prompt of ["", " ", "\n\t"]) {
  cliCase(
    "an empty prompt",
    `start --prompt ${JSON.stringify(prompt)}`,
    ["start", AGENT, "--prompt", prompt],
    "--prompt:",
    `${JSON.stringify(prompt)} is empty`,
  );
  cliCase(
    "an empty prompt",
    `resume --prompt ${JSON.stringify(prompt)}`,
    ["resume", "faulty-zzzzz", "--prompt", prompt],
    "--prompt:",
    `${JSON.stringify(prompt)} is empty`,
  );
}
cliCase("an empty prompt", "start without --prompt", ["start", AGENT], "--prompt:", "(missing) is required");
for (const format of ["yaml", "JSON", "", "text,json", "html"]) {
  for (const command of ["start", "list"] as const) {
    cliCase(
      "a bad --format",
      `${command} --format ${JSON.stringify(format)}`,
      [command, ...REST[command], "--format", format],
      "--format:",
      JSON.stringify(format),
    );
  }
}
for (const interval of ["often", "5", "10ms", "999ms", "0s", "", "1m30h", "1.5s"]) {
  cliCase(
    "a bad --snapshot-interval",
    JSON.stringify(interval),
    ["start", AGENT, "--prompt", "x", "--snapshot-interval", interval],
    "--snapshot-interval:",
    JSON.stringify(interval),
  );
}
cliCase(
  "a bad --snapshot-interval",
  '"-1s" (a value starting with -)',
  ["start", AGENT, "--prompt", "x", "--snapshot-interval", "-1s"],
  "--snapshot-interval:",
  '"-1s"',
);
cliCase(
  "a bad --capability-block or --max-rebuilds",
  "--max-rebuilds -1 (a value starting with -)",
  ["start", AGENT, "--prompt", "x", "--max-rebuilds", "-1"],
  "--max-rebuilds:",
  '"-1"',
);
for (const command of ["start", "resume"] as const) {
  for (const policy of ["approve", "ask", "PRESERVE", ""]) {
    cliCase(
      "a bad --capability-block or --max-rebuilds",
      `${command} --capability-block ${JSON.stringify(policy)}`,
      [command, ...REST[command], "--capability-block", policy],
      "--capability-block:",
      JSON.stringify(policy),
    );
  }
  for (const count of ["11", "-1", "two", "1.5", "", "1e1", "0x2"]) {
    cliCase(
      "a bad --capability-block or --max-rebuilds",
      `${command} --max-rebuilds ${JSON.stringify(count)}`,
      [command, ...REST[command], `--max-rebuilds=${count}`],
      "--max-rebuilds:",
      JSON.stringify(count),
    );
  }
}
for (const identity of [...BAD_IDENTITIES, ""]) {
  // An argument starting with - is an option to any parser; the user learns which.
  const [field, shows] = identity.startsWith("-")
    ? [`${identity.slice(0, 2)}:`, "is not understood by `resume`"]
    : ["identity:", JSON.stringify(identity)];
  cliCase("a bad identity for resume", JSON.stringify(identity), ["resume", identity], field, shows);
}
for (const identity of BAD_IDENTITIES.filter((i) => !i.startsWith("-") && i !== "")) {
  cliCase(
    "a bad identity for cleanup",
    JSON.stringify(identity),
    ["cleanup", identity],
    "identity:",
    JSON.stringify(identity),
  );
}
cliCase(
  "a bad identity for cleanup",
  "--force with no identity",
  ["cleanup", "--force"],
  "--force:",
  "needs the bottles it removes",
);
cliCase(
  "a bad identity for resume",
  "an identity with no state",
  ["resume", "faulty-zzzzz"],
  "identity:",
  '"faulty-zzzzz" has no saved state',
  { identity: "faulty-zzzzz" },
);
for (const agent of ["Claude", "my agent", "-lead", "a".repeat(41), "under_score", ""]) {
  const [field, shows] = agent.startsWith("-")
    ? [`${agent.slice(0, 2)}:`, "is not understood by `start`"]
    : ["agent:", JSON.stringify(agent)];
  cliCase("a bad agent", `start ${JSON.stringify(agent)}`, ["start", agent, "--prompt", "x"], field, shows);
}
cliCase(
  "a bad agent",
  "an agent the manifest lacks",
  ["start", "robot", "--manifest", goodManifest, "--prompt", "x"],
  "agent:",
  '"robot" is not an agent',
);
for (const [name, path, shows] of [
  ["a workspace that does not exist", "/nonexistent/workspace", '"/nonexistent/workspace" is not a directory'],
  ["a workspace that is a file", aFile, `${JSON.stringify(aFile)} is not a directory`],
  ["an empty workspace", "", '"" is empty'],
] as const) {
  cliCase(
    "a bad --workspace or --manifest",
    name,
    [...["start", ...REST.start], "--workspace", path],
    "--workspace:",
    shows,
  );
}
cliCase(
  "a bad --workspace or --manifest",
  "a manifest that does not exist",
  ["start", AGENT, "--manifest", "/nonexistent/claude-bottle.json", "--prompt", "x"],
  "(file):",
  "no such file",
);
cliCase(
  "a bad --workspace or --manifest",
  "a manifest that is a directory",
  ["start", AGENT, "--manifest", dir, "--prompt", "x"],
  "(file):",
  "is a directory",
);
cliCase(
  "a bad --workspace or --manifest",
  "an empty manifest path",
  ["start", AGENT, "--manifest", "", "--prompt", "x"],
  "--manifest:",
  '"" is empty',
);
cliCase("a bad environment", "an unknown pause point", ["start", ...REST.start], "CLAUDE_BOTTLE_PAUSE_AT:", '"lunch"', {
  env: { CLAUDE_BOTTLE_PAUSE_AT: "lunch" },
});

// --- the action ------------------------------------------------------------------------------

const actionCases: Case[] = [];
const START = { prompt: "x", agent: AGENT, manifest: "claude-bottle.json", "save-state": "none" };
const actionCase = (
  group: string,
  name: string,
  inputs: Record<string, string>,
  field: string,
  shows: string | null,
  extra: Partial<Case> = {},
) => actionCases.push({ category: "action", group, name, inputs, field, shows, code: 1, ...extra });

for (const mode of ["restart", "START", "resume,start", "1", "continue"]) {
  actionCase(
    "a bad mode or identity",
    `mode ${JSON.stringify(mode)}`,
    { ...START, mode },
    "mode:",
    JSON.stringify(mode),
  );
}
actionCase(
  "a bad mode or identity",
  "resume without identity",
  { mode: "resume" },
  "identity:",
  "is required in mode: resume",
);
actionCase(
  "a bad mode or identity",
  "identity in start mode",
  { ...START, identity: "faulty-abcde" },
  "identity:",
  '"faulty-abcde" is only read in mode: resume',
);
for (const identity of BAD_IDENTITIES.filter((i) => i.trim() === i)) {
  actionCase(
    "a bad mode or identity",
    `identity ${JSON.stringify(identity)}`,
    { mode: "resume", identity },
    "identity:",
    JSON.stringify(identity),
  );
}
for (const timeout of ["soon", "30", "0s", "-5m", "5 minutes", "1m30h", `${"9".repeat(30)}d`]) {
  actionCase(
    "a bad timeout, save-state, fail-on or artifact-name",
    `timeout ${JSON.stringify(timeout)}`,
    { ...START, timeout },
    "timeout:",
    JSON.stringify(timeout),
  );
}
for (const saveState of ["s3", "CACHE", "cache,artifact", "true", "artifact"]) {
  actionCase(
    "a bad timeout, save-state, fail-on or artifact-name",
    `save-state ${JSON.stringify(saveState)}`,
    { ...START, "save-state": saveState },
    "save-state:",
    JSON.stringify(saveState),
  );
}
for (const [failOn, bad] of [
  ["explode", "explode"],
  ["crashed,explode", "explode"],
  ["never,crashed", "never"],
  ["Crashed", "Crashed"],
  ["crashed;timeout", "crashed;timeout"],
  ["success failure", "failure"],
] as const) {
  actionCase(
    "a bad timeout, save-state, fail-on or artifact-name",
    `fail-on ${JSON.stringify(failOn)}`,
    { ...START, "fail-on": failOn },
    "fail-on:",
    JSON.stringify(bad),
  );
}
for (const name of ["a/b", "a:b", "a\\b", 'a"b', "a<b", "a>b", "a|b", "a*b", "a?b", "a\nb", "x".repeat(201)]) {
  actionCase(
    "a bad timeout, save-state, fail-on or artifact-name",
    `artifact-name ${JSON.stringify(name).slice(0, 20)}`,
    { ...START, "artifact-name": name },
    "artifact-name:",
    show(name).slice(0, 60),
  );
}
actionCase("a bad prompt or credential", "no prompt", { agent: AGENT }, "prompt:", "is required to start a bottle");
actionCase(
  "a bad prompt or credential",
  "a blank prompt",
  { ...START, prompt: "  \n " },
  "prompt:",
  "is required to start a bottle",
);
actionCase(
  "a bad prompt or credential",
  "prompt and prompt-file",
  { ...START, "prompt-file": "task.md" },
  "prompt-file:",
  '"task.md" is given together with prompt',
  { files: { "task.md": "do it\n" } },
);
actionCase(
  "a bad prompt or credential",
  "a missing prompt-file",
  { agent: AGENT, "prompt-file": "missing.md" },
  "prompt-file:",
  '"missing.md" cannot be read',
);
actionCase(
  "a bad prompt or credential",
  "a prompt-file that is a directory",
  { agent: AGENT, "prompt-file": "." },
  "prompt-file:",
  '"." cannot be read',
);
actionCase(
  "a bad prompt or credential",
  "an empty prompt-file",
  { agent: AGENT, "prompt-file": "blank.md" },
  "prompt-file:",
  '"blank.md" is empty',
  { files: { "blank.md": " \n" } },
);
actionCase(
  "a bad prompt or credential",
  "both credentials",
  { ...START, "anthropic-api-key": "k", "claude-code-oauth-token": "t" },
  "claude-code-oauth-token:",
  "is given together with anthropic-api-key",
);
for (const agent of ["My Agent", "UPPER", "-lead", "a".repeat(41), "a_b", "../x"]) {
  actionCase(
    "a bad agent, id, policy or manifest",
    `agent ${JSON.stringify(agent)}`,
    { ...START, agent },
    "agent:",
    JSON.stringify(agent),
  );
}
actionCase(
  "a bad agent, id, policy or manifest",
  "an id over 200 characters",
  { ...START, id: "x".repeat(201) },
  "id:",
  `"${"x".repeat(50)}`,
);
for (const policy of ["approve", "ask", "PRESERVE", "1"]) {
  actionCase(
    "a bad agent, id, policy or manifest",
    `capability-block ${JSON.stringify(policy)}`,
    { ...START, "capability-block": policy },
    "capability-block:",
    JSON.stringify(policy),
  );
}
for (const count of ["11", "-1", "many", "1.5", "99"]) {
  actionCase(
    "a bad agent, id, policy or manifest",
    `max-rebuilds ${JSON.stringify(count)}`,
    { ...START, "max-rebuilds": count },
    "max-rebuilds:",
    JSON.stringify(count),
  );
}
actionCase(
  "a bad agent, id, policy or manifest",
  "a manifest that is not there",
  { ...START, manifest: "nope.json" },
  "(file):",
  "no such file",
);
actionCase(
  "a bad agent, id, policy or manifest",
  "an agent the manifest lacks",
  { ...START, agent: "robot" },
  "agent:",
  '"robot" is not an agent',
);
for (const { name, manifest, field, shows } of [
  {
    name: "a manifest with a wrong type",
    manifest: setAt(["bottles", "default", "limits", "cpus"], "2"),
    field: "bottles.default.limits.cpus:",
    shows: '"2" is a string',
  },
  {
    name: "a manifest with an unknown key",
    manifest: setAt(["bottles", "default", "egress", "colour"], 1),
    field: "bottles.default.egress:",
    shows: 'unknown key "colour"',
  },
  {
    name: "a manifest with a bad route",
    manifest: setAt(["bottles", "default", "egress", "routes", 0, "upstream"], "ftp://x.test"),
    field: "bottles.default.egress.routes[0].upstream:",
    shows: '"ftp://x.test" uses ftp',
  },
  { name: "a truncated manifest", manifest: good.slice(0, 100), field: "(file):", shows: "not valid JSON" },
]) {
  actionCase("a bad agent, id, policy or manifest", name, { ...START }, field, shows, {
    files: { "claude-bottle.json": typeof manifest === "string" ? manifest : JSON.stringify(manifest) },
  });
}
actionCase(
  "a bad agent, id, policy or manifest",
  "an unknown pause point",
  { ...START },
  "CLAUDE_BOTTLE_PAUSE_AT:",
  '"lunch"',
  { env: { CLAUDE_BOTTLE_PAUSE_AT: "lunch" } },
);

// --- running them ----------------------------------------------------------------------------

const JOB_ENV = {
  GITHUB_REPOSITORY: "octo/widgets",
  GITHUB_WORKFLOW_REF: "octo/widgets/.github/workflows/agent.yml@refs/heads/main",
  GITHUB_REF: "refs/heads/main",
  GITHUB_JOB: "agent",
  GITHUB_ACTION: "bottle",
  GITHUB_RUN_ID: "4242",
  GITHUB_RUN_ATTEMPT: "1",
};

let counter = 0;
async function runCase(c: Case): Promise<Ran> {
  const caseDir = join(dir, `case-${counter++}`);
  const cwd = join(caseDir, "workspace");
  mkdirSync(cwd, { recursive: true });
  if (c.category === "manifest") {
    const file = join(caseDir, "claude-bottle.json");
    writeFileSync(file, c.manifest ?? "");
    return run(NODE, [RUNNER, "start", AGENT, "--manifest", file, "--prompt", "x", "--format", "json"], {
      env: { ...baseEnv, ...c.env },
      cwd,
    });
  }
  if (c.category === "cli") return run(NODE, [RUNNER, ...(c.args ?? [])], { env: { ...baseEnv, ...c.env }, cwd });
  writeFileSync(join(cwd, "claude-bottle.json"), good);
  for (const [name, content] of Object.entries(c.files ?? {})) writeFileSync(join(cwd, name), content);
  const files = {
    GITHUB_OUTPUT: join(caseDir, "output"),
    GITHUB_STATE: join(caseDir, "state"),
    GITHUB_STEP_SUMMARY: join(caseDir, "summary"),
  };
  for (const f of Object.values(files)) writeFileSync(f, "");
  const runnerTemp = join(caseDir, "temp");
  mkdirSync(runnerTemp);
  const inputs = Object.fromEntries(
    Object.entries(c.inputs ?? {}).map(([k, v]) => [`INPUT_${k.replace(/ /g, "_").toUpperCase()}`, v]),
  );
  const env = {
    PATH: process.env.PATH,
    HOME: caseDir,
    RUNNER_TEMP: runnerTemp,
    GITHUB_WORKSPACE: cwd,
    ...JOB_ENV,
    ...files,
    ...inputs,
    ...c.env,
  };
  return run(NODE, [join(ROOT, "dist", "main", "index.js")], { env, cwd });
}

/** The identity a start through the action derives for this case, when its agent is a valid name. */
function actionIdentity(c: Case): string | undefined {
  const inputs = c.inputs ?? {};
  if (inputs.mode === "resume")
    return /^[a-z0-9][a-z0-9-]{0,62}$/.test(inputs.identity ?? "") ? inputs.identity : undefined;
  const agent = (inputs.agent ?? "claude").trim() || "claude";
  if (!/^[a-z0-9][a-z0-9-]{0,39}$/.test(agent)) return undefined;
  return deriveIdentity(jobContext(JOB_ENV), agent, (inputs.id ?? "").trim());
}

interface Outcome {
  ran: Ran;
  /** Labelled resources new after the batch that carry this case's process or identity. */
  made: Resource[];
}

const keys = new Map<Case, string>();
const keyOf = (c: Case): string => {
  if (!keys.has(c)) keys.set(c, `${keys.size}`);
  return keys.get(c) as string;
};
const results = new Map<string, { category: Category; group: string; passed: boolean }>();
const unrelated: string[] = [];

function batch(category: Category, cases: Case[]): void {
  const outcomes = new Map<Case, Outcome>();
  let before: Resource[] = [];
  let after: Resource[] = [];

  beforeAll(async () => {
    before = inventory();
    const ran = await pool(cases, 4, runCase);
    after = inventory();
    const fresh = added(before, after);
    cases.forEach((c, i) => {
      const r = ran[i] as Ran;
      outcomes.set(c, {
        ran: r,
        made: madeBy(fresh, {
          pid: r.pid,
          identities: [c.identity, c.category === "action" ? actionIdentity(c) : undefined],
        }),
      });
    });
    const ours = new Set(cases.flatMap((c) => outcomes.get(c)?.made ?? []));
    const others = fresh.filter((r) => !ours.has(r));
    if (others.length > 0) unrelated.push(`${category}: ${describeResources(others)}`);
  }, 600_000);

  const check = (c: Case) => {
    const key = keyOf(c);
    results.set(key, { category, group: c.group, passed: false });
    const { ran, made } = outcomes.get(c) as Outcome;
    const shown = `exit ${ran.code}${ran.signal ? ` (${ran.signal})` : ""}, ${ran.ms} ms:\n${ran.out}`;
    expect(ran.code, shown).toBe(c.code);
    const line = ran.out.split("\n").find((l) => l.includes(c.field) && (c.shows === null || l.includes(c.shows)));
    expect(line, `a line naming ${c.field} and showing ${c.shows}\n${shown}`).toBeDefined();
    expect(stackTrace(ran.out), shown).toBeNull();
    if (c.category === "action") expect(ran.out, shown).toMatch(/^::error::/m);
    expect(describeResources(made), "Docker resources the case created").toBe("");
    results.set(key, { category, group: c.group, passed: true });
  };

  test.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => check(c));

  test("no labelled container, network or image is left that the batch made", () => {
    const fresh = added(before, after);
    const ours = fresh.filter((r) => cases.some((c) => outcomes.get(c)?.made.includes(r)));
    expect(describeResources(ours)).toBe("");
  });
}

describe("the base manifest is valid", () => {
  test("`start --dry-run` accepts it, so every manifest case fails for the fault it injects", async () => {
    const ran = await run(
      NODE,
      [RUNNER, "start", AGENT, "--manifest", goodManifest, "--prompt", "x", "--dry-run", "--format", "json"],
      { env: baseEnv, cwd: workspace },
    );
    expect(ran.code, ran.out).toBe(0);
  });
});

describe.each([
  ["manifest", manifestCases],
  ["cli", cliCases],
  ["action", actionCases],
] as const)("malformed %s input", (category, cases) => {
  batch(category, cases);
});

test("at least 200 malformed inputs are tried", () => {
  expect(manifestCases.length + cliCases.length + actionCases.length).toBeGreaterThanOrEqual(200);
});

afterAll(() => {
  const groups = new Map<string, { category: string; group: string; cases: number; passed: number }>();
  for (const c of [...manifestCases, ...cliCases, ...actionCases]) {
    const key = `${c.category}\u0000${c.group}`;
    const row = groups.get(key) ?? { category: c.category, group: c.group, cases: 0, passed: 0 };
    const result = results.get(keyOf(c));
    row.cases++;
    if (result?.passed) row.passed++;
    groups.set(key, row);
  }
  const rows = [...groups.values()].map((g) => [
    g.category,
    g.group,
    g.cases,
    g.passed === g.cases ? "yes" : `no: ${g.cases - g.passed} failed`,
  ]);
  const total = [...groups.values()].reduce((n, g) => n + g.cases, 0);
  console.log(table(`Malformed input: ${total} cases`, ["category", "fault", "cases", "all passed"], rows));
  if (unrelated.length > 0)
    console.log(`labelled resources created meanwhile by other processes (not counted): ${unrelated.join("; ")}`);
});
