/**
 * How a claude session ended, and what that means for the bottle's state.
 *
 * Exit codes alone lie: an API error can end with exit 0 and `is_error: true`,
 * max-turns ends with exit 1 and a `result` event, and a kill leaves no `result`
 * event at all. So the outcome is decided from the exit code, the final `result`
 * event and what the runner itself did (a timeout, an interrupt) together.
 *
 * Three outcomes come from the bottle rather than from claude: `capability-block`
 * (the agent asked for a different image and the runner ended the session to give
 * it one), `build-failed` (the per-bottle Dockerfile did not build) and
 * `state-limit` (the final snapshot did not fit in `limits.state`, so the state
 * holds an older one and nothing may be copied back).
 */
export const OUTCOMES = [
  "success",
  "error",
  "crashed",
  "timeout",
  "interrupted",
  "capability-block",
  "build-failed",
  "state-limit",
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The fields of claude's final stream-json `result` event that matter here. */
export interface ResultEvent {
  subtype: string;
  is_error: boolean;
  session_id?: string;
  num_turns?: number;
  total_cost_usd?: number;
  result?: string;
}

export interface SessionEnd {
  exitCode: number;
  result: ResultEvent | null;
  /** The bottle's `limits.timeout` passed and the runner stopped claude. */
  timedOut: boolean;
  /** The runner got SIGINT/SIGTERM and stopped claude. */
  interrupted: boolean;
  /** The agent's capability-block proposal was accepted and the runner ended the session for it. */
  capabilityBlock?: boolean;
  /** The final snapshot did not fit in `limits.state`; the state keeps an older one. */
  stateLimit?: boolean;
}

export function decideOutcome(end: SessionEnd): Outcome {
  // An accepted proposal wins: the state is kept for the new image however claude then ended.
  if (end.capabilityBlock) return "capability-block";
  // What the runner did wins: claude's exit after being stopped says nothing new.
  if (end.interrupted) return "interrupted";
  if (end.timedOut) return "timeout";
  // claude's own ending (even a success) is not what the state holds: an older snapshot is.
  if (end.stateLimit) return "state-limit";
  if (end.result === null) return end.exitCode === 0 ? "error" : "crashed";
  if (end.result.is_error) return "error";
  return end.exitCode === 0 ? "success" : "error";
}

/** Every outcome but a clean success keeps the state so the session can be resumed. */
export function preserves(outcome: Outcome): boolean {
  return outcome !== "success";
}
