/**
 * `CLAUDE_BOTTLE_PAUSE_AT=<phase>`: hold the runner when it reaches a phase, so the
 * fault-injection tests can kill it exactly there and check what the next runner
 * (`cleanup`, the action's post step, `resume`) makes of what is left. It prints
 * one line to say where it holds, then waits until the process is killed.
 */
import { InputError } from "../errors.js";
import { PHASES, type Phase } from "./launch/types.js";

/** The launch phases, plus the two the entry points own: planning and saving to the cache. */
export const PAUSE_POINTS = ["plan", ...PHASES, "cache-save"] as const;
export type PausePoint = (typeof PAUSE_POINTS)[number];

export function pauseFromEnv(
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
): ((point: PausePoint | Phase) => Promise<void>) | undefined {
  const wanted = env.CLAUDE_BOTTLE_PAUSE_AT?.trim();
  if (!wanted) return undefined;
  if (!(PAUSE_POINTS as readonly string[]).includes(wanted)) {
    throw new InputError("CLAUDE_BOTTLE_PAUSE_AT", wanted, "is not a phase", `use one of: ${PAUSE_POINTS.join(", ")}`);
  }
  return async (point) => {
    if (point !== wanted) return;
    say(`paused at ${point} (CLAUDE_BOTTLE_PAUSE_AT)`);
    // A timer keeps the process alive; nothing resolves this.
    await new Promise<never>(() => setInterval(() => {}, 60_000));
  };
}
