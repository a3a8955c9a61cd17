#!/usr/bin/env node
/**
 * A scriptable stand-in for the claude CLI, for scenario tests that must be fast
 * and exact about how a session ends. It takes the real command line, keeps a
 * transcript where the real one does (so snapshots and `--resume` behave alike)
 * and prints stream-json events shaped like the real ones. What happens is
 * scripted through the prompt:
 *
 *   FAKE:{"steps":[...],"end":"success"}
 *
 * steps: {"say": text} | {"sleep": ms} | {"write": {"path", "content"}} |
 *        {"run": shell command} | {"report-env": [NAME, ...]}
 * end:   "success" (exit 0) | "error-result" (is_error result, exit 0) |
 *        "max-turns" (error_max_turns, exit 1) | "crash" (SIGKILLs itself, no
 *        result) | "hang" (never ends)
 *
 * Any other prompt gets one short acknowledgement and a success. Plain JS and
 * Node built-ins only: it is copied into a bare image as a single file.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const VERSION = "0.0.0-fake (Claude Code)";
const TOOLS = ["Bash", "Edit", "Read", "Write"];
const ENDS = ["success", "error-result", "max-turns", "crash", "hang"];
const VALUE_FLAGS = new Set([
  "--output-format",
  "--input-format",
  "--append-system-prompt-file",
  "--append-system-prompt",
  "--system-prompt",
  "--system-prompt-file",
  "--model",
  "--max-turns",
  "--resume",
  "-r",
  "--allowedTools",
  "--allowed-tools",
  "--disallowedTools",
  "--disallowed-tools",
  "--permission-mode",
  "--mcp-config",
  "--settings",
  "--session-id",
  "--add-dir",
]);

// stdout and the transcript are written synchronously: a scenario that kills
// itself must leave behind exactly what it printed and recorded so far.
function emit(event) {
  writeSync(1, `${JSON.stringify(event)}\n`);
}

function fail(message, code = 1) {
  writeSync(2, `${message}\n`);
  process.exit(code);
}

function parseArgs(argv) {
  const opts = {
    prompt: undefined,
    model: "claude-fake",
    maxTurns: undefined,
    resume: undefined,
    appendSystemPromptFile: undefined,
  };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--version" || arg === "-v") {
      writeSync(1, `${VERSION}\n`);
      process.exit(0);
    }
    if (arg.startsWith("--") && arg.includes("=")) continue;
    if (VALUE_FLAGS.has(arg)) {
      const value = argv[++i];
      if (value === undefined) fail(`error: option '${arg}' argument missing`);
      if (arg === "--model") opts.model = value;
      else if (arg === "--max-turns") opts.maxTurns = Number(value);
      else if (arg === "--resume" || arg === "-r") opts.resume = value;
      else if (arg === "--append-system-prompt-file") opts.appendSystemPromptFile = value;
      continue;
    }
    if (arg.startsWith("-")) continue;
    positional.push(arg);
  }
  opts.prompt = positional.join(" ");
  return opts;
}

function parseScenario(prompt) {
  if (!prompt.startsWith("FAKE:")) return { steps: [{ say: `Acknowledged: ${prompt.slice(0, 80)}` }], end: "success" };
  let scenario;
  try {
    scenario = JSON.parse(prompt.slice("FAKE:".length));
  } catch (err) {
    fail(`fake claude: the FAKE: scenario is not JSON: ${err.message}`);
  }
  const steps = Array.isArray(scenario?.steps) ? scenario.steps : [];
  const end = scenario?.end ?? "success";
  if (!ENDS.includes(end)) fail(`fake claude: unknown end ${JSON.stringify(end)}; use one of ${ENDS.join(", ")}`);
  return { steps, end };
}

/** The real CLI's layout: one folder per cwd, every non-alphanumeric character turned into "-". */
function transcriptFile(home, cwd, sessionId) {
  return join(home, ".claude", "projects", cwd.replace(/[^a-zA-Z0-9]/g, "-"), `${sessionId}.jsonl`);
}

function countLines(file) {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "").length;
}

function writeSettings(home, cwd, sessionId) {
  const file = join(home, ".claude.json");
  let settings = {};
  try {
    settings = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // First start, or a file the fake cannot read: start over like a fresh install.
  }
  settings.numStartups = (settings.numStartups ?? 0) + 1;
  settings.firstStartTime ??= new Date().toISOString();
  settings.projects ??= {};
  settings.projects[cwd] = { ...settings.projects[cwd], lastSessionId: sessionId };
  writeFileSync(file, `${JSON.stringify(settings, null, 2)}\n`);
}

function runShell(command, cwd) {
  return new Promise((resolveRun) => {
    const child = spawn("sh", ["-c", command], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.on("error", (err) => resolveRun({ output: `${output}${err.message}`, code: 127 }));
    child.on("close", (code, signal) => resolveRun({ output, code: code ?? (signal ? 128 : 1) }));
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const home = process.env.HOME || homedir();
  const cwd = process.cwd();

  if (opts.appendSystemPromptFile !== undefined && !existsSync(opts.appendSystemPromptFile)) {
    fail(`Error: Append system prompt file not found: ${opts.appendSystemPromptFile}`);
  }
  if (!opts.prompt)
    fail("Error: Input must be provided either through stdin or as a prompt argument when using --print");

  const sessionId = opts.resume ?? randomUUID();
  const transcript = transcriptFile(home, cwd, sessionId);
  let earlier = 0;
  if (opts.resume !== undefined) {
    if (!existsSync(transcript)) {
      writeSync(2, `No conversation found with session ID: ${sessionId}\n`);
      emit({
        type: "result",
        subtype: "error_during_execution",
        is_error: true,
        num_turns: 0,
        session_id: sessionId,
        result: `No conversation found with session ID: ${sessionId}`,
        total_cost_usd: 0,
      });
      process.exit(1);
    }
    earlier = countLines(transcript);
  }
  mkdirSync(dirname(transcript), { recursive: true });
  writeSettings(home, cwd, sessionId);

  let parentUuid = null;
  const record = (type, message) => {
    const uuid = randomUUID();
    appendFileSync(
      transcript,
      `${JSON.stringify({ type, message, uuid, parentUuid, sessionId, cwd, timestamp: new Date().toISOString() })}\n`,
    );
    parentUuid = uuid;
  };

  const { steps, end } = parseScenario(opts.prompt);
  emit({
    type: "system",
    subtype: "init",
    session_id: sessionId,
    cwd,
    model: opts.model,
    tools: TOOLS,
    permissionMode: "bypassPermissions",
  });
  record("user", { role: "user", content: opts.prompt });

  let turns = 0;
  const result = (subtype, isError, text) =>
    emit({
      type: "result",
      subtype,
      is_error: isError,
      num_turns: turns,
      session_id: sessionId,
      result: text,
      total_cost_usd: 0,
    });

  // Every assistant message is a turn; --max-turns stops the session like the real one does.
  const assistant = (content) => {
    if (opts.maxTurns !== undefined && turns >= opts.maxTurns) {
      result("error_max_turns", true, `Reached maximum number of turns (${opts.maxTurns})`);
      process.exit(1);
    }
    turns++;
    const message = { role: "assistant", model: opts.model, content };
    record("assistant", message);
    emit({ type: "assistant", message, session_id: sessionId });
  };
  const say = (text) => assistant([{ type: "text", text }]);
  const toolResult = (id, content, isError) => {
    const message = { role: "user", content: [{ type: "tool_result", tool_use_id: id, content, is_error: isError }] };
    record("user", message);
    emit({ type: "user", message, session_id: sessionId });
  };
  const toolUse = (name, input) => {
    const id = `toolu_fake_${randomUUID().replaceAll("-", "")}`;
    assistant([{ type: "tool_use", id, name, input }]);
    return id;
  };

  if (opts.resume !== undefined) say(`resumed session ${sessionId} with ${earlier} earlier entries`);

  let lastText = "";
  for (const step of steps) {
    if (typeof step?.say === "string") {
      say(step.say);
      lastText = step.say;
    } else if (typeof step?.sleep === "number") {
      await sleep(step.sleep);
    } else if (step?.write && typeof step.write.path === "string") {
      const id = toolUse("Write", { file_path: step.write.path, content: String(step.write.content ?? "") });
      const target = resolve(cwd, step.write.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, String(step.write.content ?? ""));
      toolResult(id, `File created successfully at: ${target}`, false);
    } else if (typeof step?.run === "string") {
      const id = toolUse("Bash", { command: step.run, description: "scripted command" });
      const { output, code } = await runShell(step.run, cwd);
      toolResult(id, code === 0 ? output : `${output}\nExit code ${code}`, code !== 0);
    } else if (Array.isArray(step?.["report-env"])) {
      for (const name of step["report-env"]) {
        const value = process.env[name];
        say(value === undefined ? `env ${name} is unset` : `env ${name}=${value}`);
      }
    } else {
      fail(`fake claude: unknown step ${JSON.stringify(step)}`);
    }
  }

  switch (end) {
    case "success":
      result("success", false, lastText || "Done.");
      process.exit(0);
      break;
    case "error-result":
      result("success", true, "API Error: 500 the fake model failed on purpose");
      process.exit(0);
      break;
    case "max-turns":
      result("error_max_turns", true, `Reached maximum number of turns (${opts.maxTurns ?? turns})`);
      process.exit(1);
      break;
    case "crash":
      process.kill(process.pid, "SIGKILL");
      break;
    case "hang":
      // A pending timer keeps the event loop, and the process, alive until a signal ends it.
      setInterval(() => {}, 1 << 30);
      break;
  }
}

await main();
