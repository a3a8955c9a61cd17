/**
 * The action's outputs, in one table: action.yml declares exactly these (a unit test
 * checks both directions), and this is the only code that sets them.
 */
import type { RunResult } from "../bottle/launch/types.js";
import type { Metadata, Settled } from "../state/metadata.js";
import type { Toolkit } from "./toolkit.js";

export const ACTION_OUTPUTS = [
  "identity",
  "outcome",
  "exit-code",
  "session-id",
  "preserved",
  "cache-key",
  "artifact-id",
  "resume-command",
] as const;
export type ActionOutput = (typeof ACTION_OUTPUTS)[number];

export interface SavedState {
  cacheKey: string | null;
  artifactId: number | null;
}

/** Set as soon as the identity is known, so a step that fails later still names its bottle. */
export function setIdentityOutput(core: Toolkit, identity: string): void {
  core.setOutput("identity", identity);
}

/** A resume job that found the bottle already finished: its recorded end, nothing preserved. */
export function setSettledOutputs(core: Toolkit, metadata: Metadata, settled: Settled): void {
  const values: Record<ActionOutput, string> = {
    identity: metadata.identity,
    outcome: settled.outcome,
    "exit-code": metadata.exitCode === null ? "" : String(metadata.exitCode),
    "session-id": metadata.sessionId ?? "",
    preserved: "false",
    "cache-key": "",
    "artifact-id": "",
    "resume-command": "",
  };
  for (const name of ACTION_OUTPUTS) core.setOutput(name, values[name]);
}

export function setOutputs(core: Toolkit, result: RunResult, saved: SavedState, resumeCommand: string): void {
  const values: Record<ActionOutput, string> = {
    identity: result.identity,
    outcome: result.outcome,
    "exit-code": result.exitCode === null ? "" : String(result.exitCode),
    "session-id": result.sessionId ?? "",
    preserved: String(result.preserved),
    "cache-key": saved.cacheKey ?? "",
    "artifact-id": saved.artifactId === null ? "" : String(saved.artifactId),
    "resume-command": result.preserved ? resumeCommand : "",
  };
  for (const name of ACTION_OUTPUTS) core.setOutput(name, values[name]);
}
