#!/usr/bin/env node
/**
 * A scriptable fake of the claude CLI for fast scenario tests. It takes the same
 * command line as the real one, keeps a transcript where the real one does
 * (~/.claude/projects/-home-node-workspace/<session>.jsonl) and prints stream-json
 * events. The prompt `FAKE:{"steps":[...],"end":"..."}` scripts what it does:
 *   steps: {"say": text} | {"sleep": ms} | {"write": {"path", "content"}} | {"run": "sh command"}
 *          | {"report-env": ["NAME", ...]}
 *   end:   "success" | "error-result" | "max-turns" | "crash" | "hang"
 * With --resume it needs the session's transcript and says how many earlier
 * entries it found, so tests can check that a resumed session saw its history.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const prompt = flag("-p") ?? "";
const resume = flag("--resume");
const home = process.env.HOME ?? "/home/node";
const projectDir = join(home, ".claude", "projects", process.cwd().replaceAll("/", "-"));
const sessionId = resume ?? randomUUID();
const transcript = join(projectDir, `${sessionId}.jsonl`);

const emit = (event) => process.stdout.write(`${JSON.stringify({ ...event, session_id: sessionId })}\n`);
const record = (entry) => appendFileSync(transcript, `${JSON.stringify({ ...entry, sessionId, timestamp: new Date().toISOString() })}\n`);
let turns = 0;
const say = (text) => {
  turns++;
  record({ type: "assistant", text });
  emit({ type: "assistant", message: { role: "assistant", content: [{ type: "text", text }] } });
};
const result = (subtype, isError, text) => emit({ type: "result", subtype, is_error: isError, num_turns: turns, result: text, total_cost_usd: 0 });

if (resume && !existsSync(transcript)) {
  result("error_during_execution", true, `No conversation found with session ID: ${resume}`);
  process.exit(1);
}
mkdirSync(projectDir, { recursive: true });
writeFileSync(join(home, ".claude.json"), JSON.stringify({ firstStartTime: new Date().toISOString(), projects: {} }));
const earlier = resume ? readFileSync(transcript, "utf8").split("\n").filter(Boolean).length : 0;

emit({ type: "system", subtype: "init", cwd: process.cwd(), model: flag("--model") ?? "fake-model", tools: ["Bash", "Write"] });
record({ type: "user", text: prompt });
if (resume) say(`resumed session ${sessionId} with ${earlier} earlier entries`);

let scenario = { steps: [{ say: `ok: ${prompt.slice(0, 60)}` }], end: "success" };
if (prompt.startsWith("FAKE:")) scenario = { end: "success", steps: [], ...JSON.parse(prompt.slice(5)) };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const step of scenario.steps) {
  if ("say" in step) say(step.say);
  else if ("sleep" in step) await sleep(step.sleep);
  else if ("write" in step) {
    const path = join(process.cwd(), step.write.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, step.write.content);
    say(`wrote ${step.write.path}`);
  } else if ("run" in step) {
    turns++;
    const id = `toolu_${randomUUID().slice(0, 8)}`;
    emit({ type: "assistant", message: { role: "assistant", content: [{ type: "tool_use", id, name: "Bash", input: { command: step.run } }] } });
    let output;
    let failed = false;
    try {
      output = execFileSync("sh", ["-c", step.run], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      failed = true;
      output = `${error.stdout ?? ""}${error.stderr ?? ""}`;
    }
    record({ type: "tool", command: step.run, output });
    emit({ type: "user", message: { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: output, is_error: failed }] } });
  } else if ("report-env" in step) {
    for (const name of step["report-env"]) say(`env ${name}=${process.env[name] ?? "(unset)"}`);
  }
}

switch (scenario.end) {
  case "success":
    result("success", false, "done");
    process.exit(0);
    break;
  case "error-result":
    result("success", true, "API Error: 500 overloaded");
    process.exit(0);
    break;
  case "max-turns":
    result("error_max_turns", true, "reached max turns");
    process.exit(1);
    break;
  case "crash":
    process.kill(process.pid, "SIGKILL");
    break;
  case "hang":
    setInterval(() => {}, 1 << 30);
    break;
  default:
    throw new Error(`unknown end ${scenario.end}`);
}
