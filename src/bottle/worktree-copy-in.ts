/**
 * The work tree as the bottle receives it: every file of the directory, except that
 * each repository's config (`.git/config`, a submodule's, a nested clone's,
 * `config.worktree`) arrives with its credentials removed (see worktree-git-config.ts).
 *
 * The configs are held back from the directory's archive and sent after it as a
 * second one, rewritten. Without a git program on the host there is nothing to parse
 * them with, so they are not sent at all (a repository works without its config).
 */
import { existsSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import type { Readable } from "node:stream";
import type { DockerClient } from "../docker/client.js";
import { type FileEntry, type Owner, packDirectory, packFiles } from "./archive.js";
import { gitOk, hostHasGit } from "./host-git.js";
import { parseConfigList, serializeConfig, stripCredentials } from "./worktree-git-config.js";

const CONFIG_NAMES = new Set(["config", "config.worktree"]);

/** A repository's own directory: what git itself checks before it reads a config there. */
function isGitDir(dir: string): boolean {
  try {
    return (
      statSync(join(dir, "HEAD")).isFile() && (existsSync(join(dir, "objects")) || existsSync(join(dir, "commondir")))
    );
  } catch {
    return false;
  }
}

export interface WorkTreeCopy {
  /** The directory's archive, repository configs left out. */
  tar: Readable;
  /** Once `tar` has been read to its end: the configs with credentials removed, and what was removed. */
  configs(): Promise<{ files: FileEntry[]; removed: string[] }>;
}

/** Packs `dir` with its entries under `prefix/`, owned by `owner`. */
export function packWorkTree(dir: string, owner: Owner, prefix: string): WorkTreeCopy {
  const held: string[] = [];
  const tar = packDirectory(dir, owner, prefix, (path) => {
    if (!CONFIG_NAMES.has(basename(path)) || !isGitDir(dirname(path))) return false;
    held.push(path);
    return true;
  });
  return {
    tar,
    async configs() {
      const files: FileEntry[] = [];
      const removed: string[] = [];
      const withGit = await hostHasGit();
      for (const path of held) {
        const rel = relative(dir, path);
        const name = prefix ? `${prefix}/${rel}` : rel;
        if (!withGit) {
          removed.push(`${rel} (left out whole: no git program here to read it with)`);
          continue;
        }
        try {
          const { kept, removed: here } = stripCredentials(
            parseConfigList(await gitOk(["config", "--file", path, "--no-includes", "--null", "--list"])),
          );
          files.push({ name, content: serializeConfig(kept), mode: 0o644 });
          removed.push(...here.map((key) => (rel === join(".git", "config") ? key : `${key} in ${rel}`)));
        } catch {
          removed.push(`${rel} (left out whole: git cannot read it)`);
        }
      }
      return { files, removed };
    },
  };
}

/**
 * Copies `source` into the container as `<home>/workspace`, configs rewritten, and
 * says once what was removed.
 */
export async function copyWorkTreeIn(
  docker: DockerClient,
  container: string,
  source: string,
  home: string,
  owner: Owner,
  log: { info(line: string): void },
): Promise<void> {
  const copy = packWorkTree(source, owner, "workspace");
  await docker.putArchive(container, home, copy.tar);
  const { files, removed } = await copy.configs();
  if (files.length) await docker.putArchive(container, home, await packFiles(files, owner));
  if (removed.length) {
    log.info(
      `copy-in: removed credentials from the bottle's copy of the repository config: ${removed.join(", ")}. ` +
        "The agent cannot push with the job's token; give the bottle a route to the git host if it must " +
        "(README: Pushing from a bottle)",
    );
  }
}
