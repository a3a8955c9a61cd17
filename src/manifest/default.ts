/**
 * The manifest used when a project has no `claude-bottle.json`: one bottle built
 * from the bundled agent Dockerfile whose only way out is the gate's route to the
 * Anthropic API, and one agent, `claude`, running in it. It goes through the same
 * schema as a file on load, so it cannot drift from what a user could write.
 */
import type { ManifestInput } from "./schema.js";

export const DEFAULT_AGENT = "claude";

const DEFAULT_PROMPT = [
  "You are a coding agent running headlessly in a sandbox; nobody is watching the session or can answer questions.",
  "The project you work on is in /home/node/workspace.",
  "Do not ask for confirmation: when something is unclear, make the most reasonable choice, note it, and carry on.",
  "Network access is limited to a few allowed hosts; if something cannot be fetched, work without it and say so.",
  "When you finish, summarize what you changed, how you checked it, and anything left undone.",
].join(" ");

export const DEFAULT_MANIFEST = {
  bottles: {
    default: {
      egress: {
        allow: [],
        routes: [
          {
            name: "anthropic",
            upstream: "https://api.anthropic.com",
            inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
            role: "anthropic",
          },
        ],
      },
    },
  },
  agents: {
    [DEFAULT_AGENT]: { bottle: "default", prompt: DEFAULT_PROMPT },
  },
} satisfies ManifestInput;
