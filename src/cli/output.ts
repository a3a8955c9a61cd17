/**
 * What `node runner` prints: lifecycle lines on stderr, and the final result on
 * stdout as text or as the one JSON object scripts parse.
 */
import type { RunResult } from "../bottle/launch/types.js";
import type { Log } from "../log/log.js";
import type { DockerClient } from "../docker/client.js";
import { neutralise } from "../log/untrusted.js";
import type { Format } from "./args.js";

export interface CliIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Created lazily: `help`, bad flags and bad manifests never touch the engine. */
  docker: () => Promise<DockerClient>;
  signal: AbortSignal;
}

/**
 * The CLI's one door to the terminal: everything written to stdout and stderr is
 * neutralised (control characters escaped, no line starts a workflow command), since
 * lines carry claude's words, file names from the work tree and reasons the agent gave.
 */
export function safeIo(io: CliIo): CliIo {
  return { ...io, stdout: (text) => io.stdout(neutralise(text)), stderr: (text) => io.stderr(neutralise(text)) };
}

/**
 * JSON for stdout. JSON already escapes control characters; `##[` (a runner's older
 * command form) is written as `##\u005b`, the same string to any JSON reader, so the
 * neutralising door leaves the document valid.
 */
export function jsonText(value: unknown, indent?: number): string {
  return `${JSON.stringify(value, null, indent).replaceAll("##[", "##\\u005b")}\n`;
}

export function stderrLog(io: Pick<CliIo, "stderr">, identity: string): Log {
  return {
    info: (line) => io.stderr(`claude-bottle [${identity}]: ${line}\n`),
    warn: (line) => io.stderr(`claude-bottle [${identity}]: warning: ${line}\n`),
    progress: (line) => io.stderr(`  ${line}\n`),
  };
}

export function printResult(result: RunResult, format: Format, io: Pick<CliIo, "stdout">): void {
  if (format === "json") {
    const { identity, outcome, exitCode, sessionId, stateDir, preserved, buildLog, timings } = result;
    const capabilityBlocks = result.capabilityBlocks.map((c) => ({
      reason: c.reason,
      policy: c.policy,
      result: c.result ?? null,
      sha256: c.sha256,
    }));
    io.stdout(
      jsonText({ identity, outcome, exitCode, sessionId, stateDir, preserved, capabilityBlocks, buildLog, timings }),
    );
    return;
  }
  const lines = [
    `outcome:  ${result.outcome}${result.exitCode !== null ? ` (claude exit ${result.exitCode})` : ""}`,
    `identity: ${result.identity}`,
    `session:  ${result.sessionId ?? "(none)"}`,
    `state:    ${result.preserved ? `${result.stateDir} (preserved)` : "removed"}`,
  ];
  for (const c of result.capabilityBlocks) {
    lines.push(`asked:    a different image (${c.policy}${c.result ? `, ${c.result}` : ""}): ${c.reason}`);
  }
  if (result.buildLog) lines.push(`build:    failed, log in ${result.buildLog}`);
  if (result.preserved) lines.push(`resume:   node runner resume ${result.identity}`);
  io.stdout(`${lines.join("\n")}\n`);
}
