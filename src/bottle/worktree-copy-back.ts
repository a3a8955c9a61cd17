/**
 * After a clean success, the agent's work tree lands in the directory it came from:
 * new and changed files and links (files the agent deleted stay on the host), and its
 * commits through worktree-history.ts.
 *
 * What the host's git reads as instructions never comes back: nothing below any
 * directory named `.git` is copied (the agent's config, hooks, `info/`, include files,
 * a nested repository), and neither is a file under the host's own `core.hooksPath`
 * or its `core.fsmonitor` program when those lie in the work tree. Nothing is written
 * through a link on the host: an entry whose directory is a link (or a file) on the
 * host is left out, and a link or file in the way of a file is replaced, never
 * followed. A changed `.gitmodules` is pointed out, since a later
 * `git submodule update` fetches what it names.
 */
import { existsSync, lstatSync, type Stats } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, readlink, symlink, unlink } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { git, hostHasGit } from "./host-git.js";
import { bringBackHistory } from "./worktree-history.js";

export interface CopyBackResult {
  /** What a person should know about what did or did not come back (also logged). */
  notes: string[];
}

/** Whether a path of the work tree lies in a git directory (any component named `.git`, in any case). */
export function inGitDir(rel: string): boolean {
  return rel.split(/[/\\]/).some((part) => part.toLowerCase() === ".git");
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

/**
 * Work-tree paths the host's own git config runs as programs: hooks under `core.hooksPath`, a
 * `core.fsmonitor` script.
 */
async function programPaths(workspace: string): Promise<string[]> {
  if (!existsSync(join(workspace, ".git")) || !(await hostHasGit())) return [];
  const paths: string[] = [];
  for (const key of ["core.hooksPath", "core.fsmonitor"]) {
    const value = (await git(["config", "--get", key], workspace, true)).stdout.trim();
    if (!value || value === "true" || value === "false") continue;
    const first = value.split(/\s+/)[0] as string;
    const path = resolve(workspace, first.replace(/^~(?=\/)/, process.env.HOME ?? "~"));
    const rel = relative(workspace, path);
    if (rel !== "" && !rel.startsWith("..") && !isAbsolute(rel)) paths.push(rel);
  }
  return paths;
}

function under(rel: string, prefix: string): boolean {
  return rel === prefix || rel.startsWith(prefix + sep);
}

/** The agent's changes to the files of `.git` that git reads as settings or runs: never copied, said so. */
async function changedControlFiles(snapshot: string, workspace: string): Promise<string[]> {
  const changed: string[] = [];
  const check = async (rel: string) => {
    if (lstatOrNull(join(snapshot, rel))?.isFile() && !(await sameFile(join(snapshot, rel), join(workspace, rel))))
      changed.push(rel);
  };
  await check(join(".git", "config"));
  for (const dir of ["hooks", "info"]) {
    const names = await readdir(join(snapshot, ".git", dir)).catch(() => [] as string[]);
    for (const name of names.filter((n) => !n.endsWith(".sample")).sort()) await check(join(".git", dir, name));
  }
  return changed;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(a).catch(() => null), readFile(b).catch(() => null)]);
  return x !== null && y !== null && x.equals(y);
}

export async function copyWorkTreeBack(
  snapshot: string,
  workspace: string,
  identity: string,
  log: { warn(line: string): void; info(line: string): void },
): Promise<CopyBackResult> {
  const notes: string[] = [];
  const leftOut: string[] = [];
  const programs = await programPaths(workspace);
  const gitmodules = join(snapshot, ".gitmodules");
  if (existsSync(gitmodules) && !(await sameFile(gitmodules, join(workspace, ".gitmodules")))) {
    notes.push("the agent changed .gitmodules: check the submodule URLs and paths before `git submodule update`");
  }
  let nestedRepos = 0;

  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const source = join(dir, entry.name);
      const rel = relative(snapshot, source);
      if (inGitDir(rel)) {
        if (rel !== ".git") nestedRepos++;
        continue;
      }
      const program = entry.isDirectory() ? undefined : programs.find((p) => under(rel, p));
      if (program !== undefined) {
        leftOut.push(`${rel} (the host's git config runs ${program})`);
        continue;
      }
      const target = join(workspace, rel);
      const there = lstatOrNull(target);
      if (entry.isDirectory()) {
        if (there === null) await mkdir(target, { mode: (lstatSync(source).mode & 0o777) | 0o700 });
        else if (!there.isDirectory()) {
          leftOut.push(`${rel}/ (${there.isSymbolicLink() ? "a link" : "a file"} on your side)`);
          continue;
        }
        await visit(source);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        if (there?.isDirectory()) {
          leftOut.push(`${rel} (a directory on your side)`);
          continue;
        }
        if (entry.isSymbolicLink()) {
          const to = await readlink(source);
          if (there?.isSymbolicLink() && (await readlink(target)) === to) continue;
          if (there) await unlink(target);
          await symlink(to, target);
        } else {
          // Replaced, never written into: a link in the way is not followed, a hard link not shared.
          if (there) await unlink(target);
          await copyFile(source, target);
          await chmod(target, lstatSync(source).mode & 0o777);
        }
      }
    }
  };
  await visit(snapshot);

  const control = await changedControlFiles(snapshot, workspace);
  if (control.length) leftOut.unshift(`the agent's ${control.join(", ")} (git reads or runs them)`);
  if (nestedRepos > 0)
    leftOut.push(
      `the .git of ${nestedRepos} ${nestedRepos === 1 ? "repository" : "repositories"} nested in the work tree`,
    );
  if (leftOut.length)
    log.warn(
      `copy-back: left out ` +
        `${leftOut.slice(0, 10).join(", ")}${leftOut.length > 10 ? `, and ${leftOut.length - 10} more` : ""}`,
    );
  notes.push(...(await bringBackHistory(join(snapshot, ".git"), workspace, identity)));
  for (const note of notes) log.warn(note);
  return { notes };
}
