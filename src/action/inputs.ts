/**
 * The one place the action's inputs are parsed. Every input is read through the
 * table below (typed as `Record<keyof ActionInputs, …>`, so none can be forgotten)
 * and checked with zod; a bad one becomes an InputError naming the input, the value
 * and the fix, before anything is started.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { parseIdentity } from "../state/identity.js";
import { OUTCOMES, type Outcome } from "../state/outcome.js";
import { InputError } from "../errors.js";
import { parseDuration } from "../manifest/duration.js";
import { NAME_PATTERN } from "../names.js";
import { parseMaxRebuilds, parseMaxResumes, parsePolicy } from "../bottle/policy.js";
import type { CapabilityPolicy } from "../supervise/config.js";

export const SAVE_STATE = ["cache", "cache-and-artifact", "none"] as const;

export interface ActionInputs {
  agent: string;
  /** The task, from `prompt` or `prompt-file`; null in resume mode when neither is given. */
  prompt: string | null;
  manifest: string | null;
  mode: "start" | "resume";
  identity: string | null;
  /** Disambiguates parallel steps of one job (a matrix value, a step id) in the derived identity. */
  id: string;
  resumePrompt: string | null;
  /** The agent's work tree on the runner; the job's working directory unless given. */
  workspace: string;
  timeoutMs: number | null;
  anthropicApiKey: string | null;
  claudeCodeOauthToken: string | null;
  gateImage: string | null;
  saveState: (typeof SAVE_STATE)[number];
  artifactName: string | null;
  /**
   * Reads another run's state artifact when the cache has lost the bottle's entry; action.yml defaults it to
   * the job's token.
   */
  githubToken: string | null;
  failOn: Outcome[];
  /** Over the manifest's `capabilityBlock` for this run; null keeps the manifest's. */
  capabilityBlock: CapabilityPolicy | null;
  maxRebuilds: number | null;
  /** Crashes resumed at once in this job (0 to MAX_RESUMES_LIMIT). */
  maxResumes: number;
  /** Keep a built agent image in the Actions cache for the next job. */
  cacheImage: boolean;
}

/** Reads an input by its action.yml name ("" when unset), like core.getInput. */
export type InputReader = (name: string) => string;

type Field<T> = (read: InputReader, cwd: string) => T;

const optional =
  (name: string): Field<string | null> =>
  (read) => {
    const value = read(name).trim();
    return value === "" ? null : value;
  };

function choice<T extends string>(name: string, options: readonly T[], fallback: T): Field<T> {
  return (read) => {
    const value = read(name).trim() || fallback;
    const parsed = z.enum(options as [T, ...T[]]).safeParse(value);
    if (!parsed.success)
      throw new InputError(name, value, "is not one of the choices", `use one of: ${options.join(", ")}`);
    return parsed.data;
  };
}

const FIELDS: Record<keyof ActionInputs, Field<unknown>> = {
  agent: (read) => {
    const value = read("agent").trim() || "claude";
    if (!NAME_PATTERN.test(value)) {
      throw new InputError(
        "agent",
        value,
        "is not an agent name",
        "use a name defined under `agents` in the manifest (lowercase letters, digits, hyphens), or leave it " +
          "out for `claude`",
      );
    }
    return value;
  },
  prompt: (read, cwd) => {
    const text = read("prompt");
    const file = read("prompt-file").trim();
    if (text.trim() && file)
      throw new InputError(
        "prompt-file",
        file,
        "is given together with prompt",
        "give the task either inline as prompt or in a file as prompt-file, not both",
      );
    if (file) {
      try {
        const content = readFileSync(resolve(cwd, file), "utf8");
        if (!content.trim()) throw new InputError("prompt-file", file, "is empty", "write the task into the file");
        return content;
      } catch (error) {
        if (error instanceof InputError) throw error;
        throw new InputError(
          "prompt-file",
          file,
          `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`,
          "give a path relative to the workspace of the job",
        );
      }
    }
    return text.trim() ? text : null;
  },
  manifest: optional("manifest"),
  mode: choice("mode", ["start", "resume"] as const, "start"),
  identity: (read) => {
    const value = read("identity").trim();
    return value === "" ? null : parseIdentity(value, "identity");
  },
  id: (read) => {
    const value = read("id").trim();
    if (value.length > 200)
      throw new InputError(
        "id",
        value,
        "is longer than 200 characters",
        "use a short value such as the matrix entry's name",
      );
    return value;
  },
  resumePrompt: optional("resume-prompt"),
  // action.yml's default is ${{ github.workspace }}, the directory a step runs in.
  workspace: (read, cwd) => read("workspace").trim() || cwd,
  timeoutMs: (read) => {
    const value = read("timeout").trim();
    if (!value) return null;
    try {
      return parseDuration(value);
    } catch {
      throw new InputError("timeout", value, "is not a duration", "write it like 90s, 30m or 1h30m");
    }
  },
  anthropicApiKey: optional("anthropic-api-key"),
  claudeCodeOauthToken: optional("claude-code-oauth-token"),
  gateImage: optional("gate-image"),
  saveState: choice("save-state", SAVE_STATE, "cache-and-artifact"),
  artifactName: (read) => {
    const value = read("artifact-name").trim();
    if (value && !/^[^\\/":<>|*?\r\n]{1,200}$/.test(value)) {
      throw new InputError(
        "artifact-name",
        value,
        "is not a valid artifact name",
        'leave out \\ / " : < > | * ? and line breaks',
      );
    }
    return value || null;
  },
  githubToken: optional("github-token"),
  capabilityBlock: (read) => {
    const value = read("capability-block").trim();
    return value ? parsePolicy("capability-block", value) : null;
  },
  maxRebuilds: (read) => {
    const value = read("max-rebuilds").trim();
    return value ? parseMaxRebuilds("max-rebuilds", value) : null;
  },
  cacheImage: (read) => choice("cache-image", ["true", "false"] as const, "true")(read, "") === "true",
  maxResumes: (read) => parseMaxResumes("max-resumes", read("max-resumes").trim() || "0"),
  failOn: (read) => {
    const value = read("fail-on").trim();
    if (!value) return OUTCOMES.filter((o) => o !== "success");
    const items = value.split(/[\s,]+/).filter(Boolean);
    if (items.length === 1 && items[0] === "never") return [];
    for (const item of items) {
      if (!(OUTCOMES as readonly string[]).includes(item)) {
        throw new InputError(
          "fail-on",
          item,
          "is not an outcome",
          `list outcomes from ${OUTCOMES.join(", ")}, separated by commas, or write never`,
        );
      }
    }
    return items as Outcome[];
  },
};

/** The input each mode cannot do without, and what to write when it is missing. */
const NEEDED_BY_MODE: Record<ActionInputs["mode"], { input: "prompt" | "identity"; problem: string; fix: string }> = {
  start: {
    input: "prompt",
    problem: "is required to start a bottle",
    fix: "give the task as prompt (or prompt-file); only mode: resume may leave it out",
  },
  resume: {
    input: "identity",
    problem: "is required in mode: resume",
    fix: "pass the identity output of the job that preserved the bottle, e.g. ${{ needs.agent.outputs.identity }}",
  },
};

export function parseInputs(read: InputReader, cwd: string): ActionInputs {
  const inputs = Object.fromEntries(
    Object.entries(FIELDS).map(([key, field]) => [key, field(read, cwd)]),
  ) as unknown as ActionInputs;
  const needed = NEEDED_BY_MODE[inputs.mode];
  if (inputs[needed.input] === null) throw new InputError(needed.input, "", needed.problem, needed.fix);
  if (inputs.mode === "start" && inputs.identity !== null) {
    throw new InputError(
      "identity",
      inputs.identity,
      "is only read in mode: resume",
      "leave it out: a start derives its identity from the job, so a re-run finds the same bottle",
    );
  }
  if (inputs.anthropicApiKey && inputs.claudeCodeOauthToken) {
    throw new InputError(
      "claude-code-oauth-token",
      "(set)",
      "is given together with anthropic-api-key",
      "give one credential for the gate to inject",
    );
  }
  return inputs;
}
