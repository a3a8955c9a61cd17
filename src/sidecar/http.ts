/**
 * HTTP plumbing the sidecar programs share: the gate and supervise answer their own
 * errors and results as small JSON bodies that no cache keeps.
 */
import type { ServerResponse } from "node:http";

/** Answers with a JSON body the sidecar wrote itself; returns its length for the log. */
export function replyJson(res: ServerResponse, status: number, body: unknown): number {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
  return Buffer.byteLength(text);
}
