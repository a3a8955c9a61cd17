/**
 * The state of one launch: the metadata it starts with, and the moment the state
 * is begun, which is when the bottle's first Docker resource exists, not before: a
 * runner killed earlier leaves nothing at all (a fresh start) or the state as the
 * last run left it (a resume), and `cleanup`, which finds bottles by their
 * resources, never meets a state without them.
 */
import { StateBudget } from "../../state/budget.js";
import { historyAfter, type Metadata } from "../../state/metadata.js";
import { EgressLog } from "../egress-log.js";
import type { BottlePlan } from "../plan.js";
import type { LaunchDeps } from "./types.js";

export interface BegunState {
  metadata: Metadata;
  egress: EgressLog;
  budget: StateBudget;
}

/** The metadata of this launch, continuing a resumed bottle's. */
export async function firstMetadata(plan: BottlePlan, deps: LaunchDeps): Promise<Metadata> {
  const previous = plan.mode === "resume" ? await deps.state.readMetadata(plan.identity) : null;
  return {
    version: 1,
    identity: plan.identity,
    agent: plan.agent,
    manifestPath: plan.manifestPath,
    workspace: plan.workspace,
    sessionId: plan.resumeSession ?? previous?.sessionId ?? null,
    outcome: "running",
    exitCode: null,
    startedAt: deps.clock.now().toISOString(),
    endedAt: null,
    launches: (previous?.launches ?? 0) + 1,
    numTurns: null,
    costUsd: null,
    image: null,
    origin: deps.origin ?? null,
    history: historyAfter(previous),
    stateLimitBytes: plan.stateLimitBytes,
  };
}

/** A resumed bottle continues on the work tree it left, not on the original directory. */
export function workspaceSource(plan: BottlePlan, deps: LaunchDeps): string {
  return plan.mode === "resume" && deps.state.hasSnapshot(plan.identity, "workspace")
    ? deps.state.path(plan.identity, "workspace")
    : plan.workspace;
}

/** Writes the launch's metadata (running, on `image`) and opens its egress log and state budget. */
export async function beginState(
  plan: BottlePlan,
  deps: LaunchDeps,
  metadata: Metadata,
  image: string,
): Promise<BegunState> {
  const { state } = deps;
  await state.ensure(plan.identity);
  await state.recover(plan.identity);
  // A marker from an earlier run must not keep this run's state alive after a clean end.
  await state.clearPreserved(plan.identity);
  const begun = { ...metadata, image };
  await state.writeMetadata(begun);
  const budget = await StateBudget.open(state, plan.identity, plan.stateLimitBytes);
  const egress = new EgressLog(state.path(plan.identity, "egress"), (bytes) => budget.admitLog(bytes));
  return { metadata: begun, egress, budget };
}
