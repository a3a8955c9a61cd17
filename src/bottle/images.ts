/**
 * Build contexts for agent images. The Dockerfile text rides in the context under a
 * name of its own, so the bundled and per-bottle Dockerfiles need no file on disk
 * and a per-bottle override can still COPY from the manifest's directory.
 */
import type { Readable } from "node:stream";
import * as tarFs from "tar-fs";
import * as tarStream from "tar-stream";

export const CONTEXT_DOCKERFILE = ".claude-bottle.Dockerfile";

export async function buildContext(contextDir: string | null, dockerfile: string): Promise<Readable> {
  const addDockerfile = (pack: tarStream.Pack) => {
    pack.entry({ name: CONTEXT_DOCKERFILE, mode: 0o644 }, dockerfile);
    pack.finalize();
  };
  if (!contextDir) {
    const pack = tarStream.pack();
    addDockerfile(pack);
    return pack as unknown as Readable;
  }
  // tar-fs leaves the pack open (finalize: false) and calls `finish` once the directory is in.
  return tarFs.pack(contextDir, {
    finalize: false,
    finish: addDockerfile,
    ignore: (name) => name.endsWith(`/${CONTEXT_DOCKERFILE}`),
  } as tarFs.PackOptions) as unknown as Readable;
}
