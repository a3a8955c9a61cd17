/**
 * Stopping claude: the one TERM → grace → kill sequence, for a timeout, an
 * interrupt, an accepted capability-block, and a dead runner's bottle that
 * `cleanup` rescues.
 *
 * Nothing the agent can touch decides whether it works. SIGTERM goes to the
 * container's exec'd processes, found as the ones whose parent is outside the
 * container (`PPid: 0` from inside), which no process in the bottle can forge, by
 * a script of shell builtins that never forks, so it runs even when the agent has
 * filled the bottle's pid limit. Whether claude has ended is the engine's word: the
 * caller's exec returned, or the engine lists no running exec in the container.
 * When claude has not ended within the grace (it ignores the signal, it is frozen,
 * the exec could not start), the engine kills the agent container, which ends every
 * process in it; the stopped container stays until teardown, so the final snapshot
 * still reads it through the archive API.
 */
import type { DockerClient } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import { AGENT_USER } from "../claude.js";

/** How long claude has to end after SIGTERM before the engine kills its container. */
export const STOP_GRACE_MS = 5_000;
const EXEC_POLL_MS = 200;
const RETRY_MS = 250;

/**
 * SIGTERM to every exec'd process of the container but this script's own shell.
 * Builtins only (`for`, `read`, `[`, `kill`): a fork would fail at the pid limit.
 */
export const TERM_EXECS_SCRIPT = [
  "for d in /proc/[0-9]*; do",
  '  p=${d#/proc/}; [ "$p" = 1 ] || [ "$p" = $$ ] && continue',
  '  ppid=; { while read -r k v; do [ "$k" = PPid: ] && { ppid=$v; break; }; done; } 2>/dev/null <"$d/status"',
  '  [ "$ppid" = 0 ] && kill -TERM "$p" 2>/dev/null',
  "done; true",
].join("\n");

export type StopResult = "ended" | "killed";

export interface StopLog {
  warn(line: string): void;
}

/**
 * Asks claude to stop and makes sure it has within the grace. `ended` settles when
 * claude's exec has ended, for a caller that runs it; without it the engine's list of
 * the container's running execs is watched instead.
 */
export async function stopClaude(
  docker: DockerClient,
  container: string,
  log: StopLog,
  ended?: Promise<unknown>,
  graceMs = STOP_GRACE_MS,
): Promise<StopResult> {
  const watching = new AbortController();
  const claudeEnded = ended ?? noExecRunning(docker, container, watching.signal);
  // Never awaited: an exec that cannot start or hangs must not hold the stop up.
  void askToStop(docker, container, watching.signal);
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<"grace">((resolve) => (timer = setTimeout(() => resolve("grace"), graceMs)));
  try {
    const first = await Promise.race([
      claudeEnded.then(
        () => "ended" as const,
        () => "ended" as const,
      ),
      graceOver,
    ]);
    if (first === "ended") return "ended";
  } finally {
    clearTimeout(timer);
    watching.abort();
  }
  log.warn(`claude did not stop within ${graceMs / 1000}s of SIGTERM: the agent container was killed`);
  await docker
    .killContainer(container)
    .catch((error: unknown) => log.warn(`killing the agent container failed: ${errorMessage(error)}`));
  return "killed";
}

/**
 * Sends SIGTERM through an exec, again while the exec cannot start (at the pid limit
 * the engine's exec fails now and then), until it runs or `stop` is aborted.
 */
async function askToStop(docker: DockerClient, container: string, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const code = await docker
      .exec(container, { cmd: ["sh", "-c", TERM_EXECS_SCRIPT], user: AGENT_USER })
      .catch(() => -1);
    if (code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

/** Settles once the engine lists no running exec in the container (or `stop` is aborted). */
async function noExecRunning(docker: DockerClient, container: string, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const running = await docker.runningExecs(container).catch(() => null);
    // Only the stop script itself may still be finishing; anything else is claude (or what it left running).
    if (running !== null && running.every((e) => e.command.join(" ") === `sh -c ${TERM_EXECS_SCRIPT}`)) return;
    await new Promise((resolve) => setTimeout(resolve, EXEC_POLL_MS));
  }
}
