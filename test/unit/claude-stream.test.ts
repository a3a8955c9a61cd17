import { describe, expect, test } from "vitest";
import { ClaudeStream, claudeArgs } from "../../src/bottle/claude.js";

const lines = {
  init: JSON.stringify({ type: "system", subtype: "init", session_id: "s-1", model: "claude-x" }),
  text: JSON.stringify({
    type: "assistant",
    session_id: "s-1",
    message: { content: [{ type: "text", text: "Looking at the tests\nnow" }] },
  }),
  tool: JSON.stringify({
    type: "assistant",
    session_id: "s-1",
    message: { content: [{ type: "tool_use", name: "Bash", input: { command: "npm test" } }] },
  }),
  toolResult: JSON.stringify({
    type: "user",
    session_id: "s-1",
    message: { content: [{ type: "tool_result", content: "ok" }] },
  }),
  result: JSON.stringify({
    type: "result",
    subtype: "success",
    is_error: false,
    num_turns: 2,
    session_id: "s-1",
    total_cost_usd: 0.0123,
  }),
};

describe("reading claude's stream-json", () => {
  test("a whole session: session id, progress lines, turn ends and the result", () => {
    const stream = new ClaudeStream();
    const seen = Object.values(lines).map((l) => stream.accept(l));
    expect(stream.sessionId).toBe("s-1");
    expect(seen.map((s) => s.progress)).toEqual([
      "session s-1 started (model claude-x)",
      "claude: Looking at the tests now",
      "tool Bash: npm test",
      "  ↳ 1 tool result",
      "result: success, 2 turns, $0.0123",
    ]);
    expect(seen.map((s) => s.turnEnded)).toEqual([false, true, false, true, true]);
    expect(stream.result).toEqual({
      subtype: "success",
      is_error: false,
      num_turns: 2,
      session_id: "s-1",
      total_cost_usd: 0.0123,
    });
  });

  test("an error result is kept as an error", () => {
    const stream = new ClaudeStream();
    stream.accept(JSON.stringify({ type: "result", subtype: "error_max_turns", is_error: true, num_turns: 5 }));
    expect(stream.result?.is_error).toBe(true);
    expect(stream.result?.subtype).toBe("error_max_turns");
  });

  test("a line that is not JSON is shown, not fatal", () => {
    const stream = new ClaudeStream();
    expect(stream.accept("Error: something odd").progress).toBe("claude: Error: something odd");
    expect(stream.accept("").progress).toBeNull();
    expect(stream.result).toBeNull();
  });

  test("a killed session has a session id but no result", () => {
    const stream = new ClaudeStream();
    stream.accept(lines.init);
    stream.accept(lines.tool);
    expect(stream.sessionId).toBe("s-1");
    expect(stream.result).toBeNull();
  });
});

describe("claude's command line", () => {
  test("headless flags, the appended prompt file and optional model, turns and resume", () => {
    expect(claudeArgs({ prompt: "fix it" })).toEqual([
      "claude",
      "-p",
      "fix it",
      "--output-format",
      "stream-json",
      "--verbose",
      "--append-system-prompt-file",
      "/opt/claude-bottle/system-prompt.md",
      "--dangerously-skip-permissions",
    ]);
    expect(claudeArgs({ prompt: "go on", model: "opus", maxTurns: 7, resumeSession: "abc" }).slice(-6)).toEqual([
      "--model",
      "opus",
      "--max-turns",
      "7",
      "--resume",
      "abc",
    ]);
  });

  test("the prompt is passed as one argument, never through a shell", () => {
    const cmd = claudeArgs({ prompt: "$(rm -rf /); echo `id`" });
    expect(cmd.slice(0, 3)).toEqual(["claude", "-p", "$(rm -rf /); echo `id`"]);
  });
});
