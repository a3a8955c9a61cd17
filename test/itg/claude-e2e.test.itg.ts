/**
 * End to end with the real claude CLI in a bottle built from the bundled agent
 * Dockerfile, talking through the gate to a stub Messages API this test owns.
 * Claude kills itself mid-session; the runner preserves the bottle; `resume`
 * continues the same session and the model sees the earlier turns. Along the way:
 * the real key reaches the model API only from the gate, never the agent.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type StubModel,
  countMessages,
  offersTools,
  startStubModel,
  toolResultText,
  userTexts,
} from "../../src/cli/demo/stub-model.js";
import { newJob, runStep } from "../support/action.js";
import { startCacheServer } from "../support/cache-server.js";
import {
  AGENT_BASE_IMAGE,
  hostAddressForContainers,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  walk,
  writeManifest,
} from "../support/runner.js";

const SECRET = `sk-ant-real-${Math.random().toString(36).slice(2)}-do-not-leak`;
const TASK = "Record your progress in progress.txt, then finish the job.";
const RESUME_PROMPT = "You were interrupted. Continue where you left off.";

let phase: "crash" | "resume" = "crash";
let stub: StubModel;

beforeAll(async () => {
  stub = await startStubModel({
    host: "0.0.0.0",
    script: async ({ body }) => {
      if (!offersTools(body)) return { text: "ok" };
      if (phase === "resume") return { text: `Continuing with ${countMessages(body)} messages of history. Done.` };
      const lastResult = toolResultText(body);
      if (lastResult === null) {
        return {
          toolUse: {
            name: "Bash",
            input: {
              command: "echo half > progress.txt; env; cat /home/node/.claude/.claude.json",
              description: "look around",
            },
          },
        };
      }
      // claude writes its transcript a moment after each turn; a kill loses only what is not on disk yet.
      await new Promise((r) => setTimeout(r, 2_000));
      return { toolUse: { name: "Bash", input: { command: "kill -9 $PPID", description: "crash" } } };
    },
  });
});

afterAll(async () => {
  await stub?.close();
});

describe("the real claude CLI in a bottle", () => {
  test("crash → preserved → resume continues the same session with every earlier turn; the key stays in the gate", async () => {
    const box = sandbox({ TEST_ANTHROPIC_KEY: SECRET });
    const manifest = writeManifest(box.dir, {
      bottles: {
        real: {
          buildArgs: { BASE_IMAGE: AGENT_BASE_IMAGE },
          egress: {
            routes: [
              {
                name: "anthropic",
                upstream: `http://${hostAddressForContainers()}:${stub.port}`,
                inject: { header: "x-api-key", fromEnv: "TEST_ANTHROPIC_KEY" },
                role: "anthropic",
              },
            ],
          },
        },
      },
      agents: { worker: { bottle: "real", prompt: "You are a careful worker." } },
    });

    const first = await runRunner(
      ["start", "worker", "--manifest", manifest, "--format", "json", "--prompt", TASK],
      box,
    );
    const crashed = jsonResult(first);
    expect(crashed, first.stderr).toMatchObject({ outcome: "crashed", exitCode: 137, preserved: true });
    const sessionId = String(crashed.sessionId);
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.stderr).toContain("tool Bash: kill -9 $PPID");

    const crashRequests = stub.requests.filter((r) => r.path.startsWith("/v1/messages") && offersTools(r.body));
    expect(crashRequests.length).toBeGreaterThanOrEqual(2);
    // The model API saw the real key, injected by the gate, on every request ...
    for (const r of stub.requests.filter((r) => r.path.startsWith("/v1/messages")))
      expect(r.headers["x-api-key"]).toBe(SECRET);
    // ... while inside the bottle the agent only ever had the placeholder.
    const envOutput = toolResultText(crashRequests[1]?.body) ?? "";
    expect(envOutput).toContain("ANTHROPIC_API_KEY=sk-ant-bottle-placeholder");
    expect(envOutput).toContain("ANTHROPIC_BASE_URL=http://gate:8080/anthropic");
    expect(envOutput).not.toContain(SECRET);
    expect(first.stdout + first.stderr).not.toContain(SECRET);
    const stateDir = String(crashed.stateDir);
    for (const file of walk(stateDir)) expect(readFileSync(file).includes(SECRET), file).toBe(false);
    expect(
      readFileSync(join(stateDir, "transcript/.claude/projects/-home-node-workspace", `${sessionId}.jsonl`), "utf8"),
    ).toContain(TASK);
    expect(readFileSync(join(stateDir, "workspace/progress.txt"), "utf8")).toBe("half\n");
    // claude keeps its settings in its config directory, so the one transcript archive holds them too.
    expect(existsSync(join(stateDir, "transcript/.claude/.claude.json"))).toBe(true);
    expect(existsSync(join(stateDir, "transcript/.claude.json"))).toBe(false);
    const crashHistory = countMessages(crashRequests[crashRequests.length - 1]?.body);

    phase = "resume";
    const before = stub.requests.length;
    const second = await runRunner(
      ["resume", String(crashed.identity), "--format", "json", "--prompt", RESUME_PROMPT],
      box,
    );
    const resumed = jsonResult(second);
    expect(resumed, second.stderr).toMatchObject({
      identity: crashed.identity,
      outcome: "success",
      sessionId,
      preserved: false,
    });
    const resumeRequest = stub.requests
      .slice(before)
      .find((r) => r.path.startsWith("/v1/messages") && offersTools(r.body));
    expect(resumeRequest, "the resumed session asked the model").toBeDefined();
    // The same conversation: the original task and the turns before the crash, then the resume prompt.
    const texts = userTexts(resumeRequest?.body);
    expect(texts.some((t) => t.includes(TASK))).toBe(true);
    expect(texts.some((t) => t.includes(RESUME_PROMPT))).toBe(true);
    expect(countMessages(resumeRequest?.body)).toBeGreaterThanOrEqual(crashHistory);
    // The first tool call's output, from before the crash, is part of the resumed conversation.
    expect(JSON.stringify(resumeRequest?.body)).toContain("ANTHROPIC_BASE_URL=http://gate:8080/anthropic");
    expect(readFileSync(join(box.workspace, "progress.txt"), "utf8")).toBe("half\n");
    expect(labelled()).toEqual({ containers: [], networks: [] });
  });
});

describe("the real claude CLI through the action", () => {
  test("crash in attempt 1, then a re-run: the model sees the earlier turns of the same session", async () => {
    const server = await startCacheServer({ protocol: "v2", flavour: "github" });
    phase = "crash";
    try {
      const workspace = mkdtempSync(join(tmpdir(), "bottle-checkout-"));
      writeManifest(workspace, {
        bottles: {
          real: {
            buildArgs: { BASE_IMAGE: AGENT_BASE_IMAGE },
            egress: {
              routes: [
                {
                  name: "anthropic",
                  upstream: `http://${hostAddressForContainers()}:${stub.port}`,
                  inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
                  role: "anthropic",
                },
              ],
            },
          },
        },
        agents: { worker: { bottle: "real" } },
      });
      const inputs = { agent: "worker", prompt: TASK, "anthropic-api-key": SECRET, "save-state": "cache" };
      const first = await runStep(newJob({ workspace, runId: "42", attempt: 1, cacheEnv: server.env }), "main", inputs);
      expect(first.outputs, first.stdout).toMatchObject({ outcome: "crashed", preserved: "true" });
      phase = "resume";
      const before = stub.requests.length;
      const second = await runStep(newJob({ workspace, runId: "42", attempt: 2, cacheEnv: server.env }), "main", {
        ...inputs,
        "resume-prompt": RESUME_PROMPT,
      });
      expect(second.outputs, second.stdout).toMatchObject({
        outcome: "success",
        "session-id": first.outputs["session-id"],
        identity: first.outputs.identity,
      });
      const resumed = stub.requests.slice(before).find((r) => r.path.startsWith("/v1/messages") && offersTools(r.body));
      const texts = userTexts(resumed?.body);
      expect(texts.some((t) => t.includes(TASK))).toBe(true);
      expect(texts.filter((t) => t.includes(TASK))).toHaveLength(1);
      expect(JSON.stringify(resumed?.body)).toContain("ANTHROPIC_BASE_URL=http://gate:8080/anthropic");
    } finally {
      await server.close();
    }
  });
});
