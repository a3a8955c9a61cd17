/**
 * A client's request target as the forward proxy reads it: whether it is the
 * absolute form a forward proxy is sent, the authority and path of an
 * `http://` target, and how a target is shown in a log line (user info masked,
 * cut short, never a path).
 */
import type { Parsed } from "../hosts.js";

const SCHEME_PREFIX = /^[a-z][a-z0-9+.-]*:\/\//i;

/** `scheme://` at the start of a request target: the absolute form a forward proxy is sent. */
export function isAbsoluteForm(target: string): boolean {
  return SCHEME_PREFIX.test(target);
}

/** The authority and origin-form path of an absolute `http://` target. */
export function parseHttpTarget(target: string): Parsed<{ authority: string; path: string }> {
  const match = /^http:\/\/([^/?#]*)(.*)$/is.exec(target);
  if (match === null) return { refused: "only http:// targets are proxied as requests; use CONNECT for https" };
  const rest = match[2]!;
  if (rest.includes("#")) return { refused: "the target has a fragment" };
  const path = rest === "" ? "/" : rest.startsWith("?") ? `/${rest}` : rest;
  return { ok: { authority: match[1]!, path } };
}

/** A client's target for a log line: user info masked, cut short. */
export function shownTarget(target: string): string {
  const at = target.lastIndexOf("@");
  const masked = at === -1 ? target : `[userinfo]${target.slice(at)}`;
  return masked.length > 260 ? `${masked.slice(0, 257)}...` : masked;
}

/** The authority of a target for a log line, without its path or query. */
export function shownAuthority(target: string): string {
  const afterScheme = target.replace(SCHEME_PREFIX, "");
  const end = afterScheme.search(/[/?#]/);
  return shownTarget(end === -1 ? afterScheme : afterScheme.slice(0, end));
}
