/**
 * claude's session: exec'd in the agent container (the one place claude runs), its
 * output read by ClaudeOutput, its transcript snapshotted at the end of each turn
 * and on an interval. A timeout, an interrupt or an accepted capability-block
 * stops it (stop.ts: SIGTERM, one grace, then the engine's kill).
 */
import type { StateBudget } from "../../state/budget.js";
import { AGENT_USER, AGENT_WORKSPACE } from "../claude.js";
import type { SessionEnd } from "../../state/outcome.js";
import type { BottlePlan } from "../plan.js";
import { GVISOR_RUNTIME } from "../runtime.js";
import { AgentWatch } from "./agent-watch.js";
import { ClaudeOutput } from "./claude-output.js";
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
  const source = { docker, state, container: agentId, identity: plan.identity, budget };
  const snapshots = new Snapshotter(() => snapshotTranscript(source, () => pause("snapshot")), log);
  const output = new ClaudeOutput(plan.identity, deps, budget, () => snapshots.request());
  const stops = new SessionStops(plan, deps, agentId, proposal);
  const interval = setInterval(() => snapshots.request(), plan.snapshotIntervalMs);
  const watch = new AgentWatch(docker, agentId);
  let exitCode: number | null = null;
  try {
    stops.checkAborted();
    exitCode = await docker.exec(
      agentId,
      { cmd: plan.agentContainer.command, user: AGENT_USER, workingDir: AGENT_WORKSPACE },
      { stdout: (c) => output.stdout.push(c), stderr: (c) => output.stderr.push(c), signal: watch.execSignal },
    );
  } finally {
    const stoppedWith = await watch.end(exitCode !== 0);
    if (stoppedWith !== null && !stops.requested) log.warn(containerStopped(stoppedWith, plan));
    // A container the stop killed is stopped before the final snapshot reads it.
    await stops.claudeEnded();
    clearInterval(interval);
    await output.close();
    // The final snapshot reads the transcript next: none starts now, and one under way is let finish.
    await snapshots.close();
  }
  log.info(`claude exited with code ${exitCode}`);
  const { timedOut, interrupted } = stops;
  return { end: { exitCode, result: output.stream.result, timedOut, interrupted }, ...output.session() };
}

function containerStopped(code: number, plan: BottlePlan): string {
  const why =
    plan.agentContainer.runtime === GVISOR_RUNTIME
      ? `; under gVisor the sandbox ends as a whole when it cannot create a process, as at limits.pids ` +
        `(${plan.agentContainer.pids})`
      : "";
  return `the agent container stopped (exit code ${code}) while claude ran${why}`;
}

/** Why claude is stopped before it ends by itself: the bottle's timeout, an interrupt, an accepted proposal. */
class SessionStops {
  timedOut = false;
  interrupted = false;
  private finished = false;
  private stopping: Promise<unknown> | null = null;
  private readonly ended: Promise<void>;
  private markEnded = () => {};
  private readonly timer: NodeJS.Timeout;
  private settle: NodeJS.Timeout | null = null;

  constructor(
    plan: BottlePlan,
    private readonly deps: LaunchDeps,
    private readonly agentId: string,
    private readonly proposal: AbortSignal,
  ) {
    this.ended = new Promise<void>((resolve) => (this.markEnded = resolve));
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.stop(`timeout after ${Math.round(plan.timeoutMs / 1000)}s`);
    }, plan.timeoutMs);
    deps.signal.addEventListener("abort", this.onAbort, { once: true });
    proposal.addEventListener("abort", this.onProposal, { once: true });
  }

  /** Whether a stop was asked for (a timeout, an interrupt, a proposal). */
  get requested(): boolean {
    return this.stopping !== null;
  }

  /** An interrupt that came before claude was exec'd stops it at once. */
  checkAborted(): void {
    if (this.deps.signal.aborted) this.onAbort();
  }

  /** claude's exec returned: no stop starts now, and one under way has finished once this resolves. */
  async claudeEnded(): Promise<void> {
    this.finished = true;
    this.markEnded();
    await this.stopping;
    clearTimeout(this.timer);
    if (this.settle) clearTimeout(this.settle);
    this.deps.signal.removeEventListener("abort", this.onAbort);
    this.proposal.removeEventListener("abort", this.onProposal);
  }

  private readonly onAbort = () => {
    this.interrupted = true;
    this.stop("interrupted");
  };

  private readonly onProposal = () => {
    this.deps.log.info("capability-block accepted: the session ends once claude has the answer");
    // Give claude a moment to take in the tool's answer and write it to its transcript.
    this.settle = setTimeout(() => this.stop("capability-block"), CAPABILITY_SETTLE_MS);
  };

  private stop(why: string): void {
    if (this.finished || this.stopping) return;
    this.deps.log.info(`${why}: stopping claude`);
    this.stopping = stopClaude(this.deps.docker, this.agentId, this.deps.log, this.ended);
  }
}
