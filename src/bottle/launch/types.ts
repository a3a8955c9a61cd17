/**
 * The words of a launch: what it is given (LaunchDeps), its phases, what it
 * returns (RunResult) and how it fails (LaunchError).
 */
import type { DockerClient } from "../../docker/client.js";
import type { Log } from "../../log/log.js";
import type { LaunchRecord, Origin } from "../../state/metadata.js";
import type { StateStore } from "../../state/store.js";
import type { SuperviseConfig } from "../../supervise/config.js";
import type { EgressSummary } from "../egress-log.js";
import type { Outcome } from "../../state/outcome.js";

export interface Clock {
  now(): Date;
}

export interface LaunchDeps {
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

/**
 * The phases of a launch, in order: each is a point where the runner can be held
 * (CLAUDE_BOTTLE_PAUSE_AT=<phase>) and a span whose milliseconds the result's
 * `timings` keep under TIMING_KEYS[phase]. `snapshot` is held at every transcript
 * snapshot and timed at the final one.
 */
export const PHASES = [
  "image-build",
  "networks",
  "gate-start",
  "supervise-start",
  "agent-start",
  "copy-in",
  "session",
  "snapshot",
  "teardown",
] as const;
export type Phase = (typeof PHASES)[number];

/** The key of each phase in `timings`: the names the CLI's JSON result and the benchmarks read. */
export const TIMING_KEYS = {
  "image-build": "image",
  networks: "networks",
  "gate-start": "gate",
  "supervise-start": "supervise",
  "agent-start": "agent",
  "copy-in": "copyIn",
  session: "session",
  snapshot: "finalSnapshot",
  teardown: "teardown",
} as const satisfies Record<Phase, string>;

/**
 * Milliseconds per phase of the last launch, and `execStart`: from the start of
 * the launch until claude was exec'd, the figure a launch is judged by.
 */
export type Timings = Partial<Record<(typeof TIMING_KEYS)[Phase] | "execStart", number>>;

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

/** The runner was interrupted before claude ran. */
export class Interrupted extends Error {}

/** The per-bottle Dockerfile did not build: its own outcome, with the state kept. */
export class BuildFailed extends Error {}

export function checkInterrupt(signal: AbortSignal): void {
  if (signal.aborted) throw new Interrupted("interrupted");
}
