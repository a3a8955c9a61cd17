/**
 * claude's session: exec'd in the agent container, its stream-json events kept in
 * the state and turned into progress lines, its transcript snapshotted at the end
 * of each turn and on an interval. A timeout, an interrupt or an accepted
 * capability-block stops it (stop.ts: SIGTERM, one grace, then the engine's kill).
 */
import { errorMessage } from "../../errors.js";
import type { StateBudget } from "../../state/budget.js";
import { lineSplitter } from "../../stream/lines.js";
import { AGENT_USER, AGENT_WORKSPACE, ClaudeStream } from "../claude.js";
import type { SessionEnd } from "../outcome.js";
import type { BottlePlan } from "../plan.js";
import { Snapshotter, snapshotTranscript } from "./snapshots.js";
import { stopClaude } from "./stop.js";
import type { LaunchDeps, Phase } from "./types.js";

/** After a proposal, claude has this long to take in the tool's answer and write its transcript. */
const CAPABILITY_SETTLE_MS = 3_000;

export interface SessionStart {
  plan: BottlePlan;
  deps: LaunchDeps;
  agentId: string;
  /** Aborted once a capability-block proposal is accepted. */
  proposal: AbortSignal;
  pause: (phase: Phase) => Promise<void>;
  budget: StateBudget;
}

export interface SessionResult {
  end: Pick<SessionEnd, "exitCode" | "result" | "timedOut" | "interrupted">;
  sessionId: string | null;
  turns: number;
}

export async function runSession({
  plan,
  deps,
  agentId,
  proposal,
  pause,
  budget,
}: SessionStart): Promise<SessionResult> {
  const { docker, state, log } = deps;
  const stream = new ClaudeStream();
  const events = state.appendEvents(plan.identity);
  const source = { docker, state, container: agentId, identity: plan.identity, budget };
  const snapshots = new Snapshotter(() => snapshotTranscript(source, () => pause("snapshot")), log);
  let timedOut = false;
  let interrupted = false;
  let finished = false;
  let recordedSession: string | null = null;
  let claudeEnded = () => {};
  const ended = new Promise<void>((resolve) => (claudeEnded = resolve));
  let stopping: Promise<unknown> | null = null;

  const stop = (why: string) => {
    if (finished || stopping) return;
    log.info(`${why}: stopping claude`);
    stopping = stopClaude(docker, agentId, log, ended);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop(`timeout after ${Math.round(plan.timeoutMs / 1000)}s`);
  }, plan.timeoutMs);
  const onAbort = () => {
    interrupted = true;
    stop("interrupted");
  };
  deps.signal.addEventListener("abort", onAbort, { once: true });
  let settle: NodeJS.Timeout | null = null;
  const onProposal = () => {
    log.info("capability-block accepted: the session ends once claude has the answer");
    // Give claude a moment to take in the tool's answer and write it to its transcript.
    settle = setTimeout(() => stop("capability-block"), CAPABILITY_SETTLE_MS);
  };
  proposal.addEventListener("abort", onProposal, { once: true });
  const interval = setInterval(() => snapshots.request(), plan.snapshotIntervalMs);

  const stdout = lineSplitter((line) => {
    if (budget.admitLog(Buffer.byteLength(line) + 1)) events.write(`${line}\n`);
    const effects = stream.accept(line);
    if (effects.progress) for (const l of effects.progress.split("\n")) log.progress(l);
    if (stream.sessionId && stream.sessionId !== recordedSession) {
      recordedSession = stream.sessionId;
      // Recorded at once: a crash before the first snapshot must still be resumable by id.
      void state
        .updateMetadata(plan.identity, { sessionId: stream.sessionId })
        .catch((e) => log.warn(`recording the session id failed: ${errorMessage(e)}`));
    }
    if (effects.turnEnded) snapshots.request();
  });
  const stderr = lineSplitter((line) => {
    if (line.trim()) log.progress(`claude (stderr): ${line}`);
  });

  let exitCode: number;
  try {
    if (deps.signal.aborted) onAbort();
    exitCode = await docker.exec(
      agentId,
      { cmd: plan.agentContainer.command, user: AGENT_USER, workingDir: AGENT_WORKSPACE },
      { stdout: (c) => stdout.push(c), stderr: (c) => stderr.push(c) },
    );
  } finally {
    finished = true;
    claudeEnded();
    // A container the stop killed is stopped before the final snapshot reads it.
    await stopping;
    clearTimeout(timer);
    if (settle) clearTimeout(settle);
    clearInterval(interval);
    deps.signal.removeEventListener("abort", onAbort);
    proposal.removeEventListener("abort", onProposal);
    stdout.flush();
    stderr.flush();
    await new Promise<void>((r) => events.end(r));
    await snapshots.idle();
  }
  log.info(`claude exited with code ${exitCode}`);
  return {
    end: { exitCode, result: stream.result, timedOut, interrupted },
    sessionId: stream.sessionId,
    turns: stream.turns,
  };
}
