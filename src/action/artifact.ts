/**
 * The preserved state as an artifact, for people to read (transcript, per-bottle
 * Dockerfile, metadata). A GitHub-side extra: Gitea and Forgejo do not serve the
 * artifact protocol @actions/artifact speaks, so there it is skipped with one note
 * and the cache remains the store.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../errors.js";
import { packState } from "../store/state-archive.js";
import type { JobContext } from "./context.js";
import type { Toolkit } from "./toolkit.js";

export interface ArtifactUploader {
  uploadArtifact(name: string, files: string[], rootDirectory: string): Promise<{ id?: number | undefined }>;
}

export async function uploadStateArtifact(
  deps: { core: Toolkit; artifact: () => Promise<ArtifactUploader> },
  ctx: JobContext,
  stateDir: string,
  name: string,
): Promise<number | null> {
  if (ctx.platform !== "github") {
    deps.core.info(`artifacts are not available on ${ctx.platform}; the state is kept in the cache only`);
    return null;
  }
  const dir = await mkdtemp(join(tmpdir(), "claude-bottle-artifact-"));
  try {
    // Readable pieces as files, the whole state as one archive.
    const files = ["metadata.json", "Dockerfile", "Dockerfile.proposed", "capability-block.json", "build.log", "events.jsonl", "egress.jsonl"].map((f) => join(stateDir, f)).filter((f) => existsSync(f));
    const archive = join(dir, "state.tar");
    await packState(stateDir, archive);
    const uploader = await deps.artifact();
    const direct = await uploader.uploadArtifact(name, files, stateDir);
    const whole = await uploader.uploadArtifact(`${name}-state`, [archive], dir);
    return direct.id ?? whole.id ?? null;
  } catch (error) {
    deps.core.warning(`the state artifact was not uploaded: ${errorMessage(error)}`);
    return null;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
