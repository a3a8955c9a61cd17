/**
 * What a runner makes of a step's stdout, as GitHub's runner reads it: lines split
 * on CR, LF or CRLF (.NET's ReadLine); a command is `::name props::data` once leading
 * whitespace is trimmed, or the older `##[name props]data` anywhere in a line; after
 * `::stop-commands::<token>` nothing is a command until `::<token>::`.
 */
export interface WorkflowCommand {
  name: string;
  properties: string;
  data: string;
  line: string;
}

const V2 = /^::([A-Za-z-]+)(?:\s+([^:]*))?::(.*)$/;
const V1 = /##\[([A-Za-z-]+)(?:\s+([^\]]*))?\](.*)$/;

export function runnerLines(stdout: string): string[] {
  return stdout.split(/\r\n|\r|\n/);
}

export function workflowCommands(stdout: string): WorkflowCommand[] {
  const found: WorkflowCommand[] = [];
  let stopToken: string | null = null;
  for (const line of runnerLines(stdout)) {
    const trimmed = line.trimStart();
    const m = V2.exec(trimmed) ?? V1.exec(line);
    if (!m) continue;
    const command = { name: m[1] as string, properties: m[2] ?? "", data: m[3] ?? "", line };
    if (stopToken !== null) {
      if (command.name === stopToken) stopToken = null;
      continue;
    }
    if (command.name === "stop-commands") stopToken = command.data;
    found.push(command);
  }
  return found;
}
