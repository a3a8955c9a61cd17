/**
 * Headless claude inside the bottle: the command line it runs with, and the reading
 * of its stream-json output into a session id, turn boundaries, the final `result`
 * event and one readable progress line per event.
 */
import { clip } from "../log/untrusted.js";
import type { ResultEvent } from "../state/outcome.js";

export const AGENT_HOME = "/home/node";
export const AGENT_WORKSPACE = "/home/node/workspace";
/**
 * claude's config directory (CLAUDE_CONFIG_DIR): its transcripts and, with the variable set, its
 * settings file `.claude.json` too, so one archive holds the whole of what a resume needs.
 */
export const AGENT_CONFIG_DIR = "/home/node/.claude";
/** Where a transcript saved before the settings moved into the config directory kept them. */
export const LEGACY_SETTINGS_FILE = ".claude.json";
export const AGENT_USER = "node";
/** The appended system prompt lives outside the workspace, read-only for the agent. */
export const SYSTEM_PROMPT_PATH = "/opt/claude-bottle/system-prompt.md";
export const DEFAULT_RESUME_PROMPT =
  "Your previous session in this bottle was interrupted. Continue where you left off and finish the task.";

/** The resume prompt after the bottle was rebuilt from the agent's own proposal. */
export const REBUILT_RESUME_PROMPT =
  "This bottle was rebuilt from the Dockerfile you proposed with capability-block: the image now has what you " +
  "asked for. Continue where you left off and finish the task.";

export interface ClaudeOptions {
  prompt: string;
  model?: string | undefined;
  maxTurns?: number | undefined;
  resumeSession?: string | null | undefined;
  /** An `--mcp-config` JSON document; only the servers it names are loaded. */
  mcpConfig?: string | undefined;
}

/**
 * claude's command line, exec'd as it is: claude is the exec's own process, which
 * the runner stops from outside (see stop.ts), never through anything in the
 * container the agent could rewrite.
 */
export function claudeArgs(options: ClaudeOptions): string[] {
  const args = [
    "claude",
    "-p",
    options.prompt,
    "--output-format",
    "stream-json",
    "--verbose",
    "--append-system-prompt-file",
    SYSTEM_PROMPT_PATH,
    "--dangerously-skip-permissions",
  ];
  if (options.model) args.push("--model", options.model);
  if (options.maxTurns) args.push("--max-turns", String(options.maxTurns));
  if (options.resumeSession) args.push("--resume", options.resumeSession);
  // Strict: a .mcp.json in the workspace must not add servers next to the runner's own.
  if (options.mcpConfig) args.push("--mcp-config", options.mcpConfig, "--strict-mcp-config");
  return args;
}

type Json = Record<string, unknown>;

interface ContentBlock {
  type?: string;
  text?: string;
  name?: string;
  input?: unknown;
  content?: unknown;
  is_error?: boolean;
}

export interface EventEffects {
  /** A readable line for the log, or null when the event is not worth one. */
  progress: string | null;
  /** A turn just finished (tool results went back, or claude answered): a good moment to snapshot. */
  turnEnded: boolean;
}

/** Follows one claude session's stream-json output. */
export class ClaudeStream {
  sessionId: string | null = null;
  result: ResultEvent | null = null;
  turns = 0;

  /** Feeds one stdout line; returns what it means for the log and for snapshots. */
  accept(line: string): EventEffects & { event: Json | null } {
    const trimmed = line.trim();
    if (!trimmed) return { event: null, progress: null, turnEnded: false };
    let event: Json;
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object");
      event = parsed as Json;
    } catch {
      return { event: null, progress: `claude: ${clip(trimmed)}`, turnEnded: false };
    }
    if (typeof event.session_id === "string" && !this.sessionId) this.sessionId = event.session_id;
    const effects = this.describe(event);
    return { event, ...effects };
  }

  private describe(event: Json): EventEffects {
    switch (event.type) {
      case "system":
        if (event.subtype === "init") {
          return {
            progress: `session ${String(event.session_id)} started (model ${String(event.model ?? "default")})`,
            turnEnded: false,
          };
        }
        return { progress: null, turnEnded: false };
      case "assistant": {
        this.turns++;
        const blocks = contentBlocks(event);
        const lines = blocks.map(describeBlock).filter((l): l is string => l !== null);
        const usesTools = blocks.some((b) => b.type === "tool_use");
        return { progress: lines.length > 0 ? lines.join("\n") : null, turnEnded: !usesTools };
      }
      case "user": {
        const results = contentBlocks(event).filter((b) => b.type === "tool_result");
        const failed = results.filter((b) => b.is_error).length;
        const progress =
          results.length > 0
            ? `  ↳ ${results.length} tool result${results.length > 1 ? "s" : ""}` +
              (failed ? ` (${failed} failed)` : "")
            : null;
        return { progress, turnEnded: results.length > 0 };
      }
      case "result": {
        this.result = {
          subtype: String(event.subtype ?? "unknown"),
          is_error: event.is_error === true,
          ...(typeof event.session_id === "string" ? { session_id: event.session_id } : {}),
          ...(typeof event.num_turns === "number" ? { num_turns: event.num_turns } : {}),
          ...(typeof event.total_cost_usd === "number" ? { total_cost_usd: event.total_cost_usd } : {}),
          ...(typeof event.result === "string" ? { result: event.result } : {}),
        };
        const cost = typeof event.total_cost_usd === "number" ? `, $${event.total_cost_usd.toFixed(4)}` : "";
        return {
          progress:
            `result: ${this.result.subtype}${this.result.is_error ? " (error)" : ""}, ` +
            `${this.result.num_turns ?? this.turns} turns${cost}`,
          turnEnded: true,
        };
      }
      default:
        return { progress: null, turnEnded: false };
    }
  }
}

function contentBlocks(event: Json): ContentBlock[] {
  const message = event.message as { content?: unknown } | undefined;
  return Array.isArray(message?.content) ? (message.content as ContentBlock[]) : [];
}

function describeBlock(block: ContentBlock): string | null {
  if (block.type === "text" && block.text) return `claude: ${clip(block.text)}`;
  if (block.type === "tool_use") {
    const input = block.input as Record<string, unknown> | undefined;
    const detail = input?.command ?? input?.file_path ?? input?.pattern ?? input?.url ?? "";
    return `tool ${block.name ?? "?"}${detail ? `: ${clip(String(detail))}` : ""}`;
  }
  return null;
}
