/**
 * The preserved state as artifacts: the readable pieces (transcript, per-bottle
 * Dockerfile, metadata) zipped for people, and the whole state as our own tar
 * (uploaded as it is, unzipped), which a resume job restores when the cache has
 * evicted the bottle's entry (artifact-restore.ts).
 *
 * On GitHub through @actions/artifact. Gitea 1.23 and later, and Forgejo, serve the
 * same v4 protocol, but the client refuses any server that is not github.com before it
 * sends a byte; there the upload is made anyway when the server answers the protocol
 * (artifact-service.ts), and when it does not that is said once, plainly: the cache
 * remains the store.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { packState } from "../state/archive.js";
import type { StateStore } from "../state/store.js";
import { artifactServiceAbsence } from "./artifact-service.js";
import type { JobContext } from "./context.js";
import type { Toolkit } from "./toolkit.js";

export interface ArtifactUploader {
  uploadArtifact(
    name: string,
    files: string[],
    rootDirectory: string,
    options?: { skipArchive?: boolean },
  ): Promise<{ id?: number | undefined }>;
}

/** The artifact name of a bottle's state saved by attempt `attempt` when `artifact-name` is not given. */
export function defaultArtifactName(identity: string, attempt: number): string {
  return `bottle-${identity}-attempt-${attempt}`;
}

/** The whole state's artifact beside the readable one named `name`: a raw upload is named after its file. */
export function stateArchiveArtifactName(name: string): string {
  return `${name}-state.tar`;
}

export async function uploadStateArtifact(
  deps: { core: Toolkit; artifact: () => Promise<ArtifactUploader>; env: NodeJS.ProcessEnv },
  ctx: JobContext,
  state: StateStore,
  identity: string,
  name: string,
): Promise<number | null> {
  const github = ctx.platform === "github";
  const absent = github ? null : await artifactServiceAbsence(deps.env);
  if (absent) {
    deps.core.info(
      `artifacts: the ${ctx.platform} server does not serve artifacts to this job (${absent}; Gitea 1.23 and ` +
        `later, and Forgejo, do); the state is kept in the cache only`,
    );
    return null;
  }
  const dir = await mkdtemp(join(tmpdir(), "claude-bottle-artifact-"));
  try {
    // Readable pieces as files, the whole state as one archive.
    const stateDir = state.dir(identity);
    const files = state.readableFiles(identity);
    const archive = join(dir, stateArchiveArtifactName(name));
    await packState(stateDir, archive);
    const uploader = await deps.artifact();
    const upload = (...args: Parameters<ArtifactUploader["uploadArtifact"]>) =>
      github ? uploader.uploadArtifact(...args) : pastServerCheck(() => uploader.uploadArtifact(...args));
    const direct = await upload(name, files, stateDir);
    const whole = await upload(stateArchiveArtifactName(name), [archive], dir, { skipArchive: true });
    if (!github)
      deps.core.info(
        `artifacts: ${ctx.platform} took the state as artifacts ${name} and ${stateArchiveArtifactName(name)}`,
      );
    return direct.id ?? whole.id ?? null;
  } catch (error) {
    deps.core.warning(`the state artifact was not uploaded: ${errorMessage(error)}`);
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `call` while GITHUB_SERVER_URL names github.com. @actions/artifact reads it for its
 * server check synchronously, as the call starts, and nowhere else; restored at once.
 */
function pastServerCheck<T>(call: () => Promise<T>): Promise<T> {
  const saved = process.env.GITHUB_SERVER_URL;
  process.env.GITHUB_SERVER_URL = "https://github.com";
  try {
    return call();
  } finally {
    if (saved === undefined) delete process.env.GITHUB_SERVER_URL;
    else process.env.GITHUB_SERVER_URL = saved;
  }
}
