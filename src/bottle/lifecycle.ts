/**
 * The launch core shared by `start`, `resume`, the CLI and the action: bring a
 * bottle up from a plan, run claude headlessly in it, snapshot during and after
 * the session, decide the outcome and settle the state (clean up or preserve).
 *
 * A supervised bottle also runs the supervise sidecar; when the agent's
 * capability-block proposal is accepted the session is ended, the proposal kept in
 * the state, and with the `rebuild` policy the bottle is rebuilt from it and the same
 * session resumed in the same run.
 *
 * It takes its Docker client, state store, clock, environment, log and interrupt
 * signal as arguments. Teardown always runs and is idempotent; a failed cleanup
 * is a log line, and the original error is what the caller sees.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { readFile, rename, rm } from "node:fs/promises";
import type { Readable } from "node:stream";
import { IDENTITY_LABEL, RUNNER_LABEL, type DockerClient } from "../docker/client.js";
import type { Log } from "../log/log.js";
import { lineSplitter } from "../stream/lines.js";
import { errorMessage } from "../errors.js";
import { StateBudget, StateLimitExceeded } from "../state/budget.js";
import { type StateStore, writeAtomic } from "../state/store.js";
import { buildStep } from "../docker/build-steps.js";
import {
  PROPOSALS_DIR,
  type Proposal,
  ProposalSchema,
  SUPERVISE_HOST_ALIAS,
  type SuperviseConfig,
  SuperviseConfigSchema,
} from "../supervise/config.js";
import { dockerfileProblem } from "../supervise/dockerfile.js";
import { type LaunchRecord, type Metadata, type Origin, historyAfter, launchHistory } from "../state/metadata.js";
import { GATE_HOST_ALIAS } from "../gate/config.js";
import { DEFAULT_STATE_LIMIT, parseStateLimit } from "../manifest/schema.js";
import { formatSize } from "../manifest/size.js";
import { AGENT_OWNER, ROOT_OWNER, packDirectory, packFiles, readTarFiles } from "./archive.js";
import { AGENT_HOME, AGENT_USER, AGENT_WORKSPACE, ClaudeStream, SYSTEM_PROMPT_PATH } from "./claude.js";
import { type EgressSummary, EgressLog, describeEgress } from "./egress-log.js";
import { BOTTLE_BUILD_TERMS, bottleBuildRequest, bottleImageTag, removeBottleState } from "./bottle-image.js";
import { buildContext } from "./images.js";
import { type Outcome, decideOutcome, preserves } from "../state/outcome.js";
import { type BottlePlan, currentDockerfile, rebuiltPlan, resumedPlan } from "./plan.js";
import { programLoader } from "./gate-program.js";
import { copyWorkTreeBack } from "./worktree-copy-back.js";
import { copyWorkTreeIn } from "./worktree-copy-in.js";
import { describeLeftOut, extractSnapshot } from "./worktree-snapshot.js";
import { HostAddressProbe } from "./host-addresses.js";
import { BottleLease } from "./lease.js";
import { stopClaude } from "./stop.js";

export interface Clock {
  now(): Date;
}

export type { Log } from "../log/log.js";

export interface LifecycleDeps {
  docker: DockerClient;
  state: StateStore;
  clock: Clock;
  env: NodeJS.ProcessEnv;
  log: Log;
  /** Aborted when the runner gets SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** The bundled gate program (dist/gate.js). */
  gateProgram: () => Promise<Buffer>;
  /** The bundled supervise program (dist/supervise/index.js); found like the gate's when not given. */
  superviseProgram?: () => Promise<Buffer>;
  /** Runs after a clean success, just before the state directory is removed (the action uploads its transcript). */
  beforeCleanup?: (stateDir: string) => Promise<void>;
  /** The CI run and attempt this launch belongs to, recorded in the bottle's history; none from the CLI. */
  origin?: Origin;
  /** Awaited as each phase begins; the fault-injection tests hold the runner there and kill it. */
  pauseAt?: (phase: Phase) => Promise<void>;
}

/** The points of a launch where time is measured and a fault can be injected, in order. */
export const PHASES = ["image-build", "networks", "gate-start", "agent-start", "copy-in", "session", "snapshot", "teardown"] as const;
export type Phase = (typeof PHASES)[number];

/**
 * Milliseconds per phase of the last launch (image, networks, gate, supervise,
 * agent, copyIn, session, finalSnapshot, teardown), and `execStart`: from the
 * start of the launch until claude was exec'd, the figure a launch is judged by.
 */
export type Timings = Record<string, number>;

/** One accepted capability-block proposal, as the state's capability-block.json keeps it. */
export interface CapabilityBlockRecord {
  version: 1;
  reason: string;
  at: string;
  /** What the runner did with it. */
  policy: "preserve" | "rebuild";
  /** The Dockerfile the bottle ran on when the agent asked. */
  before: SuperviseConfig["currentDockerfile"];
  proposed: string;
  sha256: string;
  /** Filled in once known: the rebuild built it, or it did not. */
  result?: "rebuilt" | "build-failed";
}

export interface RunResult {
  identity: string;
  outcome: Outcome;
  exitCode: number | null;
  sessionId: string | null;
  stateDir: string;
  preserved: boolean;
  numTurns: number | null;
  costUsd: number | null;
  egress: EgressSummary;
  /** Every proposal accepted in this run, oldest first (more than one only with rebuilds). */
  capabilityBlocks: CapabilityBlockRecord[];
  /** The log of a per-bottle build that failed (outcome `build-failed`), else null. */
  buildLog: string | null;
  /** After a success: what a person should know about what came back to the work tree (and what did not). */
  workTreeNotes?: string[];
  timings: Timings;
  /** Every launch of this identity the state knows, oldest first, this one last. */
  history: LaunchRecord[];
}

/** A launch that failed before claude ran: no outcome, a clear reason, nothing left behind. */
export class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LaunchError";
  }
}

class Interrupted extends Error {}

/** The per-bottle Dockerfile did not build: its own outcome, with the state kept. */
class BuildFailed extends Error {}

const GATE_READY_TIMEOUT_MS = 20_000;
/** After a proposal, claude gets this long to take in the tool's answer and write its transcript before it is stopped. */
const CAPABILITY_SETTLE_MS = 3_000;
/** A proposal file is at most a Dockerfile's limit plus its reason: anything far larger is refused. */
const PROPOSAL_READ_LIMIT = 1024 * 1024;
const BUILD_LOG_LIMIT = 1024 * 1024;
const SUPERVISE_CONFIG_PATH = "/opt/claude-bottle-supervise/config.json";

/**
 * Runs the bottle; with the `rebuild` policy, each accepted proposal (up to the
 * plan's rebuilds) is followed at once by a launch of the same identity and session
 * in the image built from it.
 */
export async function runBottle(plan: BottlePlan, deps: LifecycleDeps): Promise<RunResult> {
  const history: CapabilityBlockRecord[] = [];
  let current = plan;
  for (;;) {
    const result = await launchOnce(current, deps, history);
    if (result.outcome === "crashed" && result.preserved && result.sessionId && current.autoResume.left > 0) {
      const n = plan.autoResume.left - current.autoResume.left + 1;
      deps.log.info(`claude crashed; resuming session ${result.sessionId} at once (resume ${n} of ${plan.autoResume.left} in this run)`);
      current = resumedPlan(current, result.sessionId);
      continue;
    }
    const last = history.at(-1);
    if (result.outcome !== "capability-block" || last?.policy !== "rebuild" || !result.sessionId || current.supervise === null) {
      return result;
    }
    const done = plan.supervise ? plan.supervise.rebuildsLeft - current.supervise.rebuildsLeft + 1 : 1;
    deps.log.info(`rebuild ${done} of ${plan.supervise?.rebuildsLeft ?? 1}: building ${current.identity} from the proposed Dockerfile and resuming session ${result.sessionId}`);
    current = rebuiltPlan(current, { dockerfile: last.proposed, imageTag: bottleImageTag(current.identity) }, result.sessionId);
  }
}

async function launchOnce(plan: BottlePlan, deps: LifecycleDeps, history: CapabilityBlockRecord[]): Promise<RunResult> {
  const { docker, state, log } = deps;
  await refuseOrphans(plan, docker);

  const previous = plan.mode === "resume" ? await state.readMetadata(plan.identity) : null;
  // A resumed bottle continues on the work tree it left, not on the original directory.
  const savedWorkspace = state.snapshotPath(plan.identity, "workspace");
  const workspaceSource = plan.mode === "resume" && existsSync(savedWorkspace) ? savedWorkspace : plan.workspace;
  let metadata: Metadata = {
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
  /**
   * The state is begun when the bottle's first Docker resource exists, not before:
   * a runner killed earlier leaves nothing at all (a fresh start) or the state as
   * the last run left it (a resume), and `cleanup`, which finds bottles by their
   * resources, never meets a state without them.
   */
  const beginState = async (image: string): Promise<{ egress: EgressLog; budget: StateBudget }> => {
    await state.ensure(plan.identity);
    await state.recover(plan.identity);
    // A marker from an earlier run must not keep this run's state alive after a clean end.
    await state.clearPreserved(plan.identity);
    metadata = { ...metadata, image };
    await state.writeMetadata(metadata);
    const budget = await StateBudget.open(state, plan.identity, plan.stateLimitBytes);
    return { egress: new EgressLog(state.egressPath(plan.identity), (bytes) => budget.admitLog(bytes)), budget };
  };

  const timer = new PhaseTimer();
  const pause = async (phase: Phase) => {
    await deps.pauseAt?.(phase);
  };
  const resources = new BottleResources(docker, plan, log);
  const lease = new BottleLease(docker, plan.labels[RUNNER_LABEL] ?? "", (line) => log.warn(line));
  const hostProbe = new HostAddressProbe(docker, { name: `${plan.gate.name}-host-probe`, labels: plan.labels, image: plan.gate.image }, (r) => resources.createContainer(r));
  let egress: EgressLog | null = null;
  let budget: StateBudget | null = null;
  let stopGateLog: (() => Promise<void>) | null = null;
  let stopSuperviseLog: (() => Promise<void>) | null = null;
  let session: SessionResult | null = null;
  let launchFailure: unknown = null;
  const proposals = new ProposalWatch(docker, log);
  try {
    await pause("image-build");
    // The agent's own Dockerfile is built behind the bottle's gate, once that is up (bottle-image.ts).
    const perBottleTag = plan.image.kind === "build" && plan.image.source === "per-bottle" ? plan.image.tag : null;
    const perBottle = perBottleTag !== null;
    const imageRef = perBottleTag ?? (await timer.time("image", () => ensureAgentImage(plan, deps)));
    checkInterrupt(deps.signal);
    await ensureImage(docker, plan.gate.image, log);
    hostProbe.start();
    checkInterrupt(deps.signal);
    await pause("networks");
    await timer.time("networks", () => resources.createNetworks());
    // Until a per-bottle image has built, the state stays as the last run left it.
    if (!perBottle) ({ egress, budget } = await beginState(imageRef));
    checkInterrupt(deps.signal);
    await pause("gate-start");
    const gateId = await timer.time("gate", () => startGate(plan, deps, resources, lease, hostProbe));
    if (perBottle) {
      await timer.time("image", () => ensureAgentImage(plan, deps));
      const pending = history.at(-1);
      if (pending?.policy === "rebuild" && pending.result === undefined) pending.result = "rebuilt";
    }
    if (!egress) ({ egress, budget } = await beginState(imageRef));
    const egressLog = egress;
    // The gate's log from its start, so what a per-bottle build asked of it is in it too.
    stopGateLog = (await docker.followLogs(gateId, (line) => egressLog.accept(line))).stop;
    checkInterrupt(deps.signal);
    if (plan.supervise) {
      const superviseId = await timer.time("supervise", () => startSupervise(plan, deps, resources));
      proposals.watch(superviseId);
      stopSuperviseLog = (await docker.followLogs(superviseId, (line) => proposals.accept(line))).stop;
      checkInterrupt(deps.signal);
    }
    await pause("agent-start");
    const agentId = await startAgent(plan, deps, resources, imageRef, workspaceSource, timer, pause);
    checkInterrupt(deps.signal);
    await pause("session");
    const stateBudget = budget;
    if (!stateBudget) throw new Error(`the state of ${plan.identity} was not begun before the session`);
    timer.mark("execStart");
    session = await timer.time("session", () => runSession(plan, deps, agentId, proposals.accepted, pause, stateBudget));
    await timer.time("finalSnapshot", () => finalSnapshot(plan, deps, agentId, stateBudget));
    // The answer can reach claude before the runner hears of it: look for a proposal the log did not bring yet.
    if (plan.supervise) await proposals.finish();
  } catch (error) {
    launchFailure = error;
  } finally {
    await stopSuperviseLog?.().catch((e) => log.warn(`reading the supervise log failed: ${errorMessage(e)}`));
    await stopGateLog?.().catch((e) => log.warn(`reading the gate's log failed: ${errorMessage(e)}`));
    await egress?.close();
    await lease.stop();
    await hostProbe.settled();
    await pause("teardown");
    await timer.time("teardown", () => resources.teardown());
  }
  const egressSummary: EgressSummary = egress?.summary ?? { reached: {}, refused: {} };
  if (egress) log.info(describeEgress(egressSummary));

  if (session === null) {
    return settleLaunchFailure(plan, deps, launchFailure, metadata, egressSummary, history, timer.timings);
  }
  if (launchFailure) log.warn(`final snapshot failed: ${errorMessage(launchFailure)}; the last periodic snapshot is kept`);
  const dropped = budget?.droppedLogs();
  if (dropped) log.warn(dropped);
  const stateLimit = launchFailure instanceof StateLimitExceeded;

  const proposal = proposals.proposal;
  if (proposal && plan.supervise) {
    const record = await keepProposal(plan, deps, proposal);
    history.push(record);
  }
  const decided = decideOutcome({ ...session.end, capabilityBlock: proposal !== null, stateLimit });
  // The work tree comes back only from a final snapshot: without one, a success keeps the state instead.
  const outcome = launchFailure && decided === "success" ? "error" : decided;
  if (outcome !== decided) log.warn("claude succeeded, but without a final snapshot the work tree cannot be copied back: outcome error, the state is kept");
  const keep = preserves(outcome);
  let workTreeNotes: string[] = [];
  try {
    metadata = await state.updateMetadata(plan.identity, {
      sessionId: session.sessionId ?? metadata.sessionId,
      outcome,
      exitCode: session.end.exitCode,
      endedAt: deps.clock.now().toISOString(),
      numTurns: session.end.result?.num_turns ?? session.turns,
      costUsd: session.end.result?.total_cost_usd ?? null,
    });
    if (keep) await state.markPreserved(plan.identity);
  } catch (error) {
    // A full disk, most often: the state keeps its last snapshot and stays resumable once there is room.
    throw new Error(
      `could not record the outcome ${outcome} in ${state.dir(plan.identity)}: ${errorMessage(error)}; ` +
        `the state there keeps its last snapshot: free some space, then resume ${plan.identity}`,
    );
  }
  if (keep) {
    log.info(`outcome ${outcome}: state preserved in ${state.dir(plan.identity)}`);
    if (outcome === "state-limit") log.warn(stateLimitAdvice(plan));
    if (history.at(-1)?.policy !== "rebuild" || outcome !== "capability-block") log.info(`to resume this bottle: node runner resume ${plan.identity}`);
  } else {
    workTreeNotes = await copyWorkspaceBack(plan, deps);
    await deps.beforeCleanup?.(state.dir(plan.identity)).catch((e: unknown) => log.warn(`before cleaning up: ${errorMessage(e)}`));
    await removeBottleState(plan.identity, deps);
    log.info(`outcome ${outcome}: work tree copied to ${plan.workspace}; state removed`);
  }
  return {
    identity: plan.identity,
    outcome,
    exitCode: session.end.exitCode,
    sessionId: metadata.sessionId,
    stateDir: state.dir(plan.identity),
    preserved: keep,
    numTurns: metadata.numTurns,
    costUsd: metadata.costUsd,
    egress: egressSummary,
    capabilityBlocks: history,
    buildLog: null,
    timings: timer.timings,
    history: launchHistory(metadata),
    workTreeNotes,
  };
}

/** Wall-clock milliseconds per phase, for `timings` in the result. */
class PhaseTimer {
  readonly timings: Timings = {};
  private readonly started = performance.now();

  async time<T>(name: string, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.timings[name] = Math.round((performance.now() - start) * 10) / 10;
    }
  }

  /** Milliseconds from the start of the launch to now. */
  mark(name: string): void {
    this.timings[name] = Math.round((performance.now() - this.started) * 10) / 10;
  }
}

/**
 * Keeps an accepted proposal in the state. With `preserve` it becomes the bottle's
 * Dockerfile, which the next launch builds; with `rebuild` it waits in
 * Dockerfile.proposed until the rebuild that follows has built it, so a proposal
 * that does not build leaves the bottle's Dockerfile as it was.
 */
async function keepProposal(plan: BottlePlan, deps: LifecycleDeps, proposal: Proposal): Promise<CapabilityBlockRecord> {
  const { state } = deps;
  const policy = plan.supervise?.policy === "rebuild" ? "rebuild" : "preserve";
  const record: CapabilityBlockRecord = {
    version: 1,
    reason: proposal.reason,
    at: proposal.at,
    policy,
    before: currentDockerfile(plan.image),
    proposed: proposal.dockerfile,
    sha256: createHash("sha256").update(proposal.dockerfile).digest("hex"),
  };
  await writeAtomic(state.capabilityBlockPath(plan.identity), `${JSON.stringify(record, null, 2)}\n`);
  if (policy === "rebuild") await writeAtomic(state.proposedDockerfilePath(plan.identity), proposal.dockerfile);
  else await state.writeDockerfile(plan.identity, proposal.dockerfile);
  deps.log.info(`capability-block (${policy}): ${proposal.reason}`);
  return record;
}

/** A launch that never got claude running: resume state stays preserved, a fresh start leaves nothing. */
async function settleLaunchFailure(
  plan: BottlePlan,
  deps: LifecycleDeps,
  failure: unknown,
  metadata: Metadata,
  egress: EgressSummary,
  history: CapabilityBlockRecord[],
  timings: Timings,
): Promise<RunResult> {
  const { state } = deps;
  if (failure instanceof BuildFailed) return settleBuildFailure(plan, deps, failure, metadata, egress, history, timings);
  const interrupted = failure instanceof Interrupted;
  const hadSession = plan.mode === "resume";
  if (hadSession) {
    await state.updateMetadata(plan.identity, { outcome: interrupted ? "interrupted" : "error", endedAt: deps.clock.now().toISOString() });
    await state.markPreserved(plan.identity);
  } else {
    await removeBottleState(plan.identity, deps);
  }
  if (!interrupted) throw failure instanceof Error ? failure : new LaunchError(String(failure));
  deps.log.info(hadSession ? `interrupted before claude started; state kept: node runner resume ${plan.identity}` : "interrupted before claude started; nothing to keep");
  return {
    identity: plan.identity,
    outcome: "interrupted",
    exitCode: null,
    sessionId: metadata.sessionId,
    stateDir: state.dir(plan.identity),
    preserved: hadSession,
    numTurns: null,
    costUsd: null,
    egress,
    capabilityBlocks: history,
    buildLog: null,
    timings,
    history: launchHistory({ ...metadata, outcome: "interrupted" }),
  };
}

/**
 * The per-bottle Dockerfile did not build: outcome `build-failed`, the build log in
 * the state, everything else as it was (the bottle's Dockerfile, its transcript and
 * workspace), and the state preserved so nothing of the session is lost.
 */
async function settleBuildFailure(
  plan: BottlePlan,
  deps: LifecycleDeps,
  failure: BuildFailed,
  metadata: Metadata,
  egress: EgressSummary,
  history: CapabilityBlockRecord[],
  timings: Timings,
): Promise<RunResult> {
  const { state, log } = deps;
  const last = history.at(-1);
  if (last?.policy === "rebuild" && last.result === undefined) {
    last.result = "build-failed";
    await writeAtomic(state.capabilityBlockPath(plan.identity), `${JSON.stringify(last, null, 2)}\n`);
  }
  await state.updateMetadata(plan.identity, { outcome: "build-failed", exitCode: null, endedAt: deps.clock.now().toISOString() });
  await state.markPreserved(plan.identity);
  log.warn(failure.message);
  log.info(`outcome build-failed: state preserved in ${state.dir(plan.identity)}, build log in ${state.buildLogPath(plan.identity)}`);
  const pending = existsSync(state.proposedDockerfilePath(plan.identity));
  log.info(
    pending
      ? `the bottle's Dockerfile is unchanged; \`node runner resume ${plan.identity}\` goes on in the previous image and shows the agent the build log`
      : `fix ${state.dockerfilePath(plan.identity)} (or remove it to use the manifest's image) and run \`node runner resume ${plan.identity}\``,
  );
  return {
    identity: plan.identity,
    outcome: "build-failed",
    exitCode: null,
    sessionId: metadata.sessionId,
    stateDir: state.dir(plan.identity),
    preserved: true,
    numTurns: null,
    costUsd: null,
    egress,
    capabilityBlocks: history,
    buildLog: state.buildLogPath(plan.identity),
    timings,
    history: launchHistory({ ...metadata, outcome: "build-failed" }),
  };
}

function checkInterrupt(signal: AbortSignal): void {
  if (signal.aborted) throw new Interrupted("interrupted");
}

/** Leftovers with this identity mean another runner owns it, or an earlier one died: never share them. */
async function refuseOrphans(plan: BottlePlan, docker: DockerClient): Promise<void> {
  const label = `${IDENTITY_LABEL}=${plan.identity}`;
  const [containers, networks] = await Promise.all([docker.listContainers([label]), docker.listNetworks([label])]);
  const names = [...containers.map((c) => c.name), ...networks.map((n) => n.name)];
  if (names.length > 0) {
    throw new LaunchError(
      `bottle ${plan.identity} already has Docker resources (${names.join(", ")}): another runner owns it or an earlier one died; run \`node runner cleanup\` and retry`,
    );
  }
}

async function ensureAgentImage(plan: BottlePlan, deps: LifecycleDeps): Promise<string> {
  const image = plan.image;
  if (image.kind === "prebuilt") {
    await ensureImage(deps.docker, image.ref, deps.log);
    return image.ref;
  }
  if (image.reuse && (await deps.docker.imageExists(image.tag))) return image.tag;
  deps.log.info(`building agent image ${image.tag} from the ${image.source} Dockerfile${image.source === "per-bottle" ? ` (${BOTTLE_BUILD_TERMS})` : ""}`);
  const tail: string[] = [];
  const full: string[] = [];
  let fullBytes = 0;
  try {
    const request =
      image.source === "per-bottle"
        ? await bottleBuildRequest(
            { ...image, labels: plan.labels, network: plan.networks.internal, agentEnv: plan.agentContainer.env },
            deps.docker,
          )
        : {
            context: await buildContext(image.contextDir, image.dockerfile),
            dockerfile: ".claude-bottle.Dockerfile",
            tag: image.tag,
            buildArgs: image.buildArgs,
            labels: { ...plan.labels, "claude-bottle.role": "image" },
          };
    await deps.docker.buildImage(
      request,
      (line) => {
        const step = buildStep(line);
        if (step) deps.log.progress(step);
        tail.push(line);
        if (tail.length > 20) tail.shift();
        if (fullBytes < BUILD_LOG_LIMIT) {
          full.push(line);
          fullBytes += line.length + 1;
        }
      },
    );
  } catch (error) {
    if (image.source === "per-bottle") {
      // Its own outcome: the state (and the Dockerfile in it) is what the person fixes.
      await writeAtomic(deps.state.buildLogPath(plan.identity), `${full.join("\n")}\n${errorMessage(error)}\n`);
      throw new BuildFailed(`building the per-bottle Dockerfile failed: ${errorMessage(error)}\n${tail.join("\n")}`);
    }
    throw new LaunchError(`building the agent image from the ${image.source} Dockerfile failed: ${errorMessage(error)}\n${tail.join("\n")}`);
  }
  if (image.source === "per-bottle") await promoteProposal(plan, deps);
  return image.tag;
}

/** A proposal waiting in Dockerfile.proposed becomes the bottle's Dockerfile once it has built (and only that one). */
async function promoteProposal(plan: BottlePlan, deps: LifecycleDeps): Promise<void> {
  const { state } = deps;
  const pending = state.proposedDockerfilePath(plan.identity);
  const text = await readFile(pending, "utf8").catch(() => null);
  if (text === null || plan.image.kind !== "build" || text !== plan.image.dockerfile) return;
  await rename(pending, state.dockerfilePath(plan.identity));
  await rm(state.buildLogPath(plan.identity), { force: true });
  const recordPath = state.capabilityBlockPath(plan.identity);
  const record = await readJson(recordPath);
  if (record && typeof record === "object") await writeAtomic(recordPath, `${JSON.stringify({ ...record, result: "rebuilt" }, null, 2)}\n`);
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch {
    return null;
  }
}

async function ensureImage(docker: DockerClient, ref: string, log: Log): Promise<void> {
  if (await docker.imageExists(ref)) return;
  log.info(`pulling ${ref}`);
  try {
    await docker.pullImage(ref, (line) => log.progress(line));
  } catch (error) {
    throw new LaunchError(`image ${ref} is not on this engine and pulling it failed (${errorMessage(error)}); build or load it first`);
  }
}

/** Tracks what this launch created so teardown removes exactly that, whatever happened. */
class BottleResources {
  private readonly containers: string[] = [];
  private readonly networks: string[] = [];

  constructor(
    private readonly docker: DockerClient,
    private readonly plan: BottlePlan,
    private readonly log: Log,
  ) {}

  async createNetworks(): Promise<void> {
    const wanted = [["internal", this.plan.networks.internal, true]] as [string, string, boolean][];
    if (!this.plan.networks.egressExternal) wanted.push(["egress", this.plan.networks.egress, false]);
    // Both at once: they do not depend on each other, and each is a round trip to the engine.
    this.networks.push(...wanted.map(([, name]) => name));
    const created = await Promise.allSettled(
      wanted.map(([role, name, internal]) =>
        this.docker.createNetwork({
          name,
          internal,
          labels: { ...this.plan.labels, "claude-bottle.role": role },
          // Even an --internal bridge gives the host an address on it, which the agent could
          // reach directly; with no address on the bridge the host is out of its reach.
          ...(internal ? { options: { "com.docker.network.bridge.inhibit_ipv4": "true" } } : {}),
        }),
      ),
    );
    // Both settled before the first failure is thrown, so teardown never races a creation.
    const failed = created.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** The bottle's own subnets, which the gate must never connect to (the host and the gate live there). */
  async ownSubnets(): Promise<string[]> {
    const subnets = await Promise.all(this.networks.map((n) => this.docker.networkSubnets(n)));
    return subnets.flat();
  }

  async createContainer(request: Parameters<DockerClient["createContainer"]>[0]): Promise<string> {
    this.containers.push(request.name);
    return this.docker.createContainer(request);
  }

  async teardown(): Promise<void> {
    const label = `${IDENTITY_LABEL}=${this.plan.identity}`;
    const removeAll = async (
      known: string[],
      list: () => Promise<{ name: string }[]>,
      remove: (name: string) => Promise<void>,
      kind: string,
    ) => {
      let names = known;
      try {
        names = [...new Set([...known, ...(await list()).map((r) => r.name)])];
      } catch (error) {
        this.log.warn(`listing ${kind}s for teardown failed: ${errorMessage(error)}`);
      }
      await Promise.all(
        names.map((name) => remove(name).catch((error) => this.log.warn(`removing ${kind} ${name} failed: ${errorMessage(error)}`))),
      );
    };
    await removeAll(this.containers, () => this.docker.listContainers([label]), (n) => this.docker.removeContainer(n), "container");
    await removeAll(this.networks, () => this.docker.listNetworks([label]), (n) => this.docker.removeNetwork(n), "network");
  }
}

async function startGate(plan: BottlePlan, deps: LifecycleDeps, resources: BottleResources, lease: BottleLease, hostProbe: HostAddressProbe): Promise<string> {
  const { docker } = deps;
  const gateEnv: Record<string, string> = {};
  for (const credential of plan.gate.credentials) {
    const value = deps.env[credential.fromEnv];
    if (!value) {
      throw new LaunchError(
        `route ${credential.route} injects ${credential.header} from ${credential.fromEnv}, which is not set in the runner's environment; export it and retry`,
      );
    }
    const route = plan.gate.config.routes.find((r) => r.name === credential.route);
    if (route?.inject) gateEnv[route.inject.secretEnv] = value;
  }
  // Asked for while the gate is created; a failed creation waits for them, so teardown never races one.
  const alongside = Promise.allSettled([hostProbe.addresses([plan.networks.egress, plan.networks.internal]), lease.begin()] as const);
  const afterAlongside = async (error: unknown): Promise<never> => {
    await alongside;
    throw error;
  };
  const id = await resources.createContainer({
    name: plan.gate.name,
    image: plan.gate.image,
    cmd: ["node", "/opt/claude-bottle-gate/gate.mjs", "/opt/claude-bottle-gate/config.json"],
    user: "65534:65534",
    env: gateEnv,
    labels: { ...plan.labels, "claude-bottle.role": "gate" },
    network: plan.networks.egress,
    capDrop: ["ALL"],
    securityOpt: ["no-new-privileges"],
    memoryBytes: 256 * 1024 * 1024,
    pidsLimit: 128,
    ...(plan.gate.dns.length ? { dns: plan.gate.dns } : {}),
  }).catch(afterAlongside);
  await docker.connectNetwork(id, plan.networks.internal, [GATE_HOST_ALIAS]).catch(afterAlongside);
  const [hostAddresses, leaseFile] = await alongside;
  if (hostAddresses.status === "rejected") {
    const hint = nodeHint(hostAddresses.reason, plan.gate.image, "CLAUDE_BOTTLE_GATE_IMAGE");
    throw new LaunchError(`the gate did not come up (${errorMessage(hostAddresses.reason)})${hint}; the agent was not started`);
  }
  if (leaseFile.status === "rejected") throw new LaunchError(`reading the engine's clock for the bottle's lease failed: ${errorMessage(leaseFile.reason)}; the agent was not started`);
  if (hostAddresses.value.length) deps.log.info(`the gate refuses the Docker host's own addresses: ${hostAddresses.value.join(", ")}`);
  const proxy = plan.gate.config.proxy ?? {};
  const config = {
    ...plan.gate.config,
    proxy: { ...proxy, deniedCidrs: [...(proxy.deniedCidrs ?? []), ...(await resources.ownSubnets())], hostAddresses: hostAddresses.value },
  };
  await docker.putArchive(
    id,
    "/",
    await packFiles(
      [
        { name: "opt/claude-bottle-gate/gate.mjs", content: await deps.gateProgram(), mode: 0o444 },
        { name: "opt/claude-bottle-gate/config.json", content: JSON.stringify(config), mode: 0o444 },
        leaseFile.value,
      ],
      ROOT_OWNER,
    ),
  );
  await startAndWaitReady(docker, id, "the gate", plan.gate.image, "CLAUDE_BOTTLE_GATE_IMAGE");
  lease.keep(id);
  return id;
}

/** What to check when a container of a Node image would not start. */
function nodeHint(error: unknown, image: string, imageSetting: string): string {
  return /executable file not found|no such file/i.test(errorMessage(error)) ? `; check that the image ${image} (${imageSetting}) has Node >= 20` : "";
}

/**
 * Starts a sidecar and waits for its `ready` line. Fail closed: anything else (an
 * exit, a `fatal` line, silence) is a LaunchError, and no agent is ever started.
 */
async function startAndWaitReady(docker: DockerClient, id: string, what: string, image: string, imageSetting: string): Promise<void> {
  try {
    await docker.startContainer(id);
  } catch (error) {
    const hint = nodeHint(error, image, imageSetting);
    throw new LaunchError(`${what} did not come up (${errorMessage(error)}); the agent was not started${hint}`);
  }
  let reason = "";
  const how = await docker.waitForLogLine(
    id,
    (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; reason?: string };
        if (event.event === "fatal") reason = event.reason ?? "";
        return event.event === "ready";
      } catch {
        return false;
      }
    },
    GATE_READY_TIMEOUT_MS,
  );
  if (how !== "matched") {
    const tail = await docker.logsTail(id, 20).catch(() => "");
    throw new LaunchError(
      `${what} did not come up (${how === "timeout" ? `no ready line within ${GATE_READY_TIMEOUT_MS / 1000}s` : "it exited"})${reason ? `: ${reason}` : ""}; the agent was not started\n${tail.trim()}`,
    );
  }
}

/**
 * The supervise sidecar: on the internal network only (the agent reaches it as
 * `supervise`, nothing outside the bottle can), no credentials, no capabilities.
 * It never touches Docker: it tells the runner of a proposal on its stdout.
 */
async function startSupervise(plan: BottlePlan, deps: LifecycleDeps, resources: BottleResources): Promise<string> {
  const supervise = plan.supervise;
  if (!supervise) throw new Error("startSupervise without a supervise plan");
  const { docker } = deps;
  await ensureImage(docker, supervise.image, deps.log);
  const id = await resources.createContainer({
    name: supervise.name,
    image: supervise.image,
    cmd: ["node", "/opt/claude-bottle-supervise/supervise.mjs", SUPERVISE_CONFIG_PATH],
    user: "65534:65534",
    env: {},
    labels: { ...plan.labels, "claude-bottle.role": "supervise" },
    network: plan.networks.internal,
    networkAliases: [SUPERVISE_HOST_ALIAS],
    capDrop: ["ALL"],
    securityOpt: ["no-new-privileges"],
    memoryBytes: 128 * 1024 * 1024,
    pidsLimit: 64,
  });
  const program = deps.superviseProgram ?? programLoader("supervise", deps.env);
  await docker.putArchive(
    id,
    "/",
    await packFiles(
      [
        { name: "opt/claude-bottle-supervise/supervise.mjs", content: await program(), mode: 0o444 },
        { name: SUPERVISE_CONFIG_PATH.slice(1), content: JSON.stringify(supervise.config), mode: 0o444 },
      ],
      ROOT_OWNER,
    ),
  );
  await startAndWaitReady(docker, id, "the supervise server", supervise.image, "CLAUDE_BOTTLE_GATE_IMAGE");
  return id;
}

/**
 * Hears of proposals on the supervise sidecar's stdout and reads each from the file
 * the sidecar wrote, through the archive API. What it reads is the agent's text, so
 * it is parsed and checked again here; `accepted` is aborted once one passes.
 */
class ProposalWatch {
  proposal: Proposal | null = null;
  private readonly controller = new AbortController();
  private container: string | null = null;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly docker: DockerClient,
    private readonly log: Log,
  ) {}

  get accepted(): AbortSignal {
    return this.controller.signal;
  }

  watch(container: string): void {
    this.container = container;
  }

  accept(line: string): void {
    let event: { event?: unknown };
    try {
      event = JSON.parse(line) as { event?: unknown };
    } catch {
      return;
    }
    if (event.event === "proposal") this.reading = this.reading.then(() => this.collect());
    else if (event.event === "capability-block") {
      const decision = (event as { decision?: unknown }).decision;
      if (decision === "denied" || decision === "refused") this.log.info(`capability-block ${String(decision)} by the supervise server`);
    }
  }

  /** At the end of the session, with the sidecar still up: a last look for a proposal. */
  async finish(): Promise<void> {
    await this.reading;
    await this.collect();
  }

  /** Reads the sidecar's proposals directory; the first valid proposal wins. */
  private async collect(): Promise<void> {
    if (this.proposal || !this.container) return;
    try {
      const tar = await this.docker.getArchive(this.container, PROPOSALS_DIR);
      if (!tar) return;
      const files = [...(await readTarFiles(tar, PROPOSAL_READ_LIMIT)).entries()].filter(([name]) => name.endsWith(".json")).sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));
      for (const [name, content] of files) {
        const parsed = ProposalSchema.safeParse(JSON.parse(content.toString("utf8")) as unknown);
        const problem = parsed.success ? dockerfileProblem(parsed.data.dockerfile) : "it is not a proposal";
        if (!parsed.success || problem) {
          this.log.warn(`ignored the proposal ${name} from the supervise server: ${problem}`);
          continue;
        }
        this.proposal = parsed.data;
        this.controller.abort();
        return;
      }
    } catch (error) {
      this.log.warn(`reading the capability-block proposal failed: ${errorMessage(error)}`);
    }
  }
}

async function startAgent(
  plan: BottlePlan,
  deps: LifecycleDeps,
  resources: BottleResources,
  imageRef: string,
  workspaceSource: string,
  timer: PhaseTimer,
  pause: (phase: Phase) => Promise<void>,
): Promise<string> {
  const { docker, state } = deps;
  const c = plan.agentContainer;
  const agentStart = performance.now();
  const id = await resources.createContainer({
    name: c.name,
    image: imageRef,
    // claude runs through exec, never as PID 1: a PID 1 ignores SIGKILL from inside its namespace.
    cmd: ["sleep", "infinity"],
    user: c.user,
    workingDir: AGENT_WORKSPACE,
    env: c.env,
    labels: { ...plan.labels, "claude-bottle.role": "agent" },
    network: plan.networks.internal,
    capDrop: ["ALL"],
    securityOpt: ["no-new-privileges"],
    memoryBytes: c.memoryBytes,
    nanoCpus: c.nanoCpus,
    pidsLimit: c.pidsLimit,
    ...(c.runtime ? { runtime: c.runtime } : {}),
  });
  const created = performance.now();
  await pause("copy-in");
  await timer.time("copyIn", async () => {
    await docker.putArchive(id, "/", await packFiles([{ name: SYSTEM_PROMPT_PATH.slice(1), content: plan.systemPrompt, mode: 0o444 }], ROOT_OWNER));
    if (existsSync(workspaceSource)) await copyWorkTreeIn(docker, id, workspaceSource, AGENT_HOME, AGENT_OWNER, deps.log);
    const transcript = state.snapshotPath(plan.identity, "transcript");
    if (plan.mode === "resume" && existsSync(transcript)) {
      await docker.putArchive(id, AGENT_HOME, packDirectory(transcript, AGENT_OWNER, ""));
    }
  });
  const started = performance.now();
  await docker.startContainer(id);
  timer.timings.agent = Math.round((created - agentStart + (performance.now() - started)) * 10) / 10;
  return id;
}

interface SessionResult {
  end: { exitCode: number; result: ClaudeStream["result"]; timedOut: boolean; interrupted: boolean };
  sessionId: string | null;
  turns: number;
}

async function runSession(
  plan: BottlePlan,
  deps: LifecycleDeps,
  agentId: string,
  proposal: AbortSignal,
  pause: (phase: Phase) => Promise<void>,
  budget: StateBudget,
): Promise<SessionResult> {
  const { docker, state, log } = deps;
  const stream = new ClaudeStream();
  const events = createWriteStream(state.eventsPath(plan.identity), { flags: "a" });
  const snapshots = new Snapshotter(() => snapshotTranscript(docker, state, agentId, plan.identity, budget, () => pause("snapshot")), log);
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
      void state.updateMetadata(plan.identity, { sessionId: stream.sessionId }).catch((e) => log.warn(`recording the session id failed: ${errorMessage(e)}`));
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

/** Runs snapshots one at a time; requests made while one runs coalesce into one more. */
class Snapshotter {
  private running: Promise<void> | null = null;
  private pending = false;

  constructor(
    private readonly take: () => Promise<void>,
    private readonly log: Log,
  ) {}

  request(): void {
    if (this.running) {
      this.pending = true;
      return;
    }
    this.running = this.loop();
  }

  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.pending = false;
        await this.take().catch((e) => this.log.warn(`snapshot failed (the previous one is kept): ${errorMessage(e)}`));
      } while (this.pending);
    } finally {
      this.running = null;
    }
  }
}

/**
 * `beforeSwap` runs with the new snapshot written and the old one still in place (a
 * fault point). The two archives are read one after the other: the engine does not
 * serve a second archive of a container while the first one's stream is unread.
 */
async function snapshotTranscript(
  docker: DockerClient,
  state: StateStore,
  container: string,
  identity: string,
  budget: StateBudget,
  beforeSwap?: () => Promise<void>,
): Promise<void> {
  const claudeDir = await docker.getArchive(container, `${AGENT_HOME}/.claude`);
  if (!claudeDir) return; // claude has not written anything yet; keep what we have
  const meter = await budget.meter("transcript", "the transcript (~/.claude)");
  await destroyedOnFailure(claudeDir, () =>
    state.replaceSnapshot(identity, "transcript", async (dir) => {
      await extractSnapshot(meter.through(claudeDir), dir);
      const settings = await docker.getArchive(container, `${AGENT_HOME}/.claude.json`);
      if (settings) await destroyedOnFailure(settings, () => extractSnapshot(meter.through(settings), dir));
      await beforeSwap?.();
    }),
  );
  meter.kept();
}

/** Links out of the work tree and special files are left out (and said so): they never fail the snapshot. */
async function snapshotWorkspace(docker: DockerClient, state: StateStore, container: string, identity: string, budget: StateBudget, log: Pick<Log, "warn">): Promise<void> {
  const tar: Readable | null = await docker.getArchive(container, AGENT_WORKSPACE);
  if (!tar) return;
  const meter = await budget.meter("workspace", "the work tree");
  await destroyedOnFailure(tar, () =>
    state.replaceSnapshot(identity, "workspace", async (dir) => {
      const leftOut = await extractSnapshot(meter.through(tar), dir, 1);
      if (leftOut.length) log.warn(describeLeftOut("work tree snapshot", leftOut));
    }),
  );
  meter.kept();
}

/** Runs `use`; if it fails, the archive stream is destroyed so its connection does not hold the process open. */
async function destroyedOnFailure<T>(stream: Readable, use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } catch (error) {
    stream.destroy();
    throw error;
  }
}

/**
 * Both snapshots are tried, whatever the first one does: a transcript that cannot be
 * written must not cost the work tree. Either one past limits.state makes the whole a
 * StateLimitExceeded, which decides the outcome.
 */
async function finalSnapshot(plan: BottlePlan, deps: LifecycleDeps, agentId: string, budget: StateBudget): Promise<void> {
  const failures: string[] = [];
  let overLimit = false;
  const failed = (what: string) => (error: unknown) => {
    overLimit ||= error instanceof StateLimitExceeded;
    failures.push(`${what}: ${errorMessage(error)}`);
  };
  await snapshotTranscript(deps.docker, deps.state, agentId, plan.identity, budget).catch(failed("transcript"));
  await snapshotWorkspace(deps.docker, deps.state, agentId, plan.identity, budget, deps.log).catch(failed("workspace"));
  if (failures.length) throw overLimit ? new StateLimitExceeded(failures.join("; ")) : new Error(failures.join("; "));
}

/** What to do about a state that did not fit in limits.state. */
function stateLimitAdvice(plan: BottlePlan): string {
  return (
    `the bottle's state did not fit in limits.state (${formatSize(plan.stateLimitBytes)}): it keeps the last snapshot that fitted, and nothing was copied back; ` +
    `raise bottles.${plan.bottle}.limits.state in ${plan.manifestPath}, or have the agent keep less in its work tree and ~/.claude, then resume`
  );
}

/** After a clean success the agent's work lands in the directory it came from (worktree-copy-back.ts says what does and what never does). */
async function copyWorkspaceBack(plan: BottlePlan, deps: LifecycleDeps): Promise<string[]> {
  const snapshot = deps.state.snapshotPath(plan.identity, "workspace");
  if (!existsSync(snapshot)) return [];
  return (await copyWorkTreeBack(snapshot, plan.workspace, plan.identity, deps.log)).notes;
}

/** The session id of the newest transcript in a snapshot (`.claude/projects/<dir>/<session>.jsonl`), if any. */
function transcriptSession(transcript: string): string | null {
  const projects = join(transcript, ".claude", "projects");
  if (!existsSync(projects)) return null;
  const found = readdirSync(projects, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /^[0-9a-f-]{36}\.jsonl$/.test(e.name))
    .map((e) => ({ id: e.name.slice(0, -".jsonl".length), at: statSync(join(e.parentPath, e.name)).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  return found[0]?.id ?? null;
}

/** Reads an accepted proposal (and the sidecar's config, for what it replaces) out of a dead runner's supervise sidecar. */
async function rescueProposal(docker: DockerClient, state: StateStore, container: string, identity: string, log: Log): Promise<boolean> {
  const watch = new ProposalWatch(docker, log);
  watch.watch(container);
  await watch.finish();
  const proposal = watch.proposal;
  if (!proposal) return false;
  let before: SuperviseConfig["currentDockerfile"] = { source: "per-bottle", text: (await state.readDockerfile(identity)) ?? "" };
  try {
    const tar = await docker.getArchive(container, SUPERVISE_CONFIG_PATH);
    const file = tar ? [...(await readTarFiles(tar, PROPOSAL_READ_LIMIT)).values()][0] : undefined;
    if (file) before = SuperviseConfigSchema.parse(JSON.parse(file.toString("utf8"))).currentDockerfile;
  } catch (error) {
    log.warn(`reading the supervise config failed (${errorMessage(error)}); the proposal is kept without what it replaced`);
  }
  const record: CapabilityBlockRecord = {
    version: 1,
    reason: proposal.reason,
    at: proposal.at,
    policy: "preserve",
    before,
    proposed: proposal.dockerfile,
    sha256: createHash("sha256").update(proposal.dockerfile).digest("hex"),
  };
  await writeAtomic(state.capabilityBlockPath(identity), `${JSON.stringify(record, null, 2)}\n`);
  await state.writeDockerfile(identity, proposal.dockerfile);
  log.info(`kept the capability-block proposal the stopped runner had not settled: ${proposal.reason}`);
  return true;
}

/**
 * A runner died (SIGKILL, a cancelled job) and left a bottle behind: stop claude,
 * take the final snapshot from the agent container while it still exists, and mark
 * the state preserved as `interrupted`. A fresh bottle whose claude never started
 * has nothing to keep, and its state is removed. The caller removes the containers after.
 */
export async function rescueBottle(identity: string, deps: Pick<LifecycleDeps, "docker" | "state" | "clock" | "log">): Promise<boolean> {
  const { docker, state, log } = deps;
  const containers = await docker.listContainers([`${IDENTITY_LABEL}=${identity}`]);
  const agent = containers.find((c) => c.labels["claude-bottle.role"] === "agent");
  const supervise = containers.find((c) => c.labels["claude-bottle.role"] === "supervise");
  if (!state.exists(identity)) return false;
  await state.recover(identity);
  if (agent?.running) await stopClaude(docker, agent.id, log);
  const recorded = await state.readMetadata(identity).catch(() => null);
  if (agent) {
    const budget = await StateBudget.open(state, identity, recorded?.stateLimitBytes ?? parseStateLimit(DEFAULT_STATE_LIMIT));
    await snapshotTranscript(docker, state, agent.id, identity, budget).catch((e) => log.warn(`final transcript snapshot failed, the last one is kept: ${errorMessage(e)}`));
    await snapshotWorkspace(docker, state, agent.id, identity, budget, log).catch((e) => log.warn(`workspace snapshot failed, the last one is kept: ${errorMessage(e)}`));
  }
  if (recorded && recorded.sessionId === null) {
    // The runner may have died between claude's first event and recording its session: the transcript knows it.
    const sessionId = transcriptSession(state.snapshotPath(identity, "transcript"));
    if (sessionId) {
      await state.updateMetadata(identity, { sessionId });
    } else {
      // claude never started in a fresh bottle: there is no session to keep, and the work tree is still where it came from.
      await removeBottleState(identity, deps);
      log.info(`removed the state of ${identity}: its runner stopped before claude started, so there was nothing to keep`);
      return false;
    }
  }
  // A proposal the dead runner had not settled yet is kept, as `preserve` would: a person decides.
  const proposal = supervise ? await rescueProposal(docker, state, supervise.id, identity, log) : false;
  const metadata = await state.readMetadata(identity).catch(() => null);
  if (metadata?.outcome === "running") {
    await state.updateMetadata(identity, { outcome: proposal ? "capability-block" : "interrupted", endedAt: deps.clock.now().toISOString() });
  }
  await state.markPreserved(identity);
  log.info(`preserved ${identity} after its runner stopped: node runner resume ${identity}`);
  return true;
}
