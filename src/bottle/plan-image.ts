/**
 * The agent image of a plan: a prebuilt image, the bundled Dockerfile, the
 * manifest's Dockerfile, or the per-bottle Dockerfile a capability-block asked
 * for, which wins over the others. A Dockerfile is read when the plan is made, so
 * a missing file fails before anything exists.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { InputError } from "../errors.js";
import type { Bottle } from "../manifest/schema.js";
import { AGENT_DOCKERFILE, DEFAULT_BASE_IMAGE } from "./agent-dockerfile.js";
import { bottleImageTag, keptBuildArgs } from "./bottle-image.js";

/** Where the per-bottle Dockerfile is shown to come from, for people reading the plan. */
export const PER_BOTTLE_DOCKERFILE_PATH = "state/<identity>/Dockerfile";

export type ImagePlan =
  | { kind: "prebuilt"; ref: string }
  | {
      kind: "build";
      tag: string;
      /** Where the Dockerfile comes from: the bundled one, the manifest's, or the per-bottle override in the state. */
      source: "bundled" | "manifest" | "per-bottle";
      /** The Dockerfile's text (read at plan time, so a missing file fails before anything exists). */
      dockerfile: string;
      /** The file it was read from, for people reading the plan. */
      dockerfilePath: string | null;
      /** A directory on the runner to send as the build context, or null for a context holding only the Dockerfile. */
      contextDir: string | null;
      buildArgs: Record<string, string>;
      /** Content-addressed tags are reused as they are; others are rebuilt (Docker's layer cache keeps that cheap). */
      reuse: boolean;
      /** For a per-bottle override: what the bottle was built from before it, so people can see the change. */
      replaces?: string;
    };

export interface ImageRequest {
  bottle: Bottle;
  /** `bottles.<name>`, for errors. */
  bottlePath: string;
  agent: string;
  identity: string;
  /** The manifest's directory: a Dockerfile path is relative to it. */
  manifestDir: string;
  /** The per-bottle Dockerfile found in the state, if any. */
  perBottleDockerfile: string | null;
  env: NodeJS.ProcessEnv;
}

/** The image a launch runs, from the per-bottle override, the manifest's image or Dockerfile, or the bundled one. */
export function resolveImage(request: ImageRequest): ImagePlan {
  const { bottle, bottlePath, env } = request;
  const buildArgs: Record<string, string> = { ...bottle.buildArgs };
  const manifestDockerfile = bottle.dockerfile ? resolve(request.manifestDir, bottle.dockerfile) : null;
  const field = `${bottlePath}.dockerfile`;
  if (request.perBottleDockerfile !== null) {
    // The per-bottle override wins over everything: it is what a capability-block asked for.
    const replaces = bottle.image
      ? `FROM ${bottle.image}\n`
      : manifestDockerfile
        ? readDockerfile(manifestDockerfile, field, bottle.dockerfile ?? "")
        : AGENT_DOCKERFILE;
    // The agent's text: it gets no context and no build arg that could hold a secret (bottle-image.ts).
    return {
      kind: "build",
      tag: bottleImageTag(request.identity),
      source: "per-bottle",
      replaces,
      dockerfile: request.perBottleDockerfile,
      dockerfilePath: PER_BOTTLE_DOCKERFILE_PATH,
      contextDir: null,
      buildArgs: keptBuildArgs(withBaseImage(buildArgs, env)),
      reuse: false,
    };
  }
  if (bottle.image) return { kind: "prebuilt", ref: bottle.image };
  if (manifestDockerfile) {
    const text = readDockerfile(manifestDockerfile, field, bottle.dockerfile ?? "");
    return {
      kind: "build",
      tag: `claude-bottle-agent:${request.agent}-${hash(text + JSON.stringify(Object.entries(buildArgs).sort()))}`,
      source: "manifest",
      dockerfile: text,
      dockerfilePath: manifestDockerfile,
      contextDir: dirname(manifestDockerfile),
      buildArgs,
      reuse: false,
    };
  }
  const args = withBaseImage(buildArgs, env);
  return {
    kind: "build",
    tag: `claude-bottle-agent:${hash(AGENT_DOCKERFILE + JSON.stringify(Object.entries(args).sort()))}`,
    source: "bundled",
    dockerfile: AGENT_DOCKERFILE,
    dockerfilePath: null,
    contextDir: null,
    buildArgs: args,
    reuse: true,
  };
}

/** The bundled Dockerfile's base: the manifest's build arg, else CLAUDE_BOTTLE_BASE_IMAGE, else the default. */
function withBaseImage(args: Record<string, string>, env: NodeJS.ProcessEnv): Record<string, string> {
  if (args.BASE_IMAGE) return args;
  return { ...args, BASE_IMAGE: env.CLAUDE_BOTTLE_BASE_IMAGE || DEFAULT_BASE_IMAGE };
}

function readDockerfile(path: string, field: string, given: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      field,
      given,
      `cannot be read (${code ?? "error"} at ${path})`,
      "give a path to a Dockerfile relative to the manifest, or remove the field to use the bundled one",
    );
  }
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}
