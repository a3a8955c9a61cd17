/**
 * What claude prints: its stream-json events go to the state's events.jsonl
 * (within the state's budget) and become progress lines; its session id is
 * recorded as soon as it is seen; the end of a turn asks for a snapshot.
 */
import type { WriteStream } from "node:fs";
import { errorMessage } from "../../errors.js";
import type { StateBudget } from "../../state/budget.js";
import { type LineSplitter, lineSplitter } from "../../stream/lines.js";
import { ClaudeStream } from "../claude.js";
import type { LaunchDeps } from "./types.js";

export class ClaudeOutput {
  readonly stream = new ClaudeStream();
  readonly stdout: LineSplitter;
  readonly stderr: LineSplitter;
  private readonly events: WriteStream;
  private recordedSession: string | null = null;

  constructor(
    private readonly identity: string,
    private readonly deps: Pick<LaunchDeps, "state" | "log">,
    private readonly budget: StateBudget,
    private readonly turnEnded: () => void,
  ) {
    this.events = deps.state.appendEvents(identity);
    this.stdout = lineSplitter((line) => this.event(line));
    this.stderr = lineSplitter((line) => {
      if (line.trim()) deps.log.progress(`claude (stderr): ${line}`);
    });
  }

  /** The session's id and turns, as the events told them. */
  session(): { sessionId: string | null; turns: number } {
    return { sessionId: this.stream.sessionId, turns: this.stream.turns };
  }

  /** Hands over the last unterminated lines and closes events.jsonl. */
  async close(): Promise<void> {
    this.stdout.flush();
    this.stderr.flush();
    await new Promise<void>((resolve) => this.events.end(resolve));
  }

  private event(line: string): void {
    const { state, log } = this.deps;
    if (this.budget.admitLog(Buffer.byteLength(line) + 1)) this.events.write(`${line}\n`);
    const effects = this.stream.accept(line);
    if (effects.progress) for (const l of effects.progress.split("\n")) log.progress(l);
    const sessionId = this.stream.sessionId;
    if (sessionId && sessionId !== this.recordedSession) {
      this.recordedSession = sessionId;
      // Recorded at once: a crash before the first snapshot must still be resumable by id.
      void state
        .updateMetadata(this.identity, { sessionId })
        .catch((e) => log.warn(`recording the session id failed: ${errorMessage(e)}`));
    }
    if (effects.turnEnded) this.turnEnded();
  }
}
