/**
 * The agent container, watched through the engine while claude runs. When it stops
 * under claude — killed by a stop, or ended on its own (gVisor ends its whole sandbox
 * when it cannot create a process, as at the bottle's pid limit) — claude's exec gets
 * a moment to deliver its last output and is then given up: under gVisor its stream
 * never ends once the sandbox is gone, and the session must not wait on it.
 */
import type { DockerClient } from "../../docker/client.js";

/** How long claude's exec may go on delivering output after its container stopped. */
export const EXEC_DRAIN_MS = 2_000;

/** How long the engine gets to report a stopped container after claude's exec failed. */
const STOP_REPORT_MS = 500;

export class AgentWatch {
  /** Aborted once the container has been stopped for EXEC_DRAIN_MS: the exec is given up. */
  readonly execSignal: AbortSignal;
  private readonly waiting = new AbortController();
  private readonly giveUp = new AbortController();
  private readonly stopped: Promise<number | null>;
  private drain: NodeJS.Timeout | undefined;

  constructor(docker: DockerClient, container: string) {
    this.execSignal = this.giveUp.signal;
    // An engine that cannot be asked leaves the exec to end by itself, as before.
    this.stopped = docker.waitStopped(container, this.waiting.signal).catch(() => null);
    void this.stopped.then((code) => {
      if (code !== null) this.drain = setTimeout(() => this.giveUp.abort(), EXEC_DRAIN_MS);
    });
  }

  /**
   * Stops watching, claude's exec having returned, and says whether the container
   * had stopped under it: its exit code, or null. After a failed exec the engine gets
   * a moment to report it (an exec can end a moment before its container).
   */
  async end(execFailed: boolean): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const wait = new Promise<null>(
      (resolve) => (timer = setTimeout(() => resolve(null), execFailed ? STOP_REPORT_MS : 0)),
    );
    const code = await Promise.race([this.stopped, wait]);
    clearTimeout(timer);
    clearTimeout(this.drain);
    this.waiting.abort();
    return code;
  }
}
