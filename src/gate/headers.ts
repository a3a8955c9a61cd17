/**
 * HTTP plumbing shared by the gate's routes and its forward proxy: both pass only
 * end-to-end headers on, never the hop-by-hop ones (nor those the `Connection`
 * header names), and keep repeated headers as arrays.
 */
import type { OutgoingHttpHeaders } from "node:http";

export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Header names listed in `Connection`, which apply to one hop only. */
function connectionTokens(rawHeaders: string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name !== "connection" && name !== "proxy-connection") continue;
    for (const token of rawHeaders[i + 1]!.split(",")) {
      const trimmed = token.trim().toLowerCase();
      if (trimmed !== "") tokens.add(trimmed);
    }
  }
  return tokens;
}

/** Raw headers minus hop-by-hop ones and those `drop` rejects. */
export function endToEndHeaders(
  rawHeaders: string[],
  drop: (name: string) => boolean = () => false,
): OutgoingHttpHeaders {
  const named = connectionTokens(rawHeaders);
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || drop(name)) continue;
    const value = rawHeaders[i + 1]!;
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  return headers;
}
