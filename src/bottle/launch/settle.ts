/**
 * Settling a launch once its resources are gone: the outcome is decided
 * (outcome.ts) and recorded, and the state is either kept for a resume or, after a
 * clean success, the work tree copied back and the state removed.
 */
import { errorMessage } from "../../errors.js";
import { type StateBudget, StateLimitExceeded } from "../../state/budget.js";
import { launchHistory, type Metadata } from "../../state/metadata.js";
import type { Proposal } from "../../supervise/config.js";
import { formatSize } from "../../manifest/size.js";
import { removeBottleState } from "../bottle-image.js";
import type { EgressSummary } from "../egress-log.js";
import { decideOutcome, type Outcome, preserves } from "../../state/outcome.js";
import type { BottlePlan } from "../plan.js";
import { copyWorkTreeBack } from "../worktree-copy-back.js";
import { keepProposal, markBuildFailed } from "./capability-block.js";
import type { SessionResult } from "./session.js";
import {
  BuildFailed,
  type CapabilityBlockRecord,
  Interrupted,
  type LaunchDeps,
  LaunchError,
  type RunResult,
  type Timings,
} from "./types.js";

/** What a launch leaves to settle, whatever became of it. */
export interface Settling {
  plan: BottlePlan;
  deps: LaunchDeps;
  /** The metadata as this launch last wrote it. */
  metadata: Metadata;
  egress: EgressSummary;
  history: CapabilityBlockRecord[];
  timings: Timings;
}

/** claude ran: the outcome decides what is kept; `failure` is what failed after claude ended (its final snapshot). */
export async function settleSession(
  s: Settling,
  session: SessionResult,
  failure: unknown,
  proposal: Proposal | null,
  budget: StateBudget | null,
): Promise<RunResult> {
  const { plan, deps, history } = s;
  const { state, log } = deps;
  if (failure) log.warn(`final snapshot failed: ${errorMessage(failure)}; the last periodic snapshot is kept`);
  const dropped = budget?.droppedLogs();
  if (dropped) log.warn(dropped);
  if (proposal && plan.supervise) history.push(await keepProposal(plan, deps, proposal));
  const stateLimit = failure instanceof StateLimitExceeded;
  const decided = decideOutcome({ ...session.end, capabilityBlock: proposal !== null, stateLimit });
  // The work tree comes back only from a final snapshot: without one, a success keeps the state instead.
  const outcome = failure && decided === "success" ? "error" : decided;
  if (outcome !== decided) {
    log.warn(
      "claude succeeded, but without a final snapshot the work tree cannot be copied back: " +
        "outcome error, the state is kept",
    );
  }
  const keep = preserves(outcome);
  const metadata = await recordOutcome(s, session, outcome, keep);
  if (keep) {
    log.info(`outcome ${outcome}: state preserved in ${state.dir(plan.identity)}`);
    if (outcome === "state-limit") log.warn(stateLimitAdvice(plan));
    const rebuilding = history.at(-1)?.policy === "rebuild" && outcome === "capability-block";
    if (!rebuilding) log.info(`to resume this bottle: node runner resume ${plan.identity}`);
    return toResult(s, metadata, { exitCode: session.end.exitCode, preserved: true, workTreeNotes: [] });
  }
  const workTreeNotes = await copyWorkspaceBack(plan, deps);
  await deps
    .beforeCleanup?.(state.dir(plan.identity))
    .catch((e: unknown) => log.warn(`before cleaning up: ${errorMessage(e)}`));
  await removeBottleState(plan.identity, deps);
  log.info(`outcome ${outcome}: work tree copied to ${plan.workspace}; state removed`);
  return toResult(s, metadata, { exitCode: session.end.exitCode, preserved: false, workTreeNotes });
}

async function recordOutcome(s: Settling, session: SessionResult, outcome: Outcome, keep: boolean): Promise<Metadata> {
  const { plan, deps } = s;
  const { state } = deps;
  try {
    const metadata = await state.updateMetadata(plan.identity, {
      sessionId: session.sessionId ?? s.metadata.sessionId,
      outcome,
      exitCode: session.end.exitCode,
      endedAt: deps.clock.now().toISOString(),
      numTurns: session.end.result?.num_turns ?? session.turns,
      costUsd: session.end.result?.total_cost_usd ?? null,
    });
    if (keep) await state.markPreserved(plan.identity);
    return metadata;
  } catch (error) {
    // A full disk, most often: the state keeps its last snapshot and stays resumable once there is room.
    throw new Error(
      `could not record the outcome ${outcome} in ${state.dir(plan.identity)}: ${errorMessage(error)}; ` +
        `the state there keeps its last snapshot: free some space, then resume ${plan.identity}`,
    );
  }
}

/** A launch that never got claude running: resume state stays preserved, a fresh start leaves nothing. */
export async function settleLaunchFailure(s: Settling, failure: unknown): Promise<RunResult> {
  const { plan, deps } = s;
  const { state } = deps;
  if (failure instanceof BuildFailed) return settleBuildFailure(s, failure);
  const interrupted = failure instanceof Interrupted;
  const hadSession = plan.mode === "resume";
  if (hadSession) {
    await state.updateMetadata(plan.identity, {
      outcome: interrupted ? "interrupted" : "error",
      endedAt: deps.clock.now().toISOString(),
    });
    await state.markPreserved(plan.identity);
  } else {
    await removeBottleState(plan.identity, deps);
  }
  if (!interrupted) throw failure instanceof Error ? failure : new LaunchError(String(failure));
  deps.log.info(
    hadSession
      ? `interrupted before claude started; state kept: node runner resume ${plan.identity}`
      : "interrupted before claude started; nothing to keep",
  );
  return toResult(s, { ...s.metadata, outcome: "interrupted" }, { exitCode: null, preserved: hadSession });
}

/**
 * The per-bottle Dockerfile did not build: outcome `build-failed`, the build log in
 * the state, everything else as it was (the bottle's Dockerfile, its transcript and
 * workspace), and the state preserved so nothing of the session is lost.
 */
async function settleBuildFailure(s: Settling, failure: BuildFailed): Promise<RunResult> {
  const { plan, deps } = s;
  const { state, log } = deps;
  await markBuildFailed(state, plan.identity, s.history);
  await state.updateMetadata(plan.identity, {
    outcome: "build-failed",
    exitCode: null,
    endedAt: deps.clock.now().toISOString(),
  });
  await state.markPreserved(plan.identity);
  log.warn(failure.message);
  const buildLog = state.path(plan.identity, "buildLog");
  log.info(`outcome build-failed: state preserved in ${state.dir(plan.identity)}, build log in ${buildLog}`);
  const resume = `node runner resume ${plan.identity}`;
  log.info(
    state.hasProposedDockerfile(plan.identity)
      ? `the bottle's Dockerfile is unchanged; \`${resume}\` goes on in the previous image ` +
          "and shows the agent the build log"
      : `fix ${state.path(plan.identity, "dockerfile")} (or remove it to use the manifest's image) and run ` +
          `\`${resume}\``,
  );
  return toResult(s, { ...s.metadata, outcome: "build-failed" }, { exitCode: null, preserved: true, buildLog });
}

/** The one shape of a launch's result; `metadata` is as the launch ended (its outcome, session and figures). */
function toResult(
  s: Settling,
  metadata: Metadata,
  end: { exitCode: number | null; preserved: boolean; buildLog?: string; workTreeNotes?: string[] },
): RunResult {
  const outcome = metadata.outcome;
  if (outcome === "running") throw new Error(`the launch of ${s.plan.identity} ended without an outcome`);
  return {
    identity: s.plan.identity,
    outcome,
    exitCode: end.exitCode,
    sessionId: metadata.sessionId,
    stateDir: s.deps.state.dir(s.plan.identity),
    preserved: end.preserved,
    numTurns: metadata.numTurns,
    costUsd: metadata.costUsd,
    egress: s.egress,
    capabilityBlocks: s.history,
    buildLog: end.buildLog ?? null,
    timings: s.timings,
    history: launchHistory(metadata),
    ...(end.workTreeNotes ? { workTreeNotes: end.workTreeNotes } : {}),
  };
}

/** What to do about a state that did not fit in limits.state. */
function stateLimitAdvice(plan: BottlePlan): string {
  return (
    `the bottle's state did not fit in limits.state (${formatSize(plan.stateLimitBytes)}): ` +
    "it keeps the last snapshot that fitted, and nothing was copied back; " +
    `raise bottles.${plan.bottle}.limits.state in ${plan.manifestPath}, or have the agent keep less in its work tree ` +
    "and ~/.claude, then resume"
  );
}

/**
 * After a clean success the agent's work lands in the directory it came from
 * (worktree-copy-back.ts says what does and what never does).
 */
async function copyWorkspaceBack(plan: BottlePlan, deps: LaunchDeps): Promise<string[]> {
  if (!deps.state.hasSnapshot(plan.identity, "workspace")) return [];
  const snapshot = deps.state.path(plan.identity, "workspace");
  return (await copyWorkTreeBack(snapshot, plan.workspace, plan.identity, deps.log)).notes;
}
