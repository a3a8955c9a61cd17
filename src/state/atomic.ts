/**
 * Replacing a file or a directory of the state so that a kill at any instant leaves
 * the old one or the new one, never half of either. StateStore's helpers: nothing
 * else writes into a state directory.
 *
 * A file is written beside its place and renamed into it. A directory (a snapshot)
 * is filled as `.<name>.next-<random>`, the old one is renamed to `.<name>.prev`,
 * the new one into place, then the old one is removed; `recoverDir` puts `.prev`
 * back if a kill fell between the two renames.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The old file or the new one, never half of either; a write that fails (a full disk) leaves no partial file
 * behind.
 */
export async function writeAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => {});
    throw error;
  }
}

/**
 * Replaces `dir/name` with what `fill` writes into a fresh directory; if `fill` throws, the old one stays
 * untouched.
 */
export async function replaceDir(dir: string, name: string, fill: (dir: string) => Promise<void>): Promise<void> {
  const target = join(dir, name);
  const next = join(dir, `.${name}.next-${randomBytes(4).toString("hex")}`);
  const prev = join(dir, `.${name}.prev`);
  await recoverDir(dir, name);
  await mkdir(next, { recursive: true });
  try {
    await fill(next);
  } catch (error) {
    await rm(next, { recursive: true, force: true });
    throw error;
  }
  if (existsSync(target)) await rename(target, prev);
  await rename(next, target);
  await rm(prev, { recursive: true, force: true });
}

/** Repairs what a kill during `replaceDir(dir, name)` left behind: the last complete directory wins. */
export async function recoverDir(dir: string, name: string): Promise<void> {
  if (!existsSync(dir)) return;
  const target = join(dir, name);
  const prev = join(dir, `.${name}.prev`);
  if (existsSync(prev)) {
    if (existsSync(target)) await rm(prev, { recursive: true, force: true });
    else await rename(prev, target);
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith(`.${name}.next-`)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}
