/**
 * Tar streams in and out of containers (the archive API is the only way files move,
 * so the runner works even when it is itself a container on the host's daemon).
 *
 * tar-fs and tar-stream do the format work. The archives that come back from a
 * container the agent controls are untrusted: they are read here only as small files
 * under a byte limit; a snapshot is unpacked by worktree-snapshot.ts, a restored state
 * by state/archive.ts.
 */
import type { Readable } from "node:stream";
import * as tarFs from "tar-fs";
import * as tarStream from "tar-stream";

export interface FileEntry {
  name: string;
  content: string | Buffer;
  mode?: number;
}

export interface Owner {
  uid: number;
  gid: number;
}

export const AGENT_OWNER: Owner = { uid: 1000, gid: 1000 };
export const ROOT_OWNER: Owner = { uid: 0, gid: 0 };

/** Adds entries to a tar being written; resolves once they are all in it. */
export type ArchivePart = (pack: tarStream.Pack) => Promise<void>;

/**
 * One tar of several parts, written one after another as the stream is read, so one archive
 * request carries them all and the whole is never held in memory.
 */
export function packParts(parts: ArchivePart[]): Readable {
  const pack = tarStream.pack();
  void (async () => {
    for (const part of parts) await part(pack);
    pack.finalize();
  })().catch((error: unknown) => pack.destroy(error instanceof Error ? error : new Error(String(error))));
  return pack as unknown as Readable;
}

/**
 * A host directory, its entries under `prefix/` and owned by `owner` inside the container; `ignore`
 * leaves paths out, and `rename` may give an entry another name in the archive.
 */
export function directoryPart(
  dir: string,
  owner: Owner,
  prefix: string,
  ignore?: (path: string) => boolean,
  rename: (name: string) => string = (name) => name,
): ArchivePart {
  return (pack) =>
    new Promise<void>((resolve, reject) => {
      const failed = (error?: Error) => reject(error ?? new Error(`packing ${dir} was cut short`));
      pack.once("error", failed);
      pack.once("close", failed);
      tarFs.pack(dir, {
        ...(ignore ? { ignore } : {}),
        pack,
        finalize: false,
        finish() {
          pack.off("error", failed);
          pack.off("close", failed);
          resolve();
        },
        map(header) {
          header.uid = owner.uid;
          header.gid = owner.gid;
          const name = header.name === "." || header.name === "" ? "" : rename(header.name.replace(/^\.\//, ""));
          header.name = prefix ? (name ? `${prefix}/${name}` : prefix) : name || ".";
          return header;
        },
      });
    });
}

/** In-memory files owned by `owner`, each after its parent directories unless `parents` is false (they exist). */
export function filesPart(files: FileEntry[], owner: Owner, parents = true): ArchivePart {
  return async (pack) => {
    const dirs = new Set<string>();
    const add = (header: Partial<tarStream.Header> & { name: string }, content?: string | Buffer) =>
      new Promise<void>((resolve, reject) =>
        content === undefined
          ? pack.entry(header, (error) => (error ? reject(error) : resolve()))
          : pack.entry(header, content, (error) => (error ? reject(error) : resolve())),
      );
    for (const file of files) {
      const path = file.name.split("/").slice(0, -1);
      for (let i = 1; parents && i <= path.length; i++) {
        const dir = path.slice(0, i).join("/");
        if (dir && !dirs.has(dir)) {
          dirs.add(dir);
          await add({ name: dir, type: "directory", mode: 0o755, uid: owner.uid, gid: owner.gid });
        }
      }
      await add({ name: file.name, mode: file.mode ?? 0o644, uid: owner.uid, gid: owner.gid }, file.content);
    }
  };
}

/** A tar of in-memory files (and their parent directories), owned by `owner`. */
export async function packFiles(files: FileEntry[], owner: Owner): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of packParts([filesPart(files, owner)]) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The regular files of a tar stream as buffers, by their path in the archive. For
 * small files only: the whole stream is refused once it holds more than `maxBytes`.
 */
export async function readTarFiles(tar: Readable, maxBytes: number): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tarStream.extract();
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (data: unknown) => {
        const chunk = data as Buffer;
        total += chunk.length;
        if (total > maxBytes) {
          extract.destroy(new Error(`the archive holds more than ${maxBytes} bytes`));
          return;
        }
        if (header.type === "file") chunks.push(chunk);
      });
      stream.on("end", () => {
        if (header.type === "file") files.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on("finish", resolve);
    extract.on("error", reject);
  });
  tar.on("error", (error) => extract.destroy(error));
  tar.pipe(extract);
  await done;
  return files;
}
