/**
 * A snapshot of a directory of the agent's (its work tree, its `~/.claude`) onto the
 * runner's disk. Whatever the agent left there, the snapshot does not fail on it:
 *
 * - a symlink whose target is absolute, climbs out of the directory, or (once all is
 *   unpacked) resolves to anything outside it or to nothing, is left out;
 * - fifos, devices and other special files are left out;
 * - links inside the directory stay links, and nothing is ever written through one.
 *
 * Each entry left out is reported so the caller can say so. The archive comes from a
 * container the agent controls, so what is kept still goes through tar-fs's checks
 * (no writes through an existing link, no setuid bits).
 */
import * as fs from "node:fs";
import { lstatSync } from "node:fs";
import { lstat, mkdir, readdir, realpath, unlink } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tarFs from "tar-fs";

export interface LeftOut {
  /** Relative to the snapshot's top. */
  path: string;
  why: string;
}

const KEPT_TYPES = new Set(["file", "directory", "symlink", "link"]);

/**
 * The file system tar-fs writes through, with each file's write stream buffering up to a
 * mebibyte: the archive arrives in chunks of a few KiB, and with Node's default 16 KiB the
 * writes of a large file cost more than reading it out of the container.
 */
const WRITE_BUFFER = 1 << 20;
const snapshotFs = {
  ...fs,
  createWriteStream: (path: fs.PathLike, options?: Parameters<typeof fs.createWriteStream>[1]) =>
    fs.createWriteStream(path, { ...(typeof options === "object" ? options : {}), highWaterMark: WRITE_BUFFER }),
};

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/** Why a symlink entry at `path` (absolute, below `root`) pointing to `target` is left out, or null to keep it. */
export function linkProblem(root: string, path: string, target: string): string | null {
  if (target === "") return "a symlink to nothing";
  if (isAbsolute(target)) return `a symlink to ${target}, outside the work tree`;
  if (!inside(root, resolve(dirname(path), target))) return `a symlink to ${target}, outside the work tree`;
  return null;
}

/** A hard link is kept only to a regular file already unpacked (tar-fs fails the archive otherwise). */
function hardLinkProblem(root: string, target: string): string | null {
  try {
    if (lstatSync(join(root, join("/", target))).isFile()) return null;
  } catch {
    // not there: left out below
  }
  return `a hard link to ${target}, which is not a file here`;
}

/**
 * Unpacks `tar` into `dir`, dropping the first `strip` path components (getArchive of
 * `/home/node/workspace` yields entries under `workspace/`), and returns what was left out.
 */
export async function extractSnapshot(tar: Readable, dir: string, strip = 0): Promise<LeftOut[]> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  const leftOut: LeftOut[] = [];
  const plainDirs = new Set([root]);
  /**
   * True when every existing directory from `path` up to the top is a real one (tar-fs fails the archive
   * otherwise).
   */
  const noLinkAbove = (path: string): boolean => {
    if (plainDirs.has(path) || !inside(root, path)) return plainDirs.has(path);
    let st: ReturnType<typeof lstatSync> | null = null;
    try {
      st = lstatSync(path);
    } catch {
      return noLinkAbove(dirname(path));
    }
    if (!st.isDirectory() || !noLinkAbove(dirname(path))) return false;
    plainDirs.add(path);
    return true;
  };
  const extract = tarFs.extract(root, {
    fs: snapshotFs,
    chown: false,
    strict: true,
    // Checked here instead (linkProblem, then resolveLinks below): tar-fs's own check fails the whole archive.
    validateSymlinks: false,
    map(header) {
      const h = header as typeof header & { linkname?: string | null };
      h.name = h.name.split("/").slice(strip).join("/");
      if (h.type === "link" && h.linkname) h.linkname = h.linkname.split("/").slice(strip).join("/");
      return h;
    },
    ignore(entry: string, header?: { type?: string | null; linkname?: string | null }) {
      if (!header) return false;
      // tar-fs gives the top as `root/`.
      const name = resolve(entry);
      const type = header.type ?? "file";
      const why =
        name !== root && !noLinkAbove(dirname(name))
          ? "an entry below a link or a file"
          : !KEPT_TYPES.has(type)
            ? `a ${type}`
            : type === "symlink"
              ? linkProblem(root, name, header.linkname ?? "")
              : type === "link"
                ? hardLinkProblem(root, header.linkname ?? "")
                : null;
      if (why) leftOut.push({ path: relative(root, name), why });
      return why !== null;
    },
  } as tarFs.ExtractOptions);
  await pipeline(tar, extract as unknown as NodeJS.WritableStream);
  leftOut.push(...(await resolveLinks(root)));
  return leftOut;
}

/** Removes every link below `root` that, followed through whatever else is there, ends outside `root` or nowhere. */
async function resolveLinks(root: string): Promise<LeftOut[]> {
  const leftOut: LeftOut[] = [];
  // Compared with real paths: the state directory may itself lie below a link.
  const realRoot = await realpath(root);
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isSymbolicLink()) {
        const real = await realpath(path).catch(() => null);
        if (real !== null && inside(realRoot, real)) continue;
        await unlink(path);
        leftOut.push({
          path: relative(root, path),
          why: real === null ? "a symlink to nothing" : "a symlink that leads outside the work tree",
        });
      }
    }
  };
  if ((await lstat(root)).isDirectory()) await visit(root);
  return leftOut;
}

/** One line for the log: what a snapshot left out, the first few by name. */
export function describeLeftOut(what: string, leftOut: LeftOut[]): string {
  const shown = leftOut.slice(0, 10).map((l) => `${l.path} (${l.why})`);
  const more = leftOut.length > shown.length ? `, and ${leftOut.length - shown.length} more` : "";
  return `${what}: left out ${shown.join(", ")}${more}`;
}
