/**
 * Where the runner's lines go: the CLI's stderr or the action's log. Both doors make
 * every line safe to print before it leaves (see untrusted.ts), because many lines
 * carry text the agent controls.
 */
export interface Log {
  /** Lifecycle news: phases, decisions, hints. */
  info(line: string): void;
  warn(line: string): void;
  /** One readable line per claude event. */
  progress(line: string): void;
}
