/**
 * The launch core shared by `start`, `resume`, the CLI and the action: bring a
 * bottle up from a plan, run claude headlessly in it, snapshot during and after
 * the session, decide the outcome and settle the state (clean up or preserve).
 *
 * The sequence: the images, the networks, then at the same time the gate (until
 * ready) with the supervise sidecar after it (a supervised bottle), and the agent
 * container with its work tree copied in; claude's session once both are up, the
 * final snapshot (the gate and the bottle's networks removed meanwhile), teardown, then settling. Teardown
 * always runs and is idempotent; a failed cleanup is a log line, and the original error is what
 * the caller sees.
 *
 * When a supervised bottle's capability-block proposal is accepted the session is
 * ended, the proposal kept in the state, and with the `rebuild` policy the bottle
 * is rebuilt from it and the same session resumed in the same run.
 */
import { RUNNER_LABEL } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import type { StateBudget } from "../../state/budget.js";
import type { Metadata } from "../../state/metadata.js";
import { bottleImageTag } from "../bottle-image.js";
import { type EgressLog, describeEgress, describeStrangers } from "../egress-log.js";
import { HostAddressProbe } from "../host-addresses.js";
import { BottleLease } from "../lease.js";
import { type BottlePlan, rebuiltPlan, resumedPlan } from "../plan.js";
import { startAgent } from "./agent.js";
import { ensureAgentImage, ensureImage, perBottleTag } from "./agent-image.js";
import { startGate } from "./gate.js";
import { beginState, firstMetadata, workspaceSource } from "./launch-state.js";
import { PhaseTimer } from "./phase-timer.js";
import { ProposalWatch } from "./proposals.js";
import { BottleResources, refuseOrphans } from "./resources.js";
import { type SessionResult, runSession } from "./session.js";
import { type Settling, settleLaunchFailure, settleSession } from "./settle.js";
import { finalSnapshot } from "./snapshots.js";
import { startSupervise } from "./supervise.js";
import { type CapabilityBlockRecord, checkInterrupt, type LaunchDeps, type Phase, type RunResult } from "./types.js";

/**
 * Runs the bottle; a crash with resumes left is resumed at once, and with the
 * `rebuild` policy each accepted proposal (up to the plan's rebuilds) is followed at
 * once by a launch of the same identity and session in the image built from it.
 */
export async function runBottle(plan: BottlePlan, deps: LaunchDeps): Promise<RunResult> {
  const history: CapabilityBlockRecord[] = [];
  let current = plan;
  for (;;) {
    const result = await launchOnce(current, deps, history);
    if (result.outcome === "crashed" && result.preserved && result.sessionId && current.autoResume.left > 0) {
      const n = plan.autoResume.left - current.autoResume.left + 1;
      deps.log.info(
        `claude crashed; resuming session ${result.sessionId} at once ` +
          `(resume ${n} of ${plan.autoResume.left} in this run)`,
      );
      current = resumedPlan(current, result.sessionId);
      continue;
    }
    const last = history.at(-1);
    if (
      result.outcome !== "capability-block" ||
      last?.policy !== "rebuild" ||
      !result.sessionId ||
      current.supervise === null
    ) {
      return result;
    }
    const done = plan.supervise ? plan.supervise.rebuildsLeft - current.supervise.rebuildsLeft + 1 : 1;
    deps.log.info(
      `rebuild ${done} of ${plan.supervise?.rebuildsLeft ?? 1}: ` +
        `building ${current.identity} from the proposed Dockerfile ` +
        `and resuming session ${result.sessionId}`,
    );
    current = rebuiltPlan(
      current,
      { dockerfile: last.proposed, imageTag: bottleImageTag(current.identity) },
      result.sessionId,
    );
  }
}

/** One launch: bring the bottle up, run claude, tear down, settle. */
async function launchOnce(plan: BottlePlan, deps: LaunchDeps, history: CapabilityBlockRecord[]): Promise<RunResult> {
  await refuseOrphans(plan, deps.docker);
  const launch = new Launch(plan, deps, history, await firstMetadata(plan, deps));
  let failure: unknown = null;
  try {
    const agentId = await launch.bringUp();
    await launch.runClaude(agentId);
  } catch (error) {
    failure = error;
  } finally {
    await launch.tearDown();
  }
  const settling = launch.settling();
  if (launch.session === null) return settleLaunchFailure(settling, failure);
  return settleSession(settling, launch.session, failure, launch.proposals.proposal, launch.budget);
}

/** The parts of one launch and what it has made so far. */
class Launch {
  readonly proposals: ProposalWatch;
  /** Set once claude's session has ended: from then on, the outcome decides. */
  session: SessionResult | null = null;
  budget: StateBudget | null = null;
  private egress: EgressLog | null = null;
  private readonly timer = new PhaseTimer();
  private readonly resources: BottleResources;
  private readonly lease: BottleLease;
  private readonly hostProbe: HostAddressProbe;
  private readonly workspaceSource: string;
  private readonly stopLogs: { what: string; stop: () => Promise<void> }[] = [];

  constructor(
    private readonly plan: BottlePlan,
    private readonly deps: LaunchDeps,
    private readonly history: CapabilityBlockRecord[],
    private metadata: Metadata,
  ) {
    const { docker, log } = deps;
    this.workspaceSource = workspaceSource(plan, deps);
    this.resources = new BottleResources(docker, plan, log);
    this.lease = new BottleLease(docker, plan.labels[RUNNER_LABEL] ?? "", (line) => log.warn(line));
    const probe = { name: `${plan.gate.name}-host-probe`, labels: plan.labels, image: plan.gate.image };
    this.hostProbe = new HostAddressProbe(docker, probe, (r) => this.resources.createContainer(r));
    this.proposals = new ProposalWatch(docker, log);
  }

  /**
   * Everything up to a started agent container; returns its id. The agent container is
   * created, started and filled while the gate starts, as soon as the internal network
   * exists: its only network, with no way out. claude is exec'd in it only after this
   * returns, once the gate (and a supervise sidecar) said ready. Both branches settle before a failure of either is
   * thrown (the gate's first), so teardown never races a creation. An agent in a
   * per-bottle image waits for the gate, which that image is built behind.
   */
  async bringUp(): Promise<string> {
    const { plan, deps } = this;
    await this.pause("image-build");
    // The agent's own Dockerfile is built behind the bottle's gate, once that is up (bottle-image.ts).
    const deferred = perBottleTag(plan);
    const imageRef = deferred ?? (await this.timer.time("image-build", () => ensureAgentImage(plan, deps)));
    this.checkInterrupt();
    await ensureImage(deps.docker, plan.gate.image, deps.log);
    this.checkInterrupt();
    await this.pause("networks");
    let internalMade = () => {};
    const internal = new Promise<void>((resolve) => (internalMade = resolve));
    // The host's addresses are learned as soon as the internal network shows where the runner is.
    const networks = this.timer.time("networks", () =>
      this.resources.createNetworks((id) => (this.hostProbe.startFor(id), internalMade())),
    );
    // Begun meanwhile; until a per-bottle image has built, the state stays as the last run left it.
    const state = deferred ? null : this.beginState(imageRef);
    const ready = async (network: Promise<unknown>) => {
      await Promise.all([network, state]);
      this.checkInterrupt();
    };
    // The gate is made on its way out as soon as that is known, while the internal network is made.
    const sidecars = ready(this.resources.wayOut()).then(() =>
      this.startSidecars(deferred !== null, imageRef, networks),
    );
    // The agent needs only the internal network: it is made as soon as that exists (or fails with the networks).
    const alongside = deferred ? null : ready(Promise.race([internal, networks])).then(() => this.startAgent(imageRef));
    const [gate, agent] = await Promise.allSettled([sidecars, alongside]);
    // Both settle first: teardown never races a network's creation, and a failure's outcome is the state's last word.
    await Promise.allSettled([networks, state]);
    if (gate.status === "rejected") throw gate.reason;
    if (agent.status === "rejected") throw agent.reason;
    const agentId = agent.value ?? (await this.startAgent(imageRef));
    this.checkInterrupt();
    return agentId;
  }

  /** claude's session, then the final snapshot; a proposal the log did not bring yet is looked for last. */
  async runClaude(agentId: string): Promise<void> {
    const { plan, deps, budget } = this;
    await this.pause("session");
    if (!budget) throw new Error(`the state of ${plan.identity} was not begun before the session`);
    this.timer.markExecStart();
    const proposal = this.proposals.accepted;
    const pause = (phase: Phase) => this.pause(phase);
    this.session = await this.timer.time("session", () => runSession({ plan, deps, agentId, proposal, pause, budget }));
    // claude has ended: the gate and the networks go while the final snapshot reads the agent (teardown awaits
    // them). The lease is renewed in the gate no more; teardown waits for a renewal under way.
    void this.lease.stop();
    this.resources.releaseNetworks();
    const source = { docker: deps.docker, state: deps.state, container: agentId, identity: plan.identity, budget };
    await this.timer.time("snapshot", () => finalSnapshot(source, deps.log));
    // The answer can reach claude before the runner hears of it.
    if (plan.supervise) await this.proposals.finish();
  }

  /**
   * Stops the lease and the probe, removes every resource, then stops reading the
   * sidecars' logs: a removed container's log has ended, so every line it printed
   * (the gate's last egress decisions too) has been read, with no wait.
   */
  async tearDown(): Promise<void> {
    await Promise.all([this.lease.stop(), this.hostProbe.settled()]);
    await this.pause("teardown");
    await this.timer.time("teardown", () => this.resources.teardown());
    await Promise.all(
      this.stopLogs.map(({ what, stop }) =>
        stop().catch((e) => this.deps.log.warn(`reading ${what} log failed: ${errorMessage(e)}`)),
      ),
    );
    await this.egress?.close();
  }

  settling(): Settling {
    const egress = this.egress?.summary ?? { reached: {}, refused: {} };
    if (this.egress) this.deps.log.info(describeEgress(egress));
    const strangers = this.egress && describeStrangers(this.egress.strangers);
    if (strangers) this.deps.log.warn(strangers);
    return {
      plan: this.plan,
      deps: this.deps,
      metadata: this.metadata,
      egress,
      history: this.history,
      timings: this.timer.timings,
    };
  }

  /** The gate until ready (and a per-bottle image built behind it), then a supervise sidecar until ready. */
  private async startSidecars(buildBehindGate: boolean, imageRef: string, networks: Promise<void>): Promise<void> {
    const { plan, deps } = this;
    const parts = { resources: this.resources, lease: this.lease, hostProbe: this.hostProbe, networks };
    const gateId = await this.step("gate-start", () => startGate(plan, deps, parts));
    if (buildBehindGate) await this.buildPerBottleImage();
    await this.beginState(imageRef);
    // The gate's log from its start, so what a per-bottle build asked of it is in it too.
    await this.follow("the gate's", gateId, (line) => this.egress?.accept(line));
    this.checkInterrupt();
    if (plan.supervise) {
      const supervise = plan.supervise;
      const superviseId = await this.step("supervise-start", () =>
        startSupervise(plan, supervise, deps, this.resources),
      );
      this.proposals.watch(superviseId);
      await this.follow("the supervise", superviseId, (line) => this.proposals.accept(line));
      this.checkInterrupt();
    }
  }

  /** The agent container created, started and filled (claude is exec'd in it later). */
  private async startAgent(imageRef: string): Promise<string> {
    await this.pause("agent-start");
    this.checkInterrupt();
    return startAgent({
      plan: this.plan,
      deps: this.deps,
      resources: this.resources,
      imageRef,
      workspaceSource: this.workspaceSource,
      timer: this.timer,
      pause: (phase) => this.pause(phase),
    });
  }

  /** Builds the per-bottle image behind the gate; a rebuild's proposal is then marked rebuilt. */
  private async buildPerBottleImage(): Promise<void> {
    await this.timer.time("image-build", () => ensureAgentImage(this.plan, this.deps));
    const pending = this.history.at(-1);
    if (pending?.policy === "rebuild" && pending.result === undefined) pending.result = "rebuilt";
  }

  private async beginState(image: string): Promise<void> {
    if (this.egress) return;
    const begun = await beginState(this.plan, this.deps, this.metadata, image);
    ({ metadata: this.metadata, egress: this.egress, budget: this.budget } = begun);
  }

  private async follow(what: string, container: string, onLine: (line: string) => void): Promise<void> {
    const { stop } = await this.deps.docker.followLogs(container, onLine);
    this.stopLogs.push({ what, stop });
  }

  private async step<T>(phase: Phase, run: () => Promise<T>): Promise<T> {
    await this.pause(phase);
    return this.timer.time(phase, run);
  }

  private async pause(phase: Phase): Promise<void> {
    await this.deps.pauseAt?.(phase);
  }

  private checkInterrupt(): void {
    checkInterrupt(this.deps.signal);
  }
}
