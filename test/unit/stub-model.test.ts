/**
 * The stub Messages API, proven against the real claude CLI on this host (no
 * Docker): a plain answer, a crash mid-session that leaves the transcript on
 * disk, a resume that carries the earlier turns, and an API error. Plus the
 * protocol details claude does not exercise (plain JSON replies, count_tokens,
 * a hanging reply) and the body helpers.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type StubModel,
  type StubScript,
  countMessages,
  lastUserText,
  offersTools,
  startStubModel,
  toolResultText,
  userTexts,
} from "../../src/cli/demo/stub-model.js";

const CLAUDE = resolve(import.meta.dirname, "../../node_modules/.bin/claude");
const API_KEY = "sk-ant-test-not-a-secret";
const CLAUDE_TIMEOUT = 120_000;

type Event = Record<string, unknown>;

interface ClaudeRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  events: Event[];
  stderr: string;
}

interface Session {
  home: string;
  cwd: string;
}

function newSession(): Session {
  const dir = mkdtempSync(join(tmpdir(), "stub-model-"));
  return { home: mkdtempSync(join(dir, "home-")), cwd: mkdtempSync(join(dir, "cwd-")) };
}

/**
 * `--dangerously-skip-permissions` refuses to start as root; `IS_SANDBOX=1` tells
 * claude it is already sandboxed, which is what root in a throwaway test is.
 */
function runClaude(stub: StubModel, session: Session, args: string[]): Promise<ClaudeRun> {
  const child = spawn(
    CLAUDE,
    ["--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions", ...args],
    {
      cwd: session.cwd,
      env: {
        PATH: process.env.PATH,
        HOME: session.home,
        ANTHROPIC_BASE_URL: stub.url,
        ANTHROPIC_API_KEY: API_KEY,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
        ...(process.getuid?.() === 0 ? { IS_SANDBOX: "1" } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolveRun, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const events = stdout
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as Event);
      resolveRun({ code, signal, events, stderr });
    });
  });
}

const initOf = (run: ClaudeRun) => run.events.find((e) => e.type === "system" && e.subtype === "init");
const resultOf = (run: ClaudeRun) => run.events.find((e) => e.type === "result");
const messageRequests = (model: StubModel) =>
  model.requests.filter((r) => r.method === "POST" && new URL(r.path, "http://stub").pathname === "/v1/messages");
const messageBodies = (model: StubModel) => messageRequests(model).map((r) => r.body);

function transcriptPath(session: Session, sessionId: string): string {
  // claude names the project folder after the cwd with every "/" and "." turned into "-".
  return join(session.home, ".claude", "projects", session.cwd.replace(/[/.]/g, "-"), `${sessionId}.jsonl`);
}

const stubs: StubModel[] = [];
async function stub(script: StubScript): Promise<StubModel> {
  const s = await startStubModel({ script });
  stubs.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});

const CRASH_PROMPT = "Record the marker, then finish the task.";
const MARKER = "progress-marker-42";

/** A session that runs one Bash command, then has claude kill itself from its own tool call. */
async function crashedSession(): Promise<{ session: Session; sessionId: string; run: ClaudeRun; stub: StubModel }> {
  const model = await stub(async ({ body }) => {
    if (toolResultText(body) === null)
      return { toolUse: { name: "Bash", input: { command: `echo ${MARKER}`, description: "record the marker" } } };
    // claude writes its transcript a moment after each turn; wait so the first tool's result is on disk before the kill.
    await new Promise((r) => setTimeout(r, 2_000));
    return { toolUse: { name: "Bash", input: { command: "kill -9 $PPID", description: "crash" } } };
  });
  const session = newSession();
  const run = await runClaude(model, session, ["-p", CRASH_PROMPT]);
  const sessionId = initOf(run)?.session_id;
  if (typeof sessionId !== "string") throw new Error(`no init event from claude: ${run.stderr}`);
  return { session, sessionId, run, stub: model };
}

describe("the real claude CLI against the stub model", () => {
  it(
    "answers a prompt: a success result for the session from init, with the api key sent",
    async () => {
      const model = await stub(() => ({ text: "hello from the stub" }));
      const run = await runClaude(model, newSession(), ["-p", "say hello"]);

      expect(run.code, run.stderr).toBe(0);
      const sessionId = initOf(run)?.session_id;
      expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(resultOf(run)).toMatchObject({
        subtype: "success",
        is_error: false,
        result: "hello from the stub",
        session_id: sessionId,
      });
      const messages = messageRequests(model);
      expect(messages.length).toBeGreaterThan(0);
      expect(messages[0]?.headers["x-api-key"]).toBe(API_KEY);
      expect(lastUserText(messages[0]?.body)).toContain("say hello");
    },
    CLAUDE_TIMEOUT,
  );

  it(
    "dies from a Bash kill of its own pid with no result event, leaving the transcript on disk",
    async () => {
      const { session, sessionId, run } = await crashedSession();

      expect(run.code === 137 || run.signal === "SIGKILL", `exit ${run.code} signal ${run.signal}`).toBe(true);
      expect(resultOf(run)).toBeUndefined();
      const transcript = transcriptPath(session, sessionId);
      expect(existsSync(transcript)).toBe(true);
      expect(readFileSync(transcript, "utf8")).toContain(MARKER);
    },
    CLAUDE_TIMEOUT,
  );

  it(
    "resumes the crashed session from a copy of ~/.claude: same session id, earlier turns sent again",
    async () => {
      const crashed = await crashedSession();
      // The kill's own tool_use never got a result, so resume drops it: compare with the session's opening request.
      const before = countMessages(messageBodies(crashed.stub)[0]);

      const resumed: Session = { home: mkdtempSync(join(tmpdir(), "stub-model-resume-")), cwd: crashed.session.cwd };
      cpSync(join(crashed.session.home, ".claude"), join(resumed.home, ".claude"), { recursive: true });
      cpSync(join(crashed.session.home, ".claude.json"), join(resumed.home, ".claude.json"));
      const model = await stub(() => ({ text: "picked up where I left off" }));
      const run = await runClaude(model, resumed, ["-p", "continue", "--resume", crashed.sessionId]);

      expect(run.code, run.stderr).toBe(0);
      expect(initOf(run)?.session_id).toBe(crashed.sessionId);
      expect(resultOf(run)).toMatchObject({ subtype: "success", is_error: false, session_id: crashed.sessionId });
      const body = messageBodies(model)[0];
      expect(countMessages(body)).toBeGreaterThan(before);
      expect(userTexts(body).some((t) => t.includes(CRASH_PROMPT))).toBe(true);
      expect(toolResultText(body)).toContain(MARKER);
      expect(lastUserText(body)).toContain("continue");
    },
    CLAUDE_TIMEOUT,
  );

  it(
    "reports an API error as an error result, and exits 1",
    async () => {
      // A 400 is not retried; 401, 429 and 5xx are, for minutes, unless CLAUDE_CODE_MAX_RETRIES says otherwise.
      const model = await stub(() => ({
        error: { status: 400, type: "invalid_request_error", message: "the stub refuses" },
      }));
      const run = await runClaude(model, newSession(), ["-p", "say hello"]);

      expect(resultOf(run)).toMatchObject({ is_error: true, api_error_status: 400 });
      expect(String(resultOf(run)?.result)).toContain("the stub refuses");
      expect(run.code).toBe(1);
    },
    CLAUDE_TIMEOUT,
  );
});

describe("the stub's protocol", () => {
  const body = (extra: Record<string, unknown> = {}) => ({
    model: "claude-test",
    max_tokens: 100,
    messages: [{ role: "user", content: "hi" }],
    ...extra,
  });
  const post = (model: StubModel, path: string, payload: unknown) =>
    fetch(`${model.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(payload),
    });

  it("answers without stream as one JSON message", async () => {
    const model = await stub(() => ({ toolUse: { name: "Bash", input: { command: "ls" } } }));
    const res = await post(model, "/v1/messages", body());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-test",
      stop_reason: "tool_use",
      content: [{ type: "tool_use", name: "Bash", input: { command: "ls" } }],
    });
  });

  it("streams SSE events in the Messages API order", async () => {
    const model = await stub(() => ({ text: "streamed" }));
    const res = await post(model, "/v1/messages?beta=true", body({ stream: true }));
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = (await res.text())
      .split("\n\n")
      .filter(Boolean)
      .map(
        (chunk) =>
          JSON.parse(
            chunk
              .split("\n")
              .find((l) => l.startsWith("data: "))
              ?.slice(6) ?? "null",
          ) as Event,
      );
    expect(events.map((e) => e.type)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(events[3]).toMatchObject({ delta: { type: "text_delta", text: "streamed" } });
    expect(events[5]).toMatchObject({ delta: { stop_reason: "end_turn" } });
  });

  it("gives the script a running index and answers errors with the API's error shape", async () => {
    const seen: number[] = [];
    const model = await stub(({ index }) => {
      seen.push(index);
      return { error: { status: 529, type: "overloaded_error", message: "busy" } };
    });
    const first = await post(model, "/v1/messages", body());
    await post(model, "/v1/messages", body());
    expect(seen).toEqual([0, 1]);
    expect(first.status).toBe(529);
    expect(await first.json()).toEqual({ type: "error", error: { type: "overloaded_error", message: "busy" } });
  });

  it("answers count_tokens and probes without consulting the script", async () => {
    let calls = 0;
    const model = await stub(() => {
      calls++;
      return { text: "x" };
    });
    const count = await post(model, "/v1/messages/count_tokens", body());
    expect(await count.json()).toMatchObject({ input_tokens: expect.any(Number) });
    expect((await fetch(model.url, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${model.url}/v1/models`)).status).toBe(200);
    expect(calls).toBe(0);
    expect(model.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /v1/messages/count_tokens",
      "HEAD /",
      "GET /v1/models",
    ]);
  });

  it("holds a hanging reply open until close()", async () => {
    const model = await startStubModel({ script: () => ({ hang: true }) });
    const pending = post(model, "/v1/messages", body()).then(
      () => "answered",
      () => "dropped",
    );
    const early = await Promise.race([pending, new Promise((r) => setTimeout(() => r("open"), 300))]);
    expect(early).toBe("open");
    await model.close();
    expect(await pending).toBe("dropped");
  });
});

describe("body helpers", () => {
  const conversation = {
    messages: [
      { role: "user", content: [{ type: "text", text: "first task" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Bash", input: { command: "ls" } }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "a.txt\nb.txt" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "t2", name: "Bash", input: { command: "pwd" } }] },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "t2", content: [{ type: "text", text: "/home/node/workspace" }] },
          { type: "text", text: "go on" },
        ],
      },
    ],
    tools: [{ name: "Bash" }],
  };

  it.each([
    { name: "countMessages", value: countMessages(conversation), expected: 5 },
    { name: "lastUserText", value: lastUserText(conversation), expected: "go on" },
    { name: "userTexts", value: userTexts(conversation), expected: ["first task", "go on"] },
    { name: "toolResultText", value: toolResultText(conversation), expected: "/home/node/workspace" },
    { name: "offersTools", value: offersTools(conversation), expected: true },
    { name: "countMessages of junk", value: countMessages("not a body"), expected: 0 },
    {
      name: "lastUserText of a string prompt",
      value: lastUserText({ messages: [{ role: "user", content: "plain" }] }),
      expected: "plain",
    },
    {
      name: "toolResultText without tools",
      value: toolResultText({ messages: [{ role: "user", content: "plain" }] }),
      expected: null,
    },
    { name: "offersTools without tools", value: offersTools({ messages: [] }), expected: false },
  ])("$name", ({ value, expected }) => {
    expect(value).toEqual(expected);
  });
});
