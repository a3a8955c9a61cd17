/**
 * Capability-block end to end: the real claude CLI in a supervised bottle, a stub
 * model that makes it call the supervise server's MCP tools, and the built
 * `node runner`. An agent that lacks a tool asks for a Dockerfile that adds it;
 * with `preserve` the bottle ends with its state kept and `resume` builds the new
 * image and goes on with the same session; with `rebuild` that happens in one run;
 * `deny` and an invalid Dockerfile are refusals the session goes on after; a
 * proposal that does not build is its own outcome with nothing lost. And the
 * supervise port answers only inside the bottle's internal network.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type StubModel,
  type StubReply,
  offersTools,
  startStubModel,
  userTexts,
} from "../../src/cli/demo/stub-model.js";
import { newJob, runStep } from "../support/action.js";
import { startCacheServer } from "../support/cache-server.js";
import {
  AGENT_BASE_IMAGE,
  GATE_IMAGE,
  type Sandbox,
  hostAddressForContainers,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  startRunner,
  waitFor,
  writeManifest,
} from "../support/runner.js";

const SECRET = `sk-ant-real-${Math.random().toString(36).slice(2)}-capability`;
const TASK = "Frobnicate the repository, then report.";
const REASON = "This image has no frobnicate command, and the task needs it.";
/** What the proposed Dockerfile adds: a command the bundled image does not have. */
const FROBNICATE = [
  "USER root",
  `RUN printf '#!/bin/sh\\necho frobnicated-by-the-new-image\\n' > /usr/local/bin/frobnicate && chmod 755 /usr/local/bin/frobnicate`,
  "USER node",
  "",
].join("\n");
const CAPABILITY_TOOL = "mcp__supervise__capability-block";

type Scenario = "propose" | "deny" | "invalid" | "unbuildable";
let scenario: Scenario = "propose";
/** Holds the first model reply until the test has probed the running bottle. */
let firstReplyGate: Promise<void> = Promise.resolve();
let stub: StubModel;

/** The tool result the last user message carries, or null when it is a prompt. */
function latestToolResult(body: unknown): string | null {
  const messages = (body as { messages?: { role: string; content: unknown }[] }).messages ?? [];
  const last = messages[messages.length - 1];
  if (!last || last.role !== "user" || !Array.isArray(last.content)) return null;
  const results = (last.content as { type?: string; content?: unknown }[]).filter((b) => b.type === "tool_result");
  if (results.length === 0) return null;
  const content = results[results.length - 1]?.content;
  if (typeof content === "string") return content;
  return Array.isArray(content) ? (content as { text?: string }[]).map((c) => c.text ?? "").join("\n") : "";
}

function latestUserText(body: unknown): string {
  return userTexts(body).at(-1) ?? "";
}

async function reply(body: unknown): Promise<StubReply> {
  if (!offersTools(body)) return { text: "ok" };
  const result = latestToolResult(body);
  const prompt = latestUserText(body);
  if (result === null) {
    if (prompt.includes("rebuilt from the Dockerfile you proposed")) {
      return { toolUse: { name: "Bash", input: { command: "frobnicate", description: "use the new tool" } } };
    }
    if (prompt.includes("did not build"))
      return { text: "The image stays as it was; I will report without frobnicating." };
    await firstReplyGate;
    switch (scenario) {
      case "propose":
        return { toolUse: { name: "mcp__supervise__current-dockerfile", input: {} } };
      case "deny":
        return {
          toolUse: {
            name: CAPABILITY_TOOL,
            input: { dockerfile: `FROM ${AGENT_BASE_IMAGE}\n${FROBNICATE}`, reason: REASON },
          },
        };
      case "invalid":
        return { toolUse: { name: CAPABILITY_TOOL, input: { dockerfile: "INSTALL frobnicate\n", reason: REASON } } };
      case "unbuildable":
        return {
          toolUse: {
            name: CAPABILITY_TOOL,
            input: { dockerfile: `FROM ${AGENT_BASE_IMAGE}\nRUN echo trying && exit 3\n`, reason: REASON },
          },
        };
    }
  }
  if (result.startsWith("# source:")) {
    // The agent extends what it runs on, as a person would.
    const current = result.split("\n").slice(1).join("\n").trimEnd();
    return { toolUse: { name: CAPABILITY_TOOL, input: { dockerfile: `${current}\n${FROBNICATE}`, reason: REASON } } };
  }
  if (result.includes("frobnicated-by-the-new-image")) return { text: "Frobnicated. Done." };
  return { text: "Understood; stopping here." };
}

beforeAll(async () => {
  stub = await startStubModel({ host: "0.0.0.0", script: ({ body }) => reply(body) });
});

afterAll(async () => {
  await stub?.close();
});

function supervisedBottle(
  box: Pick<Sandbox, "dir">,
  capabilityBlock?: string,
  keyVariable = "TEST_ANTHROPIC_KEY",
): string {
  return writeManifest(box.dir, {
    bottles: {
      tooling: {
        buildArgs: { BASE_IMAGE: AGENT_BASE_IMAGE },
        supervise: true,
        ...(capabilityBlock ? { capabilityBlock } : {}),
        egress: {
          routes: [
            {
              name: "anthropic",
              upstream: `http://${hostAddressForContainers()}:${stub.port}`,
              inject: { header: "x-api-key", fromEnv: keyVariable },
              role: "anthropic",
            },
          ],
        },
      },
    },
    agents: { builder: { bottle: "tooling" } },
  });
}

/** Every tool result claude sent the model since request `from`, as text. */
function toolResultsSince(from: number): string[] {
  return stub.requests
    .slice(from)
    .map((r) => latestToolResult(r.body))
    .filter((t): t is string => t !== null);
}

function modelRequestsSince(from: number): unknown[] {
  return stub.requests
    .slice(from)
    .filter((r) => r.path.startsWith("/v1/messages") && offersTools(r.body))
    .map((r) => r.body);
}

/**
 * Whether an HTTP GET of `/mcp` at `host:8090` gets the supervise server's own
 * answer (405, `allow: POST`, a JSON-RPC "Method not allowed."). A bare TCP connect
 * proves nothing: a proxy in front of the machine may accept any connection.
 */
const PROBE = `fetch("http://HOST:8090/mcp",{signal:AbortSignal.timeout(3000)}).then(async r=>{const b=await r.text();console.log(r.status===405&&r.headers.get("allow")==="POST"&&b.includes("Method not allowed")?"supervise":"other "+r.status)},e=>console.log("unreachable "+(e.cause?.code??e.name)))`;

function probeFromHost(host: string): string {
  return execFileSync(process.execPath, ["-e", PROBE.replace("HOST", host)], { encoding: "utf8" }).trim();
}

/** The same probe from a fresh container on `network`. */
function probeFromContainer(network: string, host: string): string {
  return execFileSync(
    "docker",
    ["run", "--rm", "--network", network, GATE_IMAGE, "node", "-e", PROBE.replace("HOST", host)],
    { encoding: "utf8" },
  ).trim();
}

describe("capability-block with the real claude CLI", () => {
  test("preserve: the proposal ends the session with the Dockerfile in the state; resume builds it and the same session uses the new tool", async () => {
    scenario = "propose";
    let release: () => void = () => {};
    firstReplyGate = new Promise((r) => (release = r));
    const box = sandbox({ TEST_ANTHROPIC_KEY: SECRET });
    const manifest = supervisedBottle(box);
    const before = stub.requests.length;
    const run = startRunner(["start", "builder", "--manifest", manifest, "--format", "json", "--prompt", TASK], box);

    // While the bottle runs: the supervise port answers inside its internal network and nowhere else.
    let supervise = "";
    await waitFor(
      () =>
        (supervise = labelled().containers.find((c) => c.endsWith("-supervise")) ?? "") !== "" &&
        stub.requests.length > before,
      120_000,
      "the supervised bottle to ask the model",
    );
    try {
      const networks = JSON.parse(
        execFileSync("docker", ["inspect", "-f", "{{json .NetworkSettings.Networks}}", supervise], {
          encoding: "utf8",
        }),
      ) as Record<string, { IPAddress: string }>;
      expect(Object.keys(networks), "supervise joins only the internal network").toEqual([
        supervise.replace(/-supervise$/, "-internal"),
      ]);
      const [internal, { IPAddress: address }] = Object.entries(networks)[0] as [string, { IPAddress: string }];
      expect(probeFromContainer(internal, address), "inside the internal network").toBe("supervise");
      expect(probeFromHost(address), "from the host").not.toBe("supervise");
      // The default bridge is the gate's way out too.
      expect(probeFromContainer("bridge", address), "from the default bridge").not.toBe("supervise");
    } finally {
      release();
    }

    const first = await run.done;
    const blocked = jsonResult(first);
    expect(blocked, first.stderr).toMatchObject({ outcome: "capability-block", preserved: true });
    const identity = String(blocked.identity);
    const sessionId = String(blocked.sessionId);
    const stateDir = String(blocked.stateDir);
    expect(blocked.capabilityBlocks).toEqual([expect.objectContaining({ reason: REASON, policy: "preserve" })]);
    // The agent saw its Dockerfile, proposed one, and was told the session would end.
    const results = toolResultsSince(before);
    expect(results[0]).toContain("# source: bundled");
    expect(results[1]).toContain("request was recorded");
    // claude offered the supervise tools to the model.
    const tools = JSON.stringify((modelRequestsSince(before)[0] as { tools?: unknown }).tools);
    expect(tools).toContain(CAPABILITY_TOOL);
    expect(tools).toContain("mcp__supervise__list-egress");
    const dockerfile = readFileSync(join(stateDir, "Dockerfile"), "utf8");
    expect(dockerfile).toContain("frobnicated-by-the-new-image");
    expect(dockerfile).toContain("ARG BASE_IMAGE");
    expect(dockerfile).not.toContain("# source:");
    const record = JSON.parse(readFileSync(join(stateDir, "capability-block.json"), "utf8")) as Record<string, unknown>;
    expect(record).toMatchObject({ reason: REASON, policy: "preserve", before: { source: "bundled" } });
    expect(
      readFileSync(join(stateDir, "transcript/.claude/projects/-home-node-workspace", `${sessionId}.jsonl`), "utf8"),
    ).toContain("request was recorded");
    expect(labelled()).toEqual({ containers: [], networks: [] });

    const resumeFrom = stub.requests.length;
    const second = await runRunner(["resume", identity, "--format", "json"], box);
    const resumed = jsonResult(second);
    expect(resumed, second.stderr).toMatchObject({ identity, outcome: "success", sessionId, preserved: false });
    expect(second.stderr).toContain(
      `building agent image claude-bottle-bottle:${identity} from the per-bottle Dockerfile`,
    );
    // The new image has the tool, and the conversation is the same one.
    expect(toolResultsSince(resumeFrom)).toContain("frobnicated-by-the-new-image");
    const firstResumed = modelRequestsSince(resumeFrom)[0];
    expect(userTexts(firstResumed).some((t) => t.includes(TASK))).toBe(true);
    expect(JSON.stringify(firstResumed)).toContain("request was recorded");
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });

  test("rebuild: the bottle is rebuilt and the same session resumed within one run", async () => {
    scenario = "propose";
    firstReplyGate = Promise.resolve();
    const box = sandbox({ TEST_ANTHROPIC_KEY: SECRET });
    const manifest = supervisedBottle(box);
    const before = stub.requests.length;
    const run = await runRunner(
      [
        "start",
        "builder",
        "--manifest",
        manifest,
        "--format",
        "json",
        "--capability-block",
        "rebuild",
        "--prompt",
        TASK,
      ],
      box,
    );
    const result = jsonResult(run);
    expect(result, run.stderr).toMatchObject({ outcome: "success", preserved: false });
    expect(result.capabilityBlocks).toEqual([
      expect.objectContaining({ reason: REASON, policy: "rebuild", result: "rebuilt" }),
    ]);
    expect(run.stderr).toContain("rebuild 1 of 2");
    const results = toolResultsSince(before);
    expect(results.some((r) => r.includes("rebuilt from the new Dockerfile right away"))).toBe(true);
    expect(results).toContain("frobnicated-by-the-new-image");
    // One session throughout: every model request after the rebuild carries the original task.
    const requests = modelRequestsSince(before);
    const afterRebuild = requests.filter((b) =>
      userTexts(b).some((t) => t.includes("rebuilt from the Dockerfile you proposed")),
    );
    expect(afterRebuild.length).toBeGreaterThan(0);
    for (const body of afterRebuild) expect(userTexts(body).some((t) => t.includes(TASK))).toBe(true);
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });

  test("deny: the tool call is refused with the reason and the session goes on", async () => {
    scenario = "deny";
    firstReplyGate = Promise.resolve();
    const box = sandbox({ TEST_ANTHROPIC_KEY: SECRET });
    const manifest = supervisedBottle(box, "deny");
    const before = stub.requests.length;
    const run = await runRunner(
      ["start", "builder", "--manifest", manifest, "--format", "json", "--prompt", TASK],
      box,
    );
    const result = jsonResult(run);
    expect(result, run.stderr).toMatchObject({ outcome: "success", preserved: false, capabilityBlocks: [] });
    const refusal = toolResultsSince(before).find((r) => r.includes("denied")) ?? "";
    expect(refusal).toMatch(/capability-block requests are denied/i);
    // The session went on: the model was asked again after the refusal.
    expect(modelRequestsSince(before).length).toBeGreaterThanOrEqual(2);
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });

  test("an invalid Dockerfile is refused with what is wrong, and nothing is kept", async () => {
    scenario = "invalid";
    firstReplyGate = Promise.resolve();
    const box = sandbox({ TEST_ANTHROPIC_KEY: SECRET });
    const manifest = supervisedBottle(box);
    const before = stub.requests.length;
    const run = await runRunner(
      ["start", "builder", "--manifest", manifest, "--format", "json", "--prompt", TASK],
      box,
    );
    const result = jsonResult(run);
    expect(result, run.stderr).toMatchObject({ outcome: "success", preserved: false, capabilityBlocks: [] });
    const refusal = toolResultsSince(before)[0] ?? "";
    expect(refusal).toContain("INSTALL");
    expect(refusal).toContain("line 1");
    expect(refusal).not.toContain("recorded");
    expect(existsSync(String(result.stateDir))).toBe(false);
  });

  test("a proposal that does not build: outcome build-failed, log and session kept, the Dockerfile untouched; resume goes on", async () => {
    scenario = "unbuildable";
    firstReplyGate = Promise.resolve();
    const box = sandbox({ TEST_ANTHROPIC_KEY: SECRET });
    const manifest = supervisedBottle(box, "rebuild");
    const run = await runRunner(
      ["start", "builder", "--manifest", manifest, "--format", "json", "--prompt", TASK],
      box,
    );
    const result = jsonResult(run);
    expect(result, run.stderr).toMatchObject({ outcome: "build-failed", preserved: true });
    expect(run.code).toBe(1);
    const stateDir = String(result.stateDir);
    const sessionId = String(result.sessionId);
    expect(readFileSync(join(stateDir, "build.log"), "utf8")).toMatch(/non-zero code: 3/);
    expect(existsSync(join(stateDir, "Dockerfile")), "the bottle's Dockerfile stays what it was (none)").toBe(false);
    expect(readFileSync(join(stateDir, "Dockerfile.proposed"), "utf8")).toContain("exit 3");
    expect(existsSync(join(stateDir, "transcript/.claude/projects/-home-node-workspace", `${sessionId}.jsonl`))).toBe(
      true,
    );
    expect(JSON.parse(readFileSync(join(stateDir, "capability-block.json"), "utf8"))).toMatchObject({
      result: "build-failed",
    });
    expect(labelled()).toEqual({ containers: [], networks: [] });

    const resumeFrom = stub.requests.length;
    const second = await runRunner(["resume", String(result.identity), "--format", "json"], box);
    expect(jsonResult(second), second.stderr).toMatchObject({ outcome: "success", sessionId });
    // The agent is told its Dockerfile did not build, with the end of the log.
    const prompt = latestUserText(modelRequestsSince(resumeFrom)[0]);
    expect(prompt).toContain("did not build");
    expect(prompt).toMatch(/non-zero code: 3/);
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });

  test("in CI: the summary shows the reason and the diff, the log the resume snippet; a resume job builds from the restored state", async () => {
    scenario = "propose";
    firstReplyGate = Promise.resolve();
    const server = await startCacheServer({ protocol: "v2", flavour: "github" });
    try {
      const workspace = mkdtempSync(join(tmpdir(), "bottle-checkout-"));
      supervisedBottle({ dir: workspace }, undefined, "ANTHROPIC_API_KEY");
      const inputs = { agent: "builder", prompt: TASK, "anthropic-api-key": SECRET, "save-state": "cache" };
      const first = await runStep(newJob({ workspace, runId: "77", attempt: 1, cacheEnv: server.env }), "main", inputs);
      expect(first.outputs, first.stdout).toMatchObject({ outcome: "capability-block", preserved: "true" });
      const identity = first.outputs.identity as string;
      expect(first.summary).toContain("### claude-bottle: capability-block");
      expect(first.summary).toContain(`> ${REASON}`);
      expect(first.summary).toContain("--- Dockerfile (bundled)");
      expect(first.summary).toContain("+RUN printf");
      expect(first.summary).toContain("Approve the new image by resuming this bottle");
      expect(first.stdout).toContain(`mode: resume\n    identity: ${identity}`);
      // The only place the key may appear is the mask command that tells the runner to hide it.
      const printed = first.stdout
        .split("\n")
        .filter((l) => !l.startsWith("::add-mask::"))
        .join("\n");
      expect(printed + first.summary).not.toContain(SECRET);
      expect(labelled()).toEqual({ containers: [], networks: [] });

      // A later job on a fresh runner: the state comes back from the cache, with the proposal in it.
      const resumeFrom = stub.requests.length;
      const second = await runStep(
        newJob({
          workspace: mkdtempSync(join(tmpdir(), "bottle-checkout-")),
          runId: "78",
          attempt: 1,
          cacheEnv: server.env,
        }),
        "main",
        {
          mode: "resume",
          identity,
          "anthropic-api-key": SECRET,
        },
      );
      expect(second.outputs, second.stdout).toMatchObject({
        outcome: "success",
        identity,
        "session-id": first.outputs["session-id"],
      });
      expect(second.stdout).toContain("from the per-bottle Dockerfile");
      expect(toolResultsSince(resumeFrom)).toContain("frobnicated-by-the-new-image");
      expect(second.summary).toContain("This bottle runs on its own Dockerfile");
      expect(labelled()).toEqual({ containers: [], networks: [] });
    } finally {
      await server.close();
    }
  });

  test("a runner killed before it settled a proposal: cleanup keeps the proposal, preserved as capability-block", async () => {
    scenario = "propose";
    firstReplyGate = Promise.resolve();
    const box = sandbox({ TEST_ANTHROPIC_KEY: SECRET, CLAUDE_BOTTLE_PAUSE_AT: "teardown" });
    const manifest = supervisedBottle(box);
    const run = startRunner(["start", "builder", "--manifest", manifest, "--format", "json", "--prompt", TASK], box);
    let stderr = "";
    run.child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    await waitFor(() => stderr.includes("paused at teardown"), 120_000, "the runner to reach teardown");
    run.child.kill("SIGKILL");
    await run.done;
    const identity = /claude-bottle \[(builder-[a-z0-9]{5})\]/.exec(stderr)?.[1] ?? "";
    expect(identity).not.toBe("");
    expect(labelled(identity).containers.length).toBeGreaterThan(0);

    const cleanup = await runRunner(["cleanup"], { ...box, env: { ...box.env, CLAUDE_BOTTLE_PAUSE_AT: "" } });
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
    const stateDir = join(box.home, "state", identity);
    expect(readFileSync(join(stateDir, "Dockerfile"), "utf8")).toContain("frobnicated-by-the-new-image");
    expect(JSON.parse(readFileSync(join(stateDir, "capability-block.json"), "utf8"))).toMatchObject({
      reason: REASON,
      policy: "preserve",
      before: { source: "bundled" },
    });
    expect(JSON.parse(readFileSync(join(stateDir, "metadata.json"), "utf8"))).toMatchObject({
      outcome: "capability-block",
    });
    expect(existsSync(join(stateDir, ".preserve"))).toBe(true);
  });
});
