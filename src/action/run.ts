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
import { join } from "node:path";
import { gateProgramLoader } from "../bottle/gate-program.js";
import { type Log, type RunResult, runBottle } from "../bottle/lifecycle.js";
import { pauseFromEnv } from "../bottle/pause.js";
import { planResume, planStart } from "../bottle/prepare.js";
import type { BottlePlan } from "../bottle/plan.js";
import type { DockerClient } from "../docker/client.js";
import { InputError, errorMessage } from "../errors.js";
import { ManifestError } from "../manifest/load.js";
import { StateStore } from "../state/store.js";
import { type CacheClient, CacheStore } from "../store/cache-store.js";
import { UnsafeArchiveError } from "../store/state-archive.js";
import { type ArtifactUploader, uploadStateArtifact } from "./artifact.js";
import { type JobContext, deriveIdentity, jobContext, stateCacheKey, stateCachePrefix } from "./context.js";
import { type ActionInputs, parseInputs } from "./inputs.js";
import { type SavedState, resumeSnippet, writeSummary } from "./summary.js";
import type { Toolkit } from "./toolkit.js";

export interface ActionDeps {
  core: Toolkit;
  docker: () => Promise<DockerClient>;
  cache: CacheClient;
  artifact: () => Promise<ArtifactUploader>;
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

export async function runMain(deps: ActionDeps): Promise<void> {
  const { core } = deps;
  let inputs: ActionInputs;
  try {
    inputs = parseInputs((name) => core.getInput(name), deps.cwd);
  } catch (error) {
    core.setFailed(errorMessage(error));
    return;
  }
  for (const secret of [inputs.anthropicApiKey, inputs.claudeCodeOauthToken]) if (secret) core.setSecret(secret);
  const ctx = jobContext(deps.env);
  const workspace = deps.env.GITHUB_WORKSPACE || deps.cwd;
  const env = gateEnv(inputs, deps.env);
  const stateHome = deps.env.CLAUDE_BOTTLE_HOME || join(deps.env.RUNNER_TEMP || join(workspace, ".."), "claude-bottle");
  const state = new StateStore(stateHome);
  const store = new CacheStore(deps.cache, workspace);
  const identity = inputs.mode === "resume" ? (inputs.identity as string) : deriveIdentity(ctx, inputs.agent, inputs.id);
  core.setOutput("identity", identity);
  core.saveState("main", JSON.stringify({ identity, stateHome, workspace, phase: "running" } satisfies MainState));

  try {
    const pauseAt = pauseFromEnv(deps.env, (line) => core.info(line));
    const resumeFrom = await core.group("restore", () => restoreState(inputs, ctx, identity, state, store, core));
    const docker = await deps.docker();
    const request = {
      cwd: deps.cwd,
      // The job's own workspace: never a path a restored state names.
      workspace: inputs.workspace ?? workspace,
      capabilityBlock: inputs.capabilityBlock ?? undefined,
      maxRebuilds: inputs.maxRebuilds ?? undefined,
    };
    const prepareDeps = { docker, state, env, warn: (line: string) => core.info(line) };
    const plan: BottlePlan = resumeFrom
      ? await planResume({ ...request, identity, prompt: inputs.resumePrompt ?? undefined }, prepareDeps)
      : await planStart({ ...request, agent: inputs.agent, prompt: inputs.prompt as string, manifest: inputs.manifest ?? undefined, identity }, prepareDeps);
    if (inputs.timeoutMs) plan.timeoutMs = inputs.timeoutMs;
    if (!plan.supervise && (inputs.capabilityBlock !== null || inputs.maxRebuilds !== null)) {
      core.warning(`capability-block and max-rebuilds have no effect: bottle ${plan.bottle} is not supervised (set "supervise": true in the manifest)`);
    }
    core.info(`bottle ${plan.identity}: ${plan.mode === "resume" ? `resuming claude session ${plan.resumeSession}` : `starting agent ${plan.agent}`}`);
    await pauseAt?.("plan");
    let successArtifact: number | null = null;
    const result = await core.group("claude", () =>
      runBottle(plan, {
        // A clean success keeps nothing, but on GitHub its transcript can still be read as an artifact.
        ...(inputs.saveState === "cache-and-artifact"
          ? {
              beforeCleanup: async (stateDir: string) => {
                successArtifact = await uploadStateArtifact(deps, ctx, stateDir, inputs.artifactName ?? `bottle-${identity}-attempt-${ctx.attempt}`);
              },
            }
          : {}),
        docker,
        state,
        clock: { now: () => new Date() },
        env,
        log: actionLog(core),
        signal: deps.signal,
        gateProgram: gateProgramLoader(env),
        ...(pauseAt ? { pauseAt } : {}),
      }),
    );
    await pauseAt?.("cache-save");
    const saved = await core.group("save state", () => saveState(result, inputs, ctx, state, store, deps));
    saved.artifactId ??= successArtifact;
    setOutputs(core, result, saved);
    if (result.preserved) core.info(`resume this bottle in a later job (or re-run this one) with:\n${resumeSnippet(result.identity)}`);
    await writeSummary(core, result, saved, plan);
    if (inputs.failOn.includes(result.outcome)) {
      core.setFailed(`claude ended with outcome ${result.outcome}${result.preserved ? `; the bottle is preserved: resume it with identity ${result.identity}` : ""}`);
    }
  } catch (error) {
    if (error instanceof InputError || error instanceof ManifestError || error instanceof UnsafeArchiveError) core.setFailed(error.message);
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

/** True when the bottle continues a saved session; a missing state is an error only in resume mode. */
async function restoreState(
  inputs: ActionInputs,
  ctx: JobContext,
  identity: string,
  state: StateStore,
  store: CacheStore,
  core: Toolkit,
): Promise<boolean> {
  if (inputs.mode === "resume") {
    const prefix = stateCachePrefix(identity);
    const restored = await store.restore(prefix, state.dir(identity));
    if (!restored) {
      throw new InputError("identity", identity, `has no saved state in the cache (looked for keys starting with ${prefix})`, "check the identity output of the job that preserved the bottle, and that its state was saved (save-state not none)");
    }
    core.info(`restored ${identity} from cache key ${restored.key}`);
    return true;
  }
  if (ctx.attempt <= 1) return false;
  // A re-run: the same inputs, so the task is already in the session; pick up what the failed attempt kept.
  const restored = await store.restore(stateCachePrefix(identity, ctx.runId), state.dir(identity));
  if (!restored) {
    core.info(`attempt ${ctx.attempt}: no preserved state for ${identity} from an earlier attempt; starting fresh`);
    return false;
  }
  const metadata = await state.readMetadata(identity);
  if (!metadata?.sessionId) {
    core.info(`attempt ${ctx.attempt}: the saved state of ${identity} has no claude session; starting fresh`);
    await state.remove(identity);
    return false;
  }
  core.info(`attempt ${ctx.attempt}: resuming ${identity} (session ${metadata.sessionId}) from cache key ${restored.key} instead of starting fresh`);
  return true;
}

async function saveState(
  result: RunResult,
  inputs: ActionInputs,
  ctx: JobContext,
  state: StateStore,
  store: CacheStore,
  deps: ActionDeps,
): Promise<SavedState> {
  const saved: SavedState = { cacheKey: null, artifactId: null };
  if (!result.preserved || inputs.saveState === "none") return saved;
  const key = stateCacheKey(result.identity, ctx);
  const cached = await store.save(state.dir(result.identity), key);
  if (cached.saved) {
    saved.cacheKey = key;
    deps.core.info(`saved the bottle's state to the cache as ${key}`);
  } else {
    deps.core.warning(`the bottle's state was not saved to the cache: ${cached.reason}; it is still in ${state.dir(result.identity)} on this runner`);
  }
  if (inputs.saveState === "cache-and-artifact") {
    saved.artifactId = await uploadStateArtifact(deps, ctx, state.dir(result.identity), inputs.artifactName ?? `bottle-${result.identity}-attempt-${ctx.attempt}`);
  }
  return saved;
}

function setOutputs(core: Toolkit, result: RunResult, saved: SavedState): void {
  core.setOutput("identity", result.identity);
  core.setOutput("outcome", result.outcome);
  core.setOutput("exit-code", result.exitCode === null ? "" : String(result.exitCode));
  core.setOutput("session-id", result.sessionId ?? "");
  core.setOutput("preserved", String(result.preserved));
  core.setOutput("cache-key", saved.cacheKey ?? "");
  core.setOutput("artifact-id", saved.artifactId === null ? "" : String(saved.artifactId));
  core.setOutput("resume-command", result.preserved ? resumeSnippet(result.identity) : "");
}

function actionLog(core: Toolkit): Log {
  return { info: (l) => core.info(l), warn: (l) => core.warning(l), progress: (l) => core.info(l) };
}
