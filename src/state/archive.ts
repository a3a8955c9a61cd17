/**
 * A bottle's state directory as one tar file, the unit the Actions cache and the
 * artifacts carry. Packing is ours (tar-fs); so is unpacking, because what comes
 * back from a cache is untrusted: the archive is read through once and refused on
 * any absolute path, `..` segment, hardlink, device, fifo, symlink pointing outside
 * the state directory, entry placed below a symlink, or size beyond the limits —
 * before a single byte is written.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tarFs from "tar-fs";
import * as tarStream from "tar-stream";
import { UserError } from "../errors.js";
import { STATE_FILES } from "./layout.js";

export interface ArchiveLimits {
  maxBytes: number;
  maxEntries: number;
}

export const DEFAULT_LIMITS: ArchiveLimits = { maxBytes: 4 * 1024 ** 3, maxEntries: 200_000 };

/** Why a restored archive was refused; the message names the entry and the rule. */
export class UnsafeArchiveError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeArchiveError";
  }
}

export async function packState(stateDir: string, archive: string): Promise<void> {
  await mkdir(dirname(archive), { recursive: true });
  await pipeline(tarFs.pack(stateDir) as unknown as NodeJS.ReadableStream, createWriteStream(archive, { mode: 0o600 }));
}

/** Reads the whole archive and throws UnsafeArchiveError at the first entry that breaks a rule. */
export async function checkStateArchive(archive: string, limits: ArchiveLimits = DEFAULT_LIMITS): Promise<void> {
  const extract = tarStream.extract();
  let bytes = 0;
  let entries = 0;
  let sawMetadata = false;
  // Symlinks seen so far: an entry below one would be written wherever it points.
  const links = new Set<string>();
  const refuse = (name: string, why: string) =>
    new UnsafeArchiveError(`restored state refused: entry ${JSON.stringify(name)} ${why}`);
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const fail = (error: Error) => {
        stream.resume();
        reject(error);
        extract.destroy();
      };
      const name = header.name;
      entries++;
      bytes += header.size ?? 0;
      if (entries > limits.maxEntries)
        return fail(new UnsafeArchiveError(`restored state refused: more than ${limits.maxEntries} entries`));
      if (bytes > limits.maxBytes)
        return fail(new UnsafeArchiveError(`restored state refused: larger than ${limits.maxBytes} bytes`));
      if (name.startsWith("/") || /^[a-zA-Z]:/.test(name)) return fail(refuse(name, "has an absolute path"));
      const normal = posix.normalize(name);
      if (normal === ".." || normal.startsWith("../") || name.split("/").includes(".."))
        return fail(refuse(name, "climbs out with .."));
      const path = normal.replace(/\/$/, "");
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) {
        const above = parts.slice(0, i).join("/");
        if (links.has(above))
          return fail(
            refuse(
              name,
              `lies below the symlink ${JSON.stringify(above)}, so it would be written wherever that points`,
            ),
          );
      }
      if (path === STATE_FILES.metadata && header.type === "file") sawMetadata = true;
      switch (header.type) {
        case "file":
        case "directory":
          break;
        case "symlink": {
          const target = header.linkname ?? "";
          const resolved = posix.normalize(posix.join(posix.dirname(normal), target));
          if (target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
            return fail(refuse(name, `is a symlink pointing outside the state (${target})`));
          }
          links.add(path);
          break;
        }
        default:
          return fail(
            refuse(
              name,
              `is a ${header.type ?? "special file"}; only files, directories and inner symlinks are allowed`,
            ),
          );
      }
      // A tar cut inside an entry's data fails on the entry's stream, not the extractor's.
      stream.on("error", (error: Error) =>
        reject(
          new UnsafeArchiveError(
            `restored state refused: entry ${JSON.stringify(name)} is cut short (${error.message})`,
          ),
        ),
      );
      stream.on("end", next);
      stream.resume();
    });
    extract.on("finish", resolve);
    extract.on("error", (error) =>
      reject(new UnsafeArchiveError(`restored state refused: not a readable tar archive (${error.message})`)),
    );
  });
  createReadStream(archive)
    .on("error", (error) => extract.destroy(error))
    .pipe(extract);
  await done;
  if (!sawMetadata) throw new UnsafeArchiveError("restored state refused: it has no metadata.json at its top");
}

/**
 * Unpacks a tar stream into `dir` with tar-fs's strict mode: no devices, no symlinks
 * or hardlinks pointing outside `dir`, never writing through an existing symlink, no
 * setuid bits.
 */
export async function extractInto(tar: Readable, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await pipeline(
    tar,
    tarFs.extract(dir, { chown: false, strict: true } as tarFs.ExtractOptions) as unknown as NodeJS.WritableStream,
  );
}

/** Checks, then unpacks into `stateDir` (replacing it whole only once unpacking succeeded). */
export async function unpackState(
  archive: string,
  stateDir: string,
  limits: ArchiveLimits = DEFAULT_LIMITS,
): Promise<void> {
  await checkStateArchive(archive, limits);
  await mkdir(dirname(stateDir), { recursive: true });
  const staging = await mkdtemp(join(dirname(stateDir), ".restore-"));
  try {
    // Whatever the extractor still refuses after the check is a refusal too.
    await extractInto(createReadStream(archive), staging).catch((error: unknown) => {
      const message = error instanceof Error ? error.message.replaceAll(`${staging}/`, "") : String(error);
      throw new UnsafeArchiveError(`restored state refused: ${message}`);
    });
    await rm(stateDir, { recursive: true, force: true });
    await rename(staging, stateDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
