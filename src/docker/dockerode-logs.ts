/**
 * A container's output through dockerode: its stdout followed line by line (to
 * wait for a line, or to read along until stopped), and the last lines of both
 * streams for an error message. Streams are demultiplexed with the modem's own
 * demuxer and the raw stream is destroyed when done.
 */
import type Docker from "dockerode";
import { PassThrough, type Readable } from "node:stream";
import { lineSplitter } from "../stream/lines.js";
import { isNotFound } from "./client.js";

async function followStdout(docker: Docker, container: string): Promise<Readable> {
  return (await docker
    .getContainer(container)
    .logs({ follow: true, stdout: true, stderr: false })) as unknown as Readable;
}

export async function waitForLogLine(
  docker: Docker,
  container: string,
  onLine: (line: string) => boolean,
  timeoutMs: number,
): Promise<"matched" | "exited" | "timeout"> {
  const raw = await followStdout(docker, container);
  const stdout = new PassThrough();
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve("timeout"), timeoutMs);
      const done = (how: "matched" | "exited") => {
        clearTimeout(timer);
        resolve(how);
      };
      const lines = lineSplitter((line) => {
        if (onLine(line)) done("matched");
      });
      stdout.on("data", (chunk: Buffer) => lines.push(chunk));
      raw.on("end", () => {
        lines.flush();
        done("exited");
      });
      raw.on("error", () => done("exited"));
      docker.modem.demuxStream(raw, stdout, new PassThrough());
    });
  } finally {
    raw.destroy();
  }
}

/** How long `stop` waits for the lines of a container that is still running. */
const STOP_GRACE_MS = 200;

export async function followLogs(
  docker: Docker,
  container: string,
  onLine: (line: string) => void,
): Promise<{ stop(): Promise<void> }> {
  const raw = await followStdout(docker, container);
  const stdout = new PassThrough();
  const lines = lineSplitter(onLine);
  stdout.on("data", (chunk: Buffer) => lines.push(chunk));
  // Ended once the raw stream is done and every line demultiplexed from it has been handed on.
  const ended = new Promise<void>((resolve) => stdout.on("end", resolve));
  const finish = () => stdout.end();
  raw.on("end", finish);
  raw.on("close", finish);
  raw.on("error", finish);
  docker.modem.demuxStream(raw, stdout, new PassThrough());
  return {
    /**
     * Returns at once when the log has ended (the container stopped or was removed: every
     * line it printed has been read); on a running container, lines already on their way
     * get a moment to arrive before the stream is cut.
     */
    async stop() {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, STOP_GRACE_MS)))]);
      clearTimeout(timer);
      raw.destroy();
      lines.flush();
    },
  };
}

/** Decodes Docker's multiplexed log framing (8-byte headers) from a whole buffer. */
function demuxBuffer(buffer: Buffer): string {
  if (!Buffer.isBuffer(buffer)) return String(buffer);
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
    offset += 8 + size;
  }
  return parts.join("");
}

export async function logsTail(docker: Docker, container: string, lines: number): Promise<string> {
  try {
    const buffer = (await docker
      .getContainer(container)
      .logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
    return demuxBuffer(buffer);
  } catch (error) {
    if (isNotFound(error)) return "";
    throw error;
  }
}
