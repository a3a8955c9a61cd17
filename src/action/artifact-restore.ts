/**
 * A resume job's second source of state. GitHub evicts cache entries unused for 7
 * days (and beyond 10 GB a repository); the state artifact stays for its retention
 * period. So when the cache has no entry for the bottle, the newest state artifact of
 * the bottle in this repository's runs (state-artifact-search.ts) is downloaded with
 * @actions/artifact, as another run's, with the `github-token` input (it needs
 * `actions: read`), and restored through the same checks as a cache archive: it is
 * untrusted until `unpackState` has read it through, and nothing reaches the state
 * directory before that.
 *
 * Only github.com lets a job read another run's artifacts; elsewhere this says so and
 * finds nothing. @actions/github is loaded only when a lookup is made.
 */
import { lstat, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Log } from "../log/log.js";
import { errorMessage } from "../errors.js";
import { type ArchiveLimits, DEFAULT_LIMITS, UnsafeArchiveError, unpackState } from "../state/archive.js";
import type { JobContext } from "./context.js";
import { type RestArtifact, type StateArtifact, findStateArtifact } from "./state-artifact-search.js";

/** The slice of @actions/artifact's client that downloads another run's artifact. */
export interface ArtifactDownloader {
  downloadArtifact(
    artifactId: number,
    options: {
      path: string;
      skipDecompress: boolean;
      expectedHash?: string;
      findBy: { token: string; workflowRunId: number; repositoryOwner: string; repositoryName: string };
    },
  ): Promise<{ digestMismatch?: boolean | undefined }>;
}

export interface ArtifactRestoreRequest {
  identity: string;
  /** The `artifact-name` input: the state artifact is then `<name>-state.tar`. */
  artifactName: string | null;
  stateDir: string;
  ctx: JobContext;
  /** The `github-token` input. */
  token: string | null;
  /** GITHUB_API_URL is read from here. */
  env: NodeJS.ProcessEnv;
  log: Pick<Log, "info" | "warn">;
  client: () => Promise<ArtifactDownloader>;
  limits?: ArchiveLimits;
}

/** What the state was restored from, for the log; null when no state artifact was found. */
export async function restoreFromArtifact(request: ArtifactRestoreRequest): Promise<{ source: string } | null> {
  const { identity, ctx, token, log } = request;
  if (ctx.platform !== "github") {
    log.info(
      `artifacts: another run's artifacts are read only on GitHub, so on ${ctx.platform} only the cache holds ` +
        `${identity}'s state`,
    );
    return null;
  }
  if (!token) {
    log.info(
      `artifacts: no github-token, so ${identity}'s state artifact cannot be looked for (the default is the ` +
        `job's own token)`,
    );
    return null;
  }
  const [owner, repo] = ctx.repository.split("/");
  if (!owner || !repo) {
    log.info(
      `artifacts: GITHUB_REPOSITORY (${JSON.stringify(ctx.repository)}) names no repository, so ${identity}'s ` +
        `state artifact cannot be looked for`,
    );
    return null;
  }
  let search: Awaited<ReturnType<typeof findStateArtifact>>;
  try {
    const listByName = await artifactLister(token, owner, repo, request.env);
    search = await findStateArtifact(
      listByName,
      request.artifactName ? { artifactName: request.artifactName } : { identity },
    );
  } catch (error) {
    log.warn(
      `artifacts: could not look for ${identity}'s state artifact in ${ctx.repository}: ${errorMessage(error)}; ` +
        "the github-token input needs actions: read (add `permissions: actions: read` to the job)",
    );
    return null;
  }
  for (const line of search.skipped) log.warn(`artifacts: skipped ${line}`);
  if (!search.found) {
    log.info(
      `artifacts: no state artifact of ${identity} in ${ctx.repository} (looked for ${search.asked.join(", ")})`,
    );
    return null;
  }
  await download(request, search.found, owner, repo);
  return { source: `artifact ${search.found.name} (id ${search.found.id}) of run ${search.found.runId}` };
}

async function download(
  request: ArtifactRestoreRequest,
  artifact: StateArtifact,
  owner: string,
  repo: string,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "claude-bottle-restore-"));
  const refuse = (why: string) =>
    new UnsafeArchiveError(
      `restored state refused: artifact ${artifact.name} (id ${artifact.id}) of run ${artifact.runId} ${why}`,
    );
  try {
    const client = await request.client();
    let downloaded: { digestMismatch?: boolean | undefined };
    try {
      downloaded = await client.downloadArtifact(artifact.id, {
        path: dir,
        // Kept as the bytes that were uploaded: the archive is read by our own checks, not unpacked by the client.
        skipDecompress: true,
        ...(artifact.digest ? { expectedHash: artifact.digest } : {}),
        findBy: {
          token: request.token as string,
          workflowRunId: artifact.runId,
          repositoryOwner: owner,
          repositoryName: repo,
        },
      });
    } catch (error) {
      throw new Error(
        `the state artifact ${artifact.name} (id ${artifact.id}) of run ${artifact.runId} could not be ` +
          `downloaded: ${errorMessage(error)}`,
      );
    }
    if (downloaded.digestMismatch)
      throw refuse(`does not match the digest recorded when it was uploaded (${artifact.digest})`);
    const entries = await readdir(dir);
    const file = entries.length === 1 ? join(dir, entries[0] as string) : null;
    if (!file || !(await lstat(file)).isFile())
      throw refuse(`did not download as one file (${entries.length} entries)`);
    await unpackState(file, request.stateDir, request.limits ?? DEFAULT_LIMITS);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Lists a repository's artifacts of one exact name, every page (at most 1000 artifacts). */
async function artifactLister(
  token: string,
  owner: string,
  repo: string,
  env: NodeJS.ProcessEnv,
): Promise<(name: string) => Promise<RestArtifact[]>> {
  const { getOctokit } = await import("@actions/github");
  const octokit = getOctokit(token, { baseUrl: env.GITHUB_API_URL || "https://api.github.com" });
  return async (name) => {
    const found: RestArtifact[] = [];
    let pages = 0;
    for await (const page of octokit.paginate.iterator(octokit.rest.actions.listArtifactsForRepo, {
      owner,
      repo,
      name,
      per_page: 100,
    })) {
      found.push(...page.data);
      if (++pages >= 10) break;
    }
    return found;
  };
}
