/**
 * The preservation matrix end to end with the scriptable fake claude: the built
 * `node runner`, a real engine, real gate and agent containers. Each scenario
 * checks what a user sees: the outcome, the exit code, the state left behind, the
 * work tree, and that no container or network outlives the run.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import {
  agentExecs,
  engineNow,
  FAKE_AGENT_IMAGE,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  runnerContainers,
  runRunner,
  sandbox,
  startRunner,
  waitFor,
  writeManifest,
  walk,
  jsonStart,
} from "../support/runner.js";

const SECRET = `sk-ant-test-${Math.random().toString(36).slice(2)}-real-key`;

function fakeBottle(box: Sandbox, limits: Record<string, unknown> = {}): string {
  return writeManifest(box.dir, {
    bottles: {
      fake: {
        image: FAKE_AGENT_IMAGE,
        env: { GREETING: "hello" },
        egress: {
          routes: [
            {
              name: "anthropic",
              upstream: "http://127.0.0.1:9",
              inject: { header: "x-api-key", fromEnv: "TEST_ANTHROPIC_KEY" },
              role: "anthropic",
            },
          ],
        },
        limits,
      },
    },
    agents: { fixer: { bottle: "fake", prompt: "You fix things." } },
  });
}

let boxes: Sandbox[] = [];
function box(): Sandbox {
  const b = sandbox({ TEST_ANTHROPIC_KEY: SECRET });
  boxes.push(b);
  return b;
}

afterEach(() => {
  // Whatever a scenario did, nothing labelled may be left on the engine.
  const left = labelled();
  boxes = [];
  expect(left).toEqual({ containers: [], networks: [] });
});

describe("how claude ended decides what happens to the state", () => {
  test("clean exit: success, the work tree comes back, the state is removed", async () => {
    const b = box();
    const manifest = fakeBottle(b);
    writeFileSync(join(b.workspace, "input.txt"), "from the host\n");
    const run = await runRunner(
      [
        ...jsonStart("fixer", manifest),
        fake({
          steps: [
            { run: "cat input.txt" },
            { write: { path: "out/result.txt", content: "done\n" } },
            { say: "all done" },
          ],
          end: "success",
        }),
      ],
      b,
    );
    const result = jsonResult(run);
    expect(run.code, run.stderr).toBe(0);
    expect(result).toMatchObject({ outcome: "success", exitCode: 0, preserved: false });
    expect(result.identity).toMatch(/^fixer-[0-9a-z]{5}$/);
    expect(typeof result.sessionId).toBe("string");
    expect(readFileSync(join(b.workspace, "out/result.txt"), "utf8")).toBe("done\n");
    expect(existsSync(String(result.stateDir))).toBe(false);
    expect(run.stderr).toContain("claude: all done");
  });

  test("crash mid-session: preserved with the transcript; resume continues the same session", async () => {
    const b = box();
    const manifest = fakeBottle(b);
    const first = await runRunner(
      [
        ...jsonStart("fixer", manifest),
        fake({
          steps: [{ say: "step one" }, { write: { path: "progress.txt", content: "half\n" } }, { say: "step two" }],
          end: "crash",
        }),
      ],
      b,
    );
    const crashed = jsonResult(first);
    expect(first.code).toBe(1);
    expect(crashed).toMatchObject({ outcome: "crashed", exitCode: 137, preserved: true });
    const stateDir = String(crashed.stateDir);
    const sessionId = String(crashed.sessionId);
    expect(existsSync(join(stateDir, ".preserve"))).toBe(true);
    const transcript = join(stateDir, "transcript/.claude/projects/-home-node-workspace", `${sessionId}.jsonl`);
    expect(readFileSync(transcript, "utf8")).toContain("step two");
    expect(readFileSync(join(stateDir, "workspace/progress.txt"), "utf8")).toBe("half\n");
    expect(JSON.parse(readFileSync(join(stateDir, "metadata.json"), "utf8"))).toMatchObject({
      identity: crashed.identity,
      agent: "fixer",
      sessionId,
      outcome: "crashed",
      exitCode: 137,
    });
    expect(first.stdout + first.stderr).toContain(`node runner resume ${String(crashed.identity)}`);
    // The host work tree is not touched by a run that did not finish.
    expect(existsSync(join(b.workspace, "progress.txt"))).toBe(false);

    const second = await runRunner(["resume", String(crashed.identity), "--format", "json"], b);
    const resumed = jsonResult(second);
    expect(second.code, second.stderr).toBe(0);
    expect(resumed).toMatchObject({ identity: crashed.identity, outcome: "success", sessionId, preserved: false });
    expect(second.stderr).toMatch(new RegExp(`resumed session ${sessionId} with [1-9]\\d* earlier entries`));
    // The work done before the crash came back with the resumed bottle and landed on success.
    expect(readFileSync(join(b.workspace, "progress.txt"), "utf8")).toBe("half\n");
    expect(existsSync(stateDir)).toBe(false);
  });

  test.each([
    ["an error result with exit 0 (API error)", "error-result", 0],
    ["max turns: exit 1 with a result", "max-turns", 1],
  ])("%s: outcome error, preserved", async (_name, end, claudeExit) => {
    const b = box();
    const run = await runRunner([...jsonStart("fixer", fakeBottle(b)), fake({ steps: [{ say: "trying" }], end })], b);
    expect(run.code).toBe(1);
    const result = jsonResult(run);
    expect(result).toMatchObject({ outcome: "error", exitCode: claudeExit, preserved: true });
    expect(existsSync(join(String(result.stateDir), "transcript/.claude"))).toBe(true);
  });

  test("timeout: claude is stopped, the state preserved", async () => {
    const b = box();
    const run = await runRunner(
      [
        ...jsonStart("fixer", fakeBottle(b, { timeout: "4s" })),
        fake({ steps: [{ say: "thinking hard" }], end: "hang" }),
      ],
      b,
    );
    expect(run.code).toBe(1);
    const result = jsonResult(run);
    expect(result).toMatchObject({ outcome: "timeout", preserved: true });
    expect(run.stderr).toContain("timeout after 4s: stopping claude");
    expect(existsSync(join(String(result.stateDir), "transcript/.claude"))).toBe(true);
  });

  test("SIGTERM to the runner: interrupted, preserved, containers removed before it exits", async () => {
    const b = box();
    const { child, done } = startRunner(
      [...jsonStart("fixer", fakeBottle(b)), fake({ steps: [{ say: "working away" }], end: "hang" })],
      b,
    );
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    await waitFor(() => stderr.includes("claude: working away"), 120_000, "claude to start working");
    child.kill("SIGTERM");
    const run = await done;
    expect(run.code).toBe(1);
    const result = jsonResult(run);
    expect(result).toMatchObject({ outcome: "interrupted", preserved: true });
    expect(existsSync(join(String(result.stateDir), ".preserve"))).toBe(true);
    expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
  });

  test("a stale .preserve from an earlier run is cleared: a clean resume removes the state", async () => {
    const b = box();
    const manifest = fakeBottle(b);
    const first = jsonResult(
      await runRunner(
        ["start", "fixer", "--manifest", manifest, "--format", "json", "--prompt", fake({ end: "error-result" })],
        b,
      ),
    );
    expect(first.preserved).toBe(true);
    const second = await runRunner(["resume", String(first.identity), "--format", "json", "--prompt", "try again"], b);
    expect(jsonResult(second)).toMatchObject({ outcome: "success", preserved: false });
    expect(existsSync(String(first.stateDir))).toBe(false);
  });
});

describe("the agent never holds the credential", () => {
  test("the agent sees a placeholder and the gate URL; the real key is nowhere it or the user can read", async () => {
    const b = box();
    const run = await runRunner(
      [
        ...jsonStart("fixer", fakeBottle(b)),
        fake({
          steps: [
            { "report-env": ["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GREETING", "TEST_ANTHROPIC_KEY"] },
            { run: "env; cat /proc/1/environ | tr '\\0' '\\n'; grep -rs . /opt /home/node || true" },
          ],
          end: "error-result",
        }),
      ],
      b,
    );
    const result = jsonResult(run);
    expect(run.stderr).toContain("env ANTHROPIC_BASE_URL=http://gate:8080/anthropic");
    expect(run.stderr).toContain("env GREETING=hello");
    expect(run.stderr).toMatch(/env ANTHROPIC_API_KEY=sk-ant-bottle-placeholder/);
    expect(run.stdout + run.stderr).not.toContain(SECRET);
    const stateDir = String(result.stateDir);
    for (const file of walk(stateDir)) expect(readFileSync(file).includes(SECRET), file).toBe(false);
  });
});

describe("snapshots during the session", () => {
  test("every --snapshot-interval, even in the middle of a long tool call", async () => {
    const b = box();
    const { child, done } = startRunner(
      [
        "start",
        "fixer",
        "--manifest",
        fakeBottle(b),
        "--snapshot-interval",
        "1s",
        "--prompt",
        fake({ steps: [{ run: "echo periodic-marker > ~/.claude/marker.txt; sleep 60" }], end: "success" }),
      ],
      b,
    );
    const stateRoot = join(b.home, "state");
    const marker = () =>
      existsSync(stateRoot) &&
      readdirSync(stateRoot).some((id) => existsSync(join(stateRoot, id, "transcript/.claude/marker.txt")));
    await waitFor(marker, 60_000, "a periodic snapshot holding the marker");
    child.kill("SIGKILL");
    await done;
    await runRunner(["cleanup"], b);
  });
});

describe("egress through the gate", () => {
  test("a host the allowlist does not name is refused, logged in egress.jsonl and summarised", async () => {
    const b = box();
    // What any proxy-aware tool does: CONNECT through HTTPS_PROXY.
    const connect = `node -e 'const u=new URL(process.env.HTTPS_PROXY);const s=require("net").connect(u.port,u.hostname,()=>s.write("CONNECT nothere.example:443 HTTP/1.1\\r\\nHost: nothere.example:443\\r\\n\\r\\n"));s.on("data",d=>{console.log(String(d).split("\\r\\n")[0]);s.destroy()})'`;
    const run = await runRunner(
      [...jsonStart("fixer", fakeBottle(b)), fake({ steps: [{ run: connect }], end: "error-result" })],
      b,
    );
    const result = jsonResult(run);
    const events = readFileSync(join(String(result.stateDir), "events.jsonl"), "utf8");
    expect(events).toContain("HTTP/1.1 403");
    const egress = readFileSync(join(String(result.stateDir), "egress.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(egress).toEqual([
      expect.objectContaining({
        event: "egress",
        kind: "connect",
        host: "nothere.example",
        port: 443,
        decision: "refuse",
      }),
    ]);
    expect(run.stderr).toContain("egress: reached none; refused nothere.example:443 (1)");
  });
});

describe("bad input creates nothing", () => {
  test("an agent naming a missing bottle: exit 2, the JSON path in the message", async () => {
    const b = box();
    const manifest = writeManifest(b.dir, { bottles: { a: {} }, agents: { fixer: { bottle: "nope" } } });
    const run = await runRunner(["start", "fixer", "--manifest", manifest, "--prompt", "x"], b);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("agents.fixer.bottle");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(b.home, "state"))).toBe(false);
  });

  test("an unknown agent: exit 2 naming the agents there are", async () => {
    const b = box();
    const run = await runRunner(["start", "nobody", "--manifest", fakeBottle(b), "--prompt", "x"], b);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/agent: "nobody" is not an agent in .*; use one of: fixer/);
  });

  test("resume of an identity with no state: exit 2 naming it", async () => {
    const b = box();
    const run = await runRunner(["resume", "fixer-zzzzz"], b);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/identity: "fixer-zzzzz" has no saved state in .*node runner list/);
  });

  test("--dry-run prints the plan and creates nothing; credentials appear by name only", async () => {
    const b = box();
    const run = await runRunner(
      ["start", "fixer", "--manifest", fakeBottle(b), "--prompt", "x", "--dry-run", "--format", "json"],
      b,
    );
    expect(run.code, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as Record<string, any>;
    expect(plan.gate.credentials).toEqual([
      { route: "anthropic", header: "x-api-key", fromEnv: "TEST_ANTHROPIC_KEY", present: true },
    ]);
    expect(plan.agentContainer.anthropicBaseUrl).toBe("http://gate:8080/anthropic");
    expect(run.stdout).not.toContain(SECRET);
    expect(existsSync(join(b.home, "state"))).toBe(false);
  });

  test("a gate that cannot start: the launch fails closed, nothing is exec'd in the agent, nothing is left", async () => {
    const b = box();
    // An image with no node: the gate program cannot run, so it never says it is ready.
    b.env.CLAUDE_BOTTLE_GATE_IMAGE = "bottle-test/base:bookworm";
    const since = engineNow();
    const { child, done } = startRunner(
      ["start", "fixer", "--manifest", fakeBottle(b), "--prompt", fake({ end: "success" })],
      b,
    );
    const run = await done;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("the gate did not come up");
    expect(run.stderr).toContain("the agent was not started");
    // The agent container may have been made ready while the gate started; claude never ran in it.
    expect(agentExecs(child.pid, since, engineNow())).toEqual([]);
    expect(runnerContainers(child.pid)).toEqual([]);
    expect(existsSync(join(b.home, "state")) ? readdirSync(join(b.home, "state")) : []).toEqual([]);
  });
});

describe("list and cleanup", () => {
  test("a runner killed with SIGKILL leaves labelled resources; list shows them, cleanup removes them", async () => {
    const b = box();
    const { child, done } = startRunner(
      ["start", "fixer", "--manifest", fakeBottle(b), "--prompt", fake({ steps: [{ say: "busy" }], end: "hang" })],
      b,
    );
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    await waitFor(() => stderr.includes("claude: busy"), 120_000, "claude to start");
    // A turn ended, so a snapshot is on its way; the kill must find it complete, never half written.
    const stateRoot = join(b.home, "state");
    await waitFor(
      () =>
        existsSync(stateRoot) &&
        readdirSync(stateRoot).some((id) => existsSync(join(stateRoot, id, "transcript/.claude"))),
      30_000,
      "a snapshot",
    );
    child.kill("SIGKILL");
    await done;
    const [identity] = readdirSync(stateRoot);
    const projects = join(stateRoot, String(identity), "transcript/.claude/projects/-home-node-workspace");
    const [transcript] = readdirSync(projects);
    expect(readFileSync(join(projects, String(transcript)), "utf8")).toContain("busy");
    expect(labelled().containers.length).toBe(2);
    const list = await runRunner(["list", "--format", "json"], b);
    const listed = JSON.parse(list.stdout) as {
      running: { live: boolean; containers: unknown[] }[];
      states: { outcome: string }[];
    };
    expect(listed.running).toHaveLength(1);
    expect(listed.running[0]?.live).toBe(false);
    expect(listed.states[0]?.outcome).toBe("running");
    const cleanup = await runRunner(["cleanup"], b);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(cleanup.stdout).toMatch(/removed fixer-[0-9a-z]{5}: .*-agent/);
    expect(labelled()).toEqual({ containers: [], networks: [] });
    // cleanup saved what the dead runner's bottle held, so the session can go on.
    const metadata = JSON.parse(readFileSync(join(stateRoot, String(identity), "metadata.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(metadata.outcome).toBe("interrupted");
    expect(existsSync(join(stateRoot, String(identity), ".preserve"))).toBe(true);
    const resumed = await runRunner(
      ["resume", String(identity), "--format", "json", "--prompt", fake({ end: "success" })],
      b,
    );
    expect(jsonResult(resumed)).toMatchObject({ outcome: "success", sessionId: metadata.sessionId });
    expect(resumed.stderr).toMatch(/resumed session \S+ with [1-9]\d* earlier entries/);
  });
});
