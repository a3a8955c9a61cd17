/**
 * Hundreds of malformed inputs, generated: manifests (a wrong value at every field,
 * unknown keys at every level, broken JSON), `node runner` invocations and action
 * inputs. Each must end in a clear error that names the field and shows the value
 * (or says it is missing), with no stack trace, the documented exit code, and no
 * Docker resource created.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { NODE, ROOT, RUNNER, labelled } from "../support/runner.js";
import { printTableAfterAll, record } from "./report.js";

const STACK = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;

interface Ran {
  code: number | null;
  out: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Ran> {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    child.on("close", (code) => resolveRun({ code, out }));
  });
}

const dir = mkdtempSync(join(tmpdir(), "bad-input-"));
const baseEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, CLAUDE_BOTTLE_HOME: join(dir, "home"), ANTHROPIC_API_KEY: "sk-ant-bad-input-test" };

const VALID = {
  bottles: {
    default: {
      egress: {
        allow: ["registry.npmjs.org"],
        routes: [{ name: "anthropic", upstream: "https://api.anthropic.com", inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" }, role: "anthropic" }],
      },
      limits: { memory: "1g", cpus: 1, pids: 64, timeout: "5m" },
      supervise: true,
      capabilityBlock: "preserve",
    },
  },
  agents: { claude: { bottle: "default", prompt: "be careful", model: "claude-sonnet-4-5", maxTurns: 5 } },
};

type Json = unknown;
function withValue(path: string[], value: Json): Json {
  const copy = structuredClone(VALID) as Record<string, Json>;
  let node = copy as Record<string, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, Json>;
  node[path[path.length - 1] as string] = value;
  return copy;
}

/** Fields and a wrong value of each kind for them; the error must name the field's path. */
const FIELDS: { path: string[]; bad: Json[] }[] = [
  { path: ["bottles", "default", "image"], bad: [42, "", null, ["node"], { ref: "x" }] },
  { path: ["bottles", "default", "dockerfile"], bad: [42, "", true] },
  { path: ["bottles", "default", "buildArgs"], bad: ["BASE=x", ["x"], { "1BAD": "x" }, { BASE: 3 }] },
  { path: ["bottles", "default", "env"], bad: ["A=1", [1], { "bad name": "x" }, { A: 1 }, { A: { fromEnv: "" } }, { A: { fromEnv: "1X" } }, { A: { from: "X" } }] },
  { path: ["bottles", "default", "egress", "allow"], bad: ["example.com", [42], ["10.0.0.1"], ["https://example.com"], ["example.com:99999"], ["ex*ample.com"], [""], ["[::1]"]] },
  { path: ["bottles", "default", "egress", "mode"], bad: ["block", 1, null] },
  { path: ["bottles", "default", "egress", "tunnelIdle"], bad: ["soon", 5, "-1s"] },
  { path: ["bottles", "default", "egress", "tunnelLifetime"], bad: ["forever", false] },
  { path: ["bottles", "default", "egress", "routes"], bad: ["anthropic", {}, [{}], [{ name: "a" }], [{ name: "Bad Name", upstream: "https://x.test" }], [{ name: "a", upstream: "ftp://x.test" }], [{ name: "a", upstream: "https://user:pw@x.test" }], [{ name: "a", upstream: "https://x.test/?q=1" }], [{ name: "a", upstream: "https://x.test/#f" }], [{ name: "a", upstream: "not a url" }], [{ name: "a", upstream: "https://x.test", inject: { header: "host", fromEnv: "K" } }], [{ name: "a", upstream: "https://x.test", inject: { header: "x-key", fromEnv: "bad-name" } }], [{ name: "a", upstream: "https://x.test", role: "openai" }], [{ name: "a", upstream: "https://x.test", role: "anthropic" }, { name: "b", upstream: "https://y.test", role: "anthropic" }], [{ name: "a", upstream: "https://x.test" }, { name: "a", upstream: "https://y.test" }]] },
  { path: ["bottles", "default", "limits", "memory"], bad: ["lots", 4096, "4m", "-1g", "4 GB"] },
  { path: ["bottles", "default", "limits", "cpus"], bad: [0, -1, 65, "2", null] },
  { path: ["bottles", "default", "limits", "pids"], bad: [8, 1.5, "64", -3] },
  { path: ["bottles", "default", "limits", "timeout"], bad: ["soon", 30, "", "5 minutes"] },
  { path: ["bottles", "default", "supervise"], bad: ["yes", 1, null] },
  { path: ["bottles", "default", "capabilityBlock"], bad: ["approve", 1, true, "PRESERVE"] },
  { path: ["bottles", "default", "maxRebuilds"], bad: [-1, 11, "2", 1.5] },
  { path: ["agents", "claude", "bottle"], bad: ["missing", 42, "", "Default", null] },
  { path: ["agents", "claude", "prompt"], bad: [42, ["a"], null] },
  { path: ["agents", "claude", "model"], bad: [42, "", false] },
  { path: ["agents", "claude", "maxTurns"], bad: [0, -1, 10_001, "5", 2.5] },
  { path: ["bottles"], bad: [[], "default", {}, null] },
  { path: ["agents"], bad: [[], "claude", {}, null] },
];

/** Unknown keys at every level: the error names the key where it is. */
const UNKNOWN: { path: string[]; where: string }[] = [
  { path: ["colour"], where: "(root)" },
  { path: ["bottles", "default", "colour"], where: "bottles.default" },
  { path: ["bottles", "default", "egress", "colour"], where: "bottles.default.egress" },
  { path: ["bottles", "default", "limits", "colour"], where: "bottles.default.limits" },
  { path: ["agents", "claude", "colour"], where: "agents.claude" },
];

const RAW: { name: string; text: string | Buffer }[] = [
  { name: "empty file", text: "" },
  { name: "whitespace", text: "  \n" },
  { name: "truncated", text: '{"bottles": {"default": {}' },
  { name: "a top-level array", text: "[]" },
  { name: "a top-level string", text: '"claude"' },
  { name: "a top-level number", text: "42" },
  { name: "null", text: "null" },
  { name: "trailing comma", text: '{"bottles": {"default": {}}, "agents": {"claude": {"bottle": "default"}},}' },
  { name: "comments", text: '// hi\n{"bottles": {"default": {}}, "agents": {"claude": {"bottle": "default"}}}' },
  { name: "single quotes", text: "{'bottles': {}}" },
  { name: "invalid UTF-8", text: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) },
  { name: "deeply nested garbage", text: `${"[".repeat(5000)}${"]".repeat(5000)}` },
  { name: "both image and dockerfile", text: JSON.stringify(withValue(["bottles", "default", "dockerfile"], "Dockerfile")).replace('"egress"', '"image":"node:24","egress"') },
];

interface Case {
  kind: "manifest" | "cli" | "action";
  name: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** What the message must contain: the field, and the value or "missing". */
  names: RegExp;
  code: number;
}

const cases: Case[] = [];
let n = 0;
const manifestFile = (content: string | Buffer): string => {
  const file = join(dir, `m${n++}.json`);
  writeFileSync(file, content);
  return file;
};
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

for (const { path, bad } of FIELDS) {
  for (const value of bad) {
    const file = manifestFile(JSON.stringify(withValue(path, value)));
    cases.push({ kind: "manifest", name: `${path.join(".")} = ${JSON.stringify(value)}`, args: ["start", "claude", "--manifest", file, "--prompt", "x"], names: new RegExp(escape(path.slice(0, 3).join("."))), code: 2 });
  }
}
for (const { path, where } of UNKNOWN) {
  const file = manifestFile(JSON.stringify(withValue(path, "x")));
  cases.push({ kind: "manifest", name: `unknown key ${path.join(".")}`, args: ["start", "claude", "--manifest", file, "--prompt", "x"], names: new RegExp(`${escape(where)}[\\s\\S]*colour|colour[\\s\\S]*${escape(where)}`), code: 2 });
}
for (const { name, text } of RAW) {
  const file = manifestFile(text);
  cases.push({ kind: "manifest", name, args: ["start", "claude", "--manifest", file, "--prompt", "x"], names: new RegExp(escape(file.split("/").pop() as string)), code: 2 });
}

for (const name of ["Default", "my bottle", "-lead", "x".repeat(50), "", "bottle_1", "bottle.1"]) {
  const m = structuredClone(VALID) as { bottles: Record<string, unknown>; agents: { claude: { bottle: string } } };
  m.bottles = { [name]: m.bottles.default };
  m.agents.claude.bottle = name;
  const file = manifestFile(JSON.stringify(m));
  cases.push({ kind: "manifest", name: `bottle name ${JSON.stringify(name)}`, args: ["start", "claude", "--manifest", file, "--prompt", "x"], names: /bottles/, code: 2 });
}
for (const name of ["Claude", "my agent", "-lead", "y".repeat(50), "", "agent_1"]) {
  const m = structuredClone(VALID) as { agents: Record<string, unknown> };
  m.agents = { [name]: m.agents.claude };
  const file = manifestFile(JSON.stringify(m));
  cases.push({ kind: "manifest", name: `agent name ${JSON.stringify(name)}`, args: ["start", "claude", "--manifest", file, "--prompt", "x"], names: /agents/, code: 2 });
}
for (const [where, patch] of [
  ["a route", { colour: "x" }],
  ["an inject", { inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY", colour: "x" } }],
  ["an inject with a bad format", { inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY", format: "Bearer" } }],
  ["an inject with a line break in its header", { inject: { header: "x-api\nkey", fromEnv: "ANTHROPIC_API_KEY" } }],
] as const) {
  const m = structuredClone(VALID) as { bottles: { default: { egress: { routes: Record<string, unknown>[] } } } };
  Object.assign(m.bottles.default.egress.routes[0] as object, patch);
  const file = manifestFile(JSON.stringify(m));
  cases.push({ kind: "manifest", name: `${where}`, args: ["start", "claude", "--manifest", file, "--prompt", "x"], names: /bottles\.default\.egress\.routes/, code: 2 });
}

const good = manifestFile(JSON.stringify(VALID));
const CLI: [string, string[], RegExp][] = [
  ["an unknown command", ["launch"], /command: "launch"/],
  ["no agent", ["start"], /start: \(missing\)/],
  ["no prompt", ["start", "claude"], /--prompt: \(missing\)/],
  ["an empty prompt", ["start", "claude", "--prompt", ""], /--prompt: "" is empty/],
  ["a blank prompt", ["start", "claude", "--prompt", "   "], /--prompt: "   "/],
  ["an uppercase agent", ["start", "Claude", "--prompt", "x"], /agent: "Claude"/],
  ["an agent with a space", ["start", "my agent", "--prompt", "x"], /agent: "my agent"/],
  ["an agent not in the manifest", ["start", "robot", "--manifest", good, "--prompt", "x"], /agent: "robot"/],
  ["two agents", ["start", "a", "b", "--prompt", "x"], /start: "b"/],
  ["an unknown flag", ["start", "claude", "--prompt", "x", "--colour"], /--colour/],
  ["a flag of another command", ["resume", "claude-abcde", "--manifest", good], /--manifest/],
  ["a flag on list", ["list", "--dry-run"], /--dry-run/],
  ["a flag on cleanup", ["cleanup", "--prompt", "x"], /--prompt/],
  ["a bad format", ["start", "claude", "--prompt", "x", "--format", "yaml"], /--format: "yaml"/],
  ["an empty format", ["list", "--format", ""], /--format: ""/],
  ["a bad snapshot interval", ["start", "claude", "--prompt", "x", "--snapshot-interval", "often"], /--snapshot-interval: "often"/],
  ["a too short snapshot interval", ["start", "claude", "--prompt", "x", "--snapshot-interval", "10ms"], /--snapshot-interval: "10ms"/],
  ["a bare number interval", ["start", "claude", "--prompt", "x", "--snapshot-interval", "5"], /--snapshot-interval: "5"/],
  ["a bad policy", ["start", "claude", "--prompt", "x", "--capability-block", "approve"], /--capability-block: "approve"/],
  ["too many rebuilds", ["start", "claude", "--prompt", "x", "--max-rebuilds", "11"], /--max-rebuilds: "11"/],
  ["negative rebuilds", ["start", "claude", "--prompt", "x", "--max-rebuilds=-1"], /--max-rebuilds: "-1"/],
  ["a missing flag value", ["start", "claude", "--prompt"], /--prompt: \(missing\) needs a value/],
  ["a workspace that does not exist", ["start", "claude", "--manifest", good, "--prompt", "x", "--workspace", "/nonexistent/dir"], /--workspace: "\/nonexistent\/dir"/],
  ["a workspace that is a file", ["start", "claude", "--manifest", good, "--prompt", "x", "--workspace", good], /--workspace: /],
  ["a missing manifest", ["start", "claude", "--manifest", "/nonexistent.json", "--prompt", "x"], /\/nonexistent\.json/],
  ["an empty manifest path", ["start", "claude", "--manifest", "", "--prompt", "x"], /--manifest: ""/],
  ["resume without identity", ["resume"], /resume: \(missing\)/],
  ["a traversal identity", ["resume", "../../etc"], /identity: "..\/..\/etc"/],
  ["an uppercase identity", ["resume", "Claude-ABCDE"], /identity: "Claude-ABCDE"/],
  ["a too long identity", ["resume", "a".repeat(80)], /identity: "a+/],
  ["an identity with a slash", ["resume", "claude/abcde"], /identity: "claude\/abcde"/],
  ["an identity with a dot", ["resume", "claude.abcde"], /identity: "claude.abcde"/],
  ["an empty identity", ["resume", ""], /identity: ""/],
  ["an identity with no state", ["resume", "claude-zzzzz"], /identity: "claude-zzzzz" has no saved state/],
  ["an unknown pause point", ["start", "claude", "--manifest", good, "--prompt", "x"], /CLAUDE_BOTTLE_PAUSE_AT: "lunch"/],
];
for (const command of ["start", "resume", "list", "cleanup", "demo"]) {
  const args = command === "start" ? ["start", "claude", "--prompt", "x"] : command === "resume" ? ["resume", "claude-abcde"] : [command];
  CLI.push([`${command} with --format xml`, [...args, "--format", "xml"], /--format: "xml"/]);
  CLI.push([`${command} with a stray short flag`, [...args, "-z"], /-z/]);
}
for (const command of ["list", "cleanup", "demo"]) CLI.push([`${command} with an argument`, [command, "extra"], new RegExp(`${command}: "extra"`)]);
for (const [name, args, names] of CLI) {
  cases.push({ kind: "cli", name, args, names, code: 2, ...(name === "an unknown pause point" ? { env: { CLAUDE_BOTTLE_PAUSE_AT: "lunch" } } : {}) });
}

const ACTION: [string, Record<string, string>, RegExp][] = [
  ["no prompt", {}, /prompt: "" is required/],
  ["a bad mode", { prompt: "x", mode: "restart" }, /mode: "restart"/],
  ["resume without identity", { mode: "resume" }, /identity: "" is required/],
  ["identity in start mode", { prompt: "x", identity: "claude-abcde" }, /identity: "claude-abcde" is only read/],
  ["a traversal identity", { mode: "resume", identity: "../x" }, /identity: "..\/x"/],
  ["an uppercase identity", { mode: "resume", identity: "ABC-DE" }, /identity: "ABC-DE"/],
  ["a bad timeout", { prompt: "x", timeout: "soon" }, /timeout: "soon"/],
  ["a bare number timeout", { prompt: "x", timeout: "30" }, /timeout: "30"/],
  ["a bad save-state", { prompt: "x", "save-state": "s3" }, /save-state: "s3"/],
  ["a bad fail-on", { prompt: "x", "fail-on": "crashed,explode" }, /fail-on: "explode"/],
  ["fail-on never with others", { prompt: "x", "fail-on": "never,crashed" }, /fail-on: "never"/],
  ["a bad artifact name", { prompt: "x", "artifact-name": "a/b" }, /artifact-name: "a\/b"/],
  ["an artifact name with a colon", { prompt: "x", "artifact-name": "a:b" }, /artifact-name: "a:b"/],
  ["prompt and prompt-file", { prompt: "x", "prompt-file": "task.md" }, /prompt-file: "task.md" is given together with prompt/],
  ["a missing prompt-file", { "prompt-file": "missing.md" }, /prompt-file: "missing.md" cannot be read/],
  ["both credentials", { prompt: "x", "anthropic-api-key": "k", "claude-code-oauth-token": "t" }, /claude-code-oauth-token: /],
  ["a bad agent", { prompt: "x", agent: "My Agent" }, /agent: "My Agent"/],
  ["a too long id", { prompt: "x", id: "x".repeat(201) }, /id: "x+/],
  ["a bad policy", { prompt: "x", "capability-block": "ask" }, /capability-block: "ask"/],
  ["bad rebuilds", { prompt: "x", "max-rebuilds": "many" }, /max-rebuilds: "many"/],
  ["too many rebuilds", { prompt: "x", "max-rebuilds": "99" }, /max-rebuilds: "99"/],
  ["a manifest that is not there", { prompt: "x", manifest: "nope.json" }, /nope\.json/],
];
for (const [name, inputs, names] of ACTION) {
  const env = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));
  cases.push({ kind: "action", name, args: [], env, names, code: 1 });
}

const workspace = mkdtempSync(join(tmpdir(), "bad-input-ws-"));
const runnerTemp = mkdtempSync(join(tmpdir(), "bad-input-temp-"));
const githubFiles = () => {
  const f = mkdtempSync(join(tmpdir(), "bad-input-gh-"));
  for (const name of ["output", "state", "summary"]) writeFileSync(join(f, name), "");
  return { GITHUB_OUTPUT: join(f, "output"), GITHUB_STATE: join(f, "state"), GITHUB_STEP_SUMMARY: join(f, "summary") };
};

/** Containers and networks of a `claude` bottle: what any of these cases would have made. */
function claudeResources(): { containers: string[]; networks: string[] } {
  const all = labelled();
  const mine = (name: string) => name.startsWith("claude-bottle-claude-");
  return { containers: all.containers.filter(mine), networks: all.networks.filter(mine) };
}

let before: { containers: string[]; networks: string[] };
beforeAll(() => {
  before = claudeResources();
});
afterAll(() => {
  // Not one of the cases created a container or a network.
  expect(claudeResources()).toEqual(before);
});

printTableAfterAll("Malformed inputs");
const failed = new Map<string, string[]>();

describe.each(["manifest", "cli", "action"] as const)("malformed %s input", (kind) => {
  const mine = cases.filter((c) => c.kind === kind);
  test.concurrent.each(mine)("$name", async (c) => {
    const ran =
      c.kind === "action"
        ? await run(NODE, [join(ROOT, "dist", "main", "index.js")], { ...baseEnv, GITHUB_WORKSPACE: workspace, RUNNER_TEMP: runnerTemp, ...githubFiles(), ...c.env }, workspace)
        : await run(NODE, [RUNNER, ...c.args], { ...baseEnv, ...c.env }, workspace);
    try {
      expect(ran.code, ran.out).toBe(c.code);
      expect(ran.out).toMatch(c.names);
      expect(ran.out, "no stack trace").not.toMatch(STACK);
      expect(ran.out).not.toContain("node:internal");
      if (c.kind === "action") expect(ran.out).toMatch(/^::error::/m);
    } catch (error) {
      failed.set(kind, [...(failed.get(kind) ?? []), c.name]);
      throw error;
    }
  });
  afterAll(() => record(`${mine.length} malformed ${kind} inputs`, "the documented exit code, the field and value named, no stack trace, no Docker resource", failed.has(kind) ? `FAILED: ${[...(failed.get(kind) ?? [])].join("; ")}` : "pass"));
});

test("at least 200 malformed inputs are tried", () => {
  expect(cases.length).toBeGreaterThanOrEqual(200);
});
