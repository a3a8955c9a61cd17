/**
 * An upstream's response on its way back to the client, the same for a
 * credential route and a plain forward-proxy request: status and end-to-end
 * headers sent at once, so a streaming client sees the response start before the
 * first event, then the body piped untouched.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { endToEndHeaders } from "./headers.js";

export interface ResponseWatch {
  /** Each body chunk as it passes. */
  chunk(length: number): void;
  /** The upstream ended before its body was complete; the client's response is destroyed after this. */
  cutShort(): void;
}

/** Sends `upstreamRes` to `res`, unless the client has already gone. */
export function sendUpstreamResponse(upstreamRes: IncomingMessage, res: ServerResponse, watch: ResponseWatch): void {
  if (res.destroyed) {
    upstreamRes.destroy();
    return;
  }
  res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, endToEndHeaders(upstreamRes.rawHeaders));
  res.flushHeaders();
  upstreamRes.on("data", (chunk: Buffer) => watch.chunk(chunk.length));
  upstreamRes.on("error", () => {});
  upstreamRes.on("close", () => {
    if (!upstreamRes.complete && !res.destroyed) {
      watch.cutShort();
      res.destroy();
    }
  });
  upstreamRes.pipe(res);
}
