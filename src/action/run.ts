/**
 * The action's main step around the shared core: inputs in, the bottle's identity
 * from the job, state restored from the cache when this is a resume (a resume job,
 * or a re-run of a job whose earlier attempt preserved its bottle), one launch, the
 * preserved state saved to the cache (and as an artifact on GitHub), outputs, a job
 * summary, and a failed step for the outcomes `fail-on` names.
 *
 * Its dependencies (toolkit, Docker client, cache and artifact clients,
 * environment) come in as arguments; `main.ts` wires the real ones.
 */
import { join, resolve } from "node:path";
import { gateProgramLoader } from "../bottle/gate-program.js";
import { runBottle } from "../bottle/launch/run-bottle.js";
import { ensureBaseImages, planImages } from "../bottle/local-images.js";
import { pauseFromEnv } from "../bottle/pause.js";
import { loadStartManifest, planResume, planStart } from "../bottle/prepare.js";
import type { BottlePlan } from "../bottle/plan.js";
import type { DockerClient } from "../docker/client.js";
import { errorMessage, isUserError } from "../errors.js";
import { StateStore } from "../state/store.js";
import { type Metadata, describeOrigin } from "../state/metadata.js";
import { type CacheClient, CacheStore } from "./cache-store.js";
import { type ArtifactUploader, defaultArtifactName, uploadStateArtifact } from "./artifact.js";
import { type ArtifactDownloader, restoreFromArtifact } from "./artifact-restore.js";
import { deriveIdentity, jobContext } from "./context.js";
import { type ActionInputs, parseInputs } from "./inputs.js";
import { ImageCache } from "./image-cache.js";
import { actionLog, safeToolkit } from "./log.js";
import { setIdentityOutput, setOutputs, setSettledOutputs } from "./outputs.js";
import { manifestInThisJob } from "./relocate.js";
import { type Restored, restoreState, saveState } from "./state-cache.js";
import { resumeSnippet, writeSettledSummary, writeSummary } from "./summary.js";
import type { Toolkit } from "./toolkit.js";

export interface ActionDeps {
  core: Toolkit;
  docker: () => Promise<DockerClient>;
  cache: CacheClient;
  artifact: () => Promise<ArtifactUploader & ArtifactDownloader>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal: AbortSignal;
}

/** Saved with core.saveState so the post step knows what main was doing when it stopped. */
export interface MainState {
  identity: string;
  stateHome: string;
  workspace: string;
  phase: "running" | "done";
}

export async function runMain(given: ActionDeps): Promise<void> {
  const deps: ActionDeps = { ...given, core: safeToolkit(given.core) };
  const { core } = deps;
  let inputs: ActionInputs;
  try {
    inputs = parseInputs((name) => core.getInput(name), deps.cwd);
  } catch (error) {
    core.setFailed(errorMessage(error));
    return;
  }
  for (const secret of [inputs.anthropicApiKey, inputs.claudeCodeOauthToken, inputs.githubToken])
    if (secret) core.setSecret(secret);
  const ctx = jobContext(deps.env);
  const workspace = deps.env.GITHUB_WORKSPACE || deps.cwd;
  const env = gateEnv(inputs, deps.env);
  const stateHome = deps.env.CLAUDE_BOTTLE_HOME || join(deps.env.RUNNER_TEMP || join(workspace, ".."), "claude-bottle");
  const state = new StateStore(stateHome);
  const store = new CacheStore(deps.cache, workspace);
  const identity =
    inputs.mode === "resume" ? (inputs.identity as string) : deriveIdentity(ctx, inputs.agent, inputs.id);
  setIdentityOutput(core, identity);
  core.saveState("main", JSON.stringify({ identity, stateHome, workspace, phase: "running" } satisfies MainState));

  try {
    const pauseAt = pauseFromEnv(deps.env, (line) => core.info(line));
    // What can be checked without the cache comes first: a bad manifest or a missing engine restores nothing.
    if (inputs.mode === "start")
      loadStartManifest({ agent: inputs.agent, manifest: inputs.manifest ?? undefined, cwd: deps.cwd });
    const docker = await deps.docker();
    const fromArtifact = () =>
      restoreFromArtifact({
        identity,
        artifactName: inputs.artifactName,
        stateDir: state.dir(identity),
        ctx,
        token: inputs.githubToken,
        env: deps.env,
        log: actionLog(core),
        client: deps.artifact,
      });
    const cacheDeps = { core, state, store, artifact: deps.artifact, env: deps.env, fromArtifact };
    const restored = await core.group("restore", () => restoreState(inputs, ctx, identity, cacheDeps));
    if (restored.kind === "settled") {
      await reportSettled(core, inputs, restored, ctx.uses);
      await state.remove(identity);
      return;
    }
    const resumeFrom = restored.kind === "resume";
    const request = {
      cwd: deps.cwd,
      // The job's own workspace, in a resume too: never a path a restored state names.
      workspace: resolve(deps.cwd, inputs.workspace),
      capabilityBlock: inputs.capabilityBlock ?? undefined,
      maxRebuilds: inputs.maxRebuilds ?? undefined,
      maxResumes: inputs.maxResumes,
      resumePrompt: inputs.resumePrompt ?? undefined,
    };
    const prepareDeps = { docker, state, env, warn: (line: string) => core.info(line) };
    const manifest = resumeFrom
      ? await resumeManifest(inputs, state, identity, request.workspace)
      : (inputs.manifest ?? undefined);
    const planWith = async (planEnv: NodeJS.ProcessEnv): Promise<BottlePlan> =>
      resumeFrom
        ? planResume(
            { ...request, identity, prompt: inputs.resumePrompt ?? undefined, manifest },
            { ...prepareDeps, env: planEnv },
          )
        : planStart(
            { ...request, agent: inputs.agent, prompt: inputs.prompt as string, manifest, identity },
            { ...prepareDeps, env: planEnv },
          );
    let plan = await planWith(env);
    // Where no registry answers, the base and gate images built without one (local-images.ts).
    const localImages = await core.group("base images", () =>
      ensureBaseImages({ docker, env, log: actionLog(core) }, planImages(plan)),
    );
    if (Object.keys(localImages).length > 0) plan = await planWith({ ...env, ...localImages });
    if (inputs.timeoutMs) plan.timeoutMs = inputs.timeoutMs;
    if (!plan.supervise && (inputs.capabilityBlock !== null || inputs.maxRebuilds !== null)) {
      core.warning(
        `capability-block and max-rebuilds have no effect: bottle ${plan.bottle} is not supervised (set ` +
          `"supervise": true in the manifest)`,
      );
    }
    core.info(
      `bottle ${plan.identity}: ` +
        `${plan.mode === "resume" ? `resuming claude session ${plan.resumeSession}` : `starting agent ${plan.agent}`}`,
    );
    await pauseAt?.("plan");
    const tag = inputs.cacheImage && plan.image.kind === "build" && plan.image.reuse ? plan.image.tag : null;
    const images = tag ? new ImageCache(deps.cache, workspace, docker, actionLog(core)) : null;
    const image = images && tag ? await core.group("agent image", () => images.restore(tag)) : null;
    let successArtifact: number | null = null;
    let finished: Metadata | null = null;
    const result = await core.group("claude", () =>
      runBottle(plan, {
        beforeCleanup: async () => {
          // What the tombstone records; on GitHub the transcript of a success can still be read as an artifact.
          finished = await state.readMetadata(identity);
          if (inputs.saveState === "cache-and-artifact") {
            successArtifact = await uploadStateArtifact(
              deps,
              ctx,
              state,
              identity,
              inputs.artifactName ?? defaultArtifactName(identity, ctx.attempt),
            );
          }
        },
        docker,
        state,
        origin: { run: ctx.runId, attempt: ctx.attempt },
        clock: { now: () => new Date() },
        env,
        log: actionLog(core),
        signal: deps.signal,
        gateProgram: gateProgramLoader(env),
        ...(pauseAt ? { pauseAt } : {}),
      }),
    );
    await pauseAt?.("cache-save");
    const saved = await core.group("save state", () => saveState(result, inputs, ctx, finished, cacheDeps));
    if (images && tag && image?.state === "missing")
      await core.group("save agent image", () => images.save(tag, result.timings.image ?? null));
    saved.artifactId ??= successArtifact;
    const resumeCommand = resumeSnippet(result.identity, ctx.uses);
    setOutputs(core, result, saved, resumeCommand);
    if (result.preserved) core.info(`resume this bottle in a later job (or re-run this one) with:\n${resumeCommand}`);
    await writeSummary(core, result, saved, plan, ctx.uses);
    if (inputs.failOn.includes(result.outcome)) {
      core.setFailed(
        `claude ended with outcome ${result.outcome}` +
          (result.preserved ? `; the bottle is preserved: resume it with identity ${result.identity}` : ""),
      );
    }
  } catch (error) {
    if (isUserError(error)) core.setFailed(error.message);
    else core.setFailed(`claude-bottle: ${errorMessage(error)}`);
  } finally {
    core.saveState("main", JSON.stringify({ identity, stateHome, workspace, phase: "done" } satisfies MainState));
  }
}

/**
 * The gate's environment: the runner's, plus the credential inputs under the names
 * the manifest's routes read. Only the gate container is created from these values.
 */
function gateEnv(inputs: ActionInputs, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...env,
    ...(inputs.anthropicApiKey ? { ANTHROPIC_API_KEY: inputs.anthropicApiKey } : {}),
    ...(inputs.claudeCodeOauthToken ? { CLAUDE_CODE_OAUTH_TOKEN: inputs.claudeCodeOauthToken } : {}),
    ...(inputs.gateImage ? { CLAUDE_BOTTLE_GATE_IMAGE: inputs.gateImage } : {}),
  };
}

/** The `manifest` input, else the manifest the state recorded, moved into this job's workspace. */
async function resumeManifest(
  inputs: ActionInputs,
  state: StateStore,
  identity: string,
  workspace: string,
): Promise<string | undefined> {
  if (inputs.manifest) return inputs.manifest;
  const metadata = await state.readMetadata(identity);
  return metadata ? manifestInThisJob(metadata, workspace) : undefined;
}

/** A resume job found that the bottle already finished: say so, and pass or fail as `fail-on` says of that outcome. */
async function reportSettled(
  core: Toolkit,
  inputs: ActionInputs,
  found: Extract<Restored, { kind: "settled" }>,
  uses: string,
): Promise<void> {
  const { settled, metadata } = found;
  core.info(
    `bottle ${metadata.identity} finished (${settled.outcome}) in ${describeOrigin(settled.origin)}; nothing to resume`,
  );
  setSettledOutputs(core, metadata, settled);
  await writeSettledSummary(core, metadata, settled, uses);
  if (inputs.failOn.includes(settled.outcome))
    core.setFailed(
      `bottle ${metadata.identity} had already ended with outcome ${settled.outcome}; nothing was resumed`,
    );
}
