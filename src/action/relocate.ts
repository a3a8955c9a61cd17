/**
 * A restored state records paths of the job that saved it: the workspace it copied
 * and the manifest it loaded. A later job (a re-run, a resume job) has its own
 * checkout, and often at another path: act-based runners give each task its own
 * directory in host mode and their own paths in a job container, self-hosted runners
 * have their own work folders. So a resume in the action works in this job's
 * workspace, and a manifest that lay inside the earlier workspace is read from the
 * same place in this one — unless this checkout lacks it and the recorded file is
 * still there (the same machine). A manifest outside it is read where it was.
 */
import { existsSync } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import type { Metadata } from "../state/metadata.js";

export function manifestInThisJob(
  recorded: Pick<Metadata, "manifestPath" | "workspace">,
  workspace: string,
  exists: (path: string) => boolean = existsSync,
): string {
  // The embedded default is recorded by name, not by path.
  if (!isAbsolute(recorded.manifestPath) || !isAbsolute(recorded.workspace)) return recorded.manifestPath;
  const inside = relative(recorded.workspace, recorded.manifestPath);
  if (inside === "" || inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside))
    return recorded.manifestPath;
  const moved = join(workspace, inside);
  return exists(moved) || !exists(recorded.manifestPath) ? moved : recorded.manifestPath;
}
