/**
 * Per-bottle images (`claude-bottle-bottle:<identity>`): built from the agent's own
 * Dockerfile (a capability-block proposal, or the one in the state, which a restored
 * cache may have brought), so their build must open no way out the bottle's gate
 * would refuse, and see nothing of the runner's.
 *
 * - Its RUN steps join the bottle's internal network once the gate is up, with the
 *   gate as their proxy (the same variables the agent gets): curl, apt-get or npm
 *   reach what the bottle's egress allows, and nothing else has a route out.
 * - Its context holds only the Dockerfile: nothing of the manifest's directory.
 * - Of the manifest's build args it keeps only BASE_IMAGE, the base the bundled
 *   Dockerfile starts from; an arg that could name a secret never reaches it.
 * - Every image it names must already be on the engine: a pull is the engine's own
 *   fetch, outside the gate. The Dockerfile's own rules (no ADD, COPY only --from,
 *   plain image names) are checked here once more, whoever checked them before.
 *
 * The image goes when the bottle's state goes.
 */
import { type BuildRequest, type DockerClient, IDENTITY_LABEL, ROLE_LABEL, ROLES } from "../docker/client.js";
import { errorMessage } from "../errors.js";
import type { StateStore } from "../state/store.js";
import { isPlainReference, namedImages } from "../supervise/build-sources.js";
import { dockerfileProblem } from "../supervise/dockerfile.js";
import { CONTEXT_DOCKERFILE, buildContext } from "./images.js";

/** The build args a per-bottle build keeps from the manifest (and CLAUDE_BOTTLE_BASE_IMAGE). */
export const KEPT_BUILD_ARGS = ["BASE_IMAGE"] as const;
/** How a per-bottle build differs from the manifest's, in the words the log uses. */
export const BOTTLE_BUILD_TERMS =
  `an empty context, only ${KEPT_BUILD_ARGS.join(", ")} of the build args, ` + `no way out but the bottle's gate`;
/** The agent's proxy variables, which the engine passes to RUN steps without recording them in the image. */
const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"] as const;

export function bottleImageTag(identity: string): string {
  return `claude-bottle-bottle:${identity}`;
}

export function keptBuildArgs(args: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    KEPT_BUILD_ARGS.filter((name) => args[name] !== undefined).map((name) => [name, args[name] as string]),
  );
}

/** What a per-bottle build runs with; `bottle` gives its labels, its internal network and the agent's environment. */
export interface BottleBuild {
  tag: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  agentEnv: Record<string, string>;
}

/** A per-bottle build as the engine gets it; rejects, saying what to do, when the Dockerfile reaches outside. */
export async function bottleBuildRequest(build: BottleBuild, docker: DockerClient): Promise<BuildRequest> {
  const problem = dockerfileProblem(build.dockerfile);
  if (problem) throw new Error(`the per-bottle Dockerfile is not usable: ${problem}`);
  const buildArgs = keptBuildArgs(build.buildArgs);
  for (const { image, line } of namedImages(build.dockerfile, buildArgs)) {
    if (!isPlainReference(image) || !(await docker.imageExists(image))) {
      throw new Error(
        `${image || "(an empty name)"} (line ${line}) is not on this Docker engine, ` +
          `and a per-bottle build pulls nothing: ` +
          `the engine would fetch it from its registry itself, outside the bottle's gate. ` +
          `Build FROM an image this engine has ` +
          `(the one the bottle runs on, for one), or have a person pull ${image || "the image"} first`,
      );
    }
  }
  for (const name of PROXY_VARIABLES) {
    const value = build.agentEnv[name];
    if (value !== undefined) buildArgs[name] = value;
  }
  return {
    context: await buildContext(null, build.dockerfile),
    dockerfile: CONTEXT_DOCKERFILE,
    tag: build.tag,
    buildArgs,
    labels: { ...build.labels, [ROLE_LABEL]: ROLES.bottleImage },
    networkMode: build.network,
  };
}

/** Removes the bottle's state and its per-bottle images (the tagged one and any an earlier build left untagged). */
export async function removeBottleState(
  identity: string,
  deps: { docker: DockerClient; state: StateStore; log: { warn(line: string): void } },
): Promise<void> {
  await deps.state.remove(identity);
  try {
    const untagged = await deps.docker.listImages([
      `${IDENTITY_LABEL}=${identity}`,
      `${ROLE_LABEL}=${ROLES.bottleImage}`,
    ]);
    for (const ref of [bottleImageTag(identity), ...untagged.map((i) => i.id)]) await deps.docker.removeImage(ref);
  } catch (error) {
    deps.log.warn(`removing the per-bottle image of ${identity} failed: ${errorMessage(error)}`);
  }
}
