/**
 * The per-bottle state directory on the runner's disk, `$CLAUDE_BOTTLE_HOME/state/<identity>/`:
 * each file's name, by the name StateStore's `path` takes. StateStore is the only code
 * that reads or writes them.
 */
export const STATE_FILES = {
  /** identity, agent, manifest, session, outcome, exit code, times */
  metadata: "metadata.json",
  /** the per-bottle override; when present the launch builds from it */
  dockerfile: "Dockerfile",
  /** the last accepted proposal: reason, policy, time, the Dockerfile it replaced */
  capabilityBlock: "capability-block.json",
  /** a proposal whose immediate rebuild failed (the Dockerfile above is untouched) */
  proposedDockerfile: "Dockerfile.proposed",
  /** the log of a per-bottle build that failed */
  buildLog: "build.log",
  /** snapshot of the agent's ~/.claude: transcripts and, inside it, claude's settings (.claude.json) */
  transcript: "transcript",
  /** snapshot of the agent's work tree, when preserved */
  workspace: "workspace",
  /** claude's raw stream-json events */
  events: "events.jsonl",
  /** the gate's allow/refuse decisions */
  egress: "egress.jsonl",
  /** marker: keep this state when the bottle is torn down */
  preserve: ".preserve",
  /** a tombstone's mark: the bottle was settled, only its metadata is kept (SettledSchema) */
  settled: "settled.json",
} as const;
export type StateFile = keyof typeof STATE_FILES;

/** The directories a snapshot replaces whole (see atomic.ts). */
export const SNAPSHOT_DIRS = ["transcript", "workspace"] as const satisfies readonly StateFile[];
export type SnapshotDir = (typeof SNAPSHOT_DIRS)[number];

/** The files of the state a person reads (metadata, Dockerfiles, logs). */
export const READABLE_FILES = [
  "metadata",
  "dockerfile",
  "proposedDockerfile",
  "capabilityBlock",
  "buildLog",
  "events",
  "egress",
] as const satisfies readonly StateFile[];
