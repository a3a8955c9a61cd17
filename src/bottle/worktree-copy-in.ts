/**
 * The work tree as the bottle receives it: every file of the directory, except that
 * each repository's config (`.git/config`, a submodule's, a nested clone's,
 * `config.worktree`) arrives with its credentials removed (see worktree-git-config.ts).
 *
 * The configs are held back from the directory's entries and sent after them,
 * rewritten, in the same archive. Without a git program on the host there is nothing to parse
 * them with, so they are not sent at all (a repository works without its config).
 */
import { existsSync, statSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { type ArchivePart, directoryPart, type FileEntry, filesPart, type Owner } from "./archive.js";
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

/** The repository configs below `dir`, held back from its archive by `ignore` and read once it is packed. */
function heldConfigs(dir: string): {
  ignore: (path: string) => boolean;
  configs(prefix: string): Promise<{ files: FileEntry[]; removed: string[] }>;
} {
  const held: string[] = [];
  return {
    ignore(path) {
      if (!CONFIG_NAMES.has(basename(path)) || !isGitDir(dirname(path))) return false;
      held.push(path);
      return true;
    },
    async configs(prefix) {
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
 * `source` as a part of the agent's archive, as `<prefix>` (its work tree), configs rewritten
 * and sent after the rest; says once what was removed.
 */
export function workTreePart(
  source: string,
  owner: Owner,
  prefix: string,
  log: { info(line: string): void },
): ArchivePart {
  return async (pack) => {
    const held = heldConfigs(source);
    await directoryPart(source, owner, prefix, held.ignore)(pack);
    const { files, removed } = await held.configs(prefix);
    await filesPart(files, owner, false)(pack);
    if (removed.length) {
      log.info(
        `copy-in: removed credentials from the bottle's copy of the repository config: ${removed.join(", ")}. ` +
          "The agent cannot push with the job's token; give the bottle a route to the git host if it must " +
          "(README: Pushing from a bottle)",
      );
    }
  };
}
