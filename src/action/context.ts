/**
 * What the action knows about the job it runs in, read from the runner's
 * environment: the platform (GitHub, or Gitea/Forgejo with their differences), the
 * run and its attempt, and from those the bottle identity and cache keys.
 *
 * A start derives its identity from the repository, workflow, job, step, agent and
 * `id` input, so a re-run of the same job (same run id, next attempt) computes the
 * same identity and finds the state the failed attempt saved.
 */
import { createHash } from "node:crypto";
import { parseIdentity } from "../state/identity.js";

export type Platform = "github" | "gitea" | "forgejo";

export interface JobContext {
  platform: Platform;
  repository: string;
  workflow: string;
  ref: string;
  job: string;
  step: string;
  runId: string;
  /** 1 for the first attempt; Gitea has left it empty in some versions, which counts as 1. */
  attempt: number;
  serverUrl: string;
  /** The action as the workflow named it, for snippets that run it again: `owner/repo@ref`, or `./` when local. */
  uses: string;
}

export function jobContext(env: NodeJS.ProcessEnv): JobContext {
  const platform: Platform =
    env.FORGEJO_ACTIONS === "true" ? "forgejo" : env.GITEA_ACTIONS === "true" ? "gitea" : "github";
  const attempt = Number.parseInt(env.GITHUB_RUN_ATTEMPT ?? "", 10);
  return {
    platform,
    repository: env.GITHUB_REPOSITORY ?? "",
    workflow: env.GITHUB_WORKFLOW_REF || env.GITHUB_WORKFLOW || "",
    ref: env.GITHUB_REF ?? "",
    job: env.GITHUB_JOB ?? "",
    step: env.GITHUB_ACTION ?? "",
    runId: env.GITHUB_RUN_ID ?? "0",
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
    serverUrl: env.GITHUB_SERVER_URL ?? "https://github.com",
    uses: actionUses(env),
  };
}

/**
 * A remote action runs with GITHUB_ACTION_REPOSITORY and GITHUB_ACTION_REF set; a
 * local one (`uses: ./`) has neither, only GITHUB_ACTION_PATH.
 */
function actionUses(env: NodeJS.ProcessEnv): string {
  const repository = env.GITHUB_ACTION_REPOSITORY?.trim();
  if (!repository) return "./";
  const ref = env.GITHUB_ACTION_REF?.trim();
  return ref ? `${repository}@${ref}` : repository;
}

/** `<agent>-<5 base36>` from the job's coordinates: the same job and agent give the same identity on every attempt. */
export function deriveIdentity(ctx: JobContext, agent: string, id: string): string {
  const digest = createHash("sha256")
    // The workflow ref carries the branch or pull request, so parallel PRs never share a bottle.
    .update(JSON.stringify([ctx.platform, ctx.repository, ctx.workflow, ctx.ref, ctx.job, ctx.step, agent, id]))
    .digest();
  const suffix = (digest.readUInt32BE(0) % 36 ** 5).toString(36).padStart(5, "0");
  return parseIdentity(`${agent}-${suffix}`, "identity");
}

/** Cache keys are lowercase (Gitea lowercases them) and carry the attempt (GitHub's keys are immutable). */
export function stateCacheKey(identity: string, ctx: JobContext): string {
  return `${stateCachePrefix(identity)}${ctx.runId}-${ctx.attempt}`.toLowerCase();
}

/**
 * What a restore asks the cache for. A resume job wants the newest state of the
 * bottle: its primary key is one no save ever writes (saved keys end in
 * `<run>-<attempt>`), so the newest entry under the prefix answers. A re-run wants
 * the attempt before it first, then any earlier attempt of the run.
 */
export function stateRestoreKeys(identity: string, ctx?: JobContext): { primary: string; prefix: string } {
  if (!ctx) return { primary: `${stateCachePrefix(identity)}newest`, prefix: stateCachePrefix(identity) };
  return {
    primary: stateCacheKey(identity, { ...ctx, attempt: ctx.attempt - 1 }),
    prefix: stateCachePrefix(identity, ctx.runId),
  };
}

/** Every saved state of a bottle (a resume job), or only this run's attempts (a re-run). */
export function stateCachePrefix(identity: string, runId?: string): string {
  return `bottle-state-${identity}-${runId ? `${runId}-` : ""}`.toLowerCase();
}
