/**
 * Which names the forward proxy may reach: reading a `host:port` the client
 * sent, putting the host in its one canonical form, and matching it against the
 * allowlist.
 *
 * Everything here runs before any DNS lookup, so a name it refuses is never
 * resolved. Only plain ASCII host names get through: every IP literal (dotted,
 * decimal, hex, octal, short forms, IPv6), user info, paths, fragments and
 * non-ASCII names are refused rather than interpreted, because each of those is
 * a place where two parsers can disagree about which host is meant. Unicode
 * names are refused outright instead of being converted with IDNA: an
 * allowlist that needs one lists its punycode (`xn--…`) form, and the agent's
 * tools send that form anyway.
 *
 * Pure functions only; this module is bundled into the gate.
 */

/** A host in canonical form: lowercase ASCII, no trailing dot, valid labels, not an IP literal. */
export type Host = string & { readonly __host: unique symbol };

export interface HostPort {
  host: Host;
  port: number;
}

/** One allowlist entry as the gate config holds it: `example.com` or `*.example.com`, and a port. */
export interface AllowEntry {
  host: string;
  port: number;
}

export type Parsed<T> = { ok: T } | { refused: string };

export const MAX_HOST_LENGTH = 253;
const LABEL_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
// A host whose last label is a number is an IPv4 address to URL parsers and to
// inet_aton (`10.1`, `0x7f.1`, `0306.022.0.012`, `3323068426`).
const NUMERIC_LABEL_PATTERN = /^(?:[0-9]+|0x[0-9a-f]*)$/;
const PORT_PATTERN = /^[1-9][0-9]{0,4}$/;
const NON_ASCII = /[^\x00-\x7f]/;

/** `text` quoted and cut short enough for one line of a log or a 403 body. */
function show(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/**
 * The rule of host names a text breaks, and the text it was checked on (for an
 * allowlist entry, the part after `*.`). The gate words each one for its log and
 * its 403 bodies (`hostRuleText`); the manifest words the same rules for people
 * editing it, so both accept exactly the same hosts.
 */
export type BrokenHostRule = { host: string } & (
  { broken: "empty" | "not-ascii" | "too-long" | "empty-label" | "ip-address" } | { broken: "label"; label: string }
);

/** The rules an allowlist entry breaks on top of those of a host name. */
export type BrokenAllowRule =
  BrokenHostRule | { host: string; broken: "wildcard-inside" | "not-host-only" | "wildcard-too-broad" | "no-dot" };

export type Checked<T, Broken> = { ok: T } | Broken;

/**
 * The canonical form of `raw`: lowercase, one trailing dot dropped. Refuses
 * anything that is not an ASCII host name made of 1-63 character labels of
 * letters, digits and inner hyphens, at most 253 characters, whose last label
 * is not a number.
 */
export function checkHost(raw: string): Checked<Host, BrokenHostRule> {
  if (raw === "") return { host: raw, broken: "empty" };
  // Checked before lowercasing: "K" (U+212A KELVIN SIGN) lowercases to an ASCII "k".
  if (NON_ASCII.test(raw)) return { host: raw, broken: "not-ascii" };
  let host = raw.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host === "") return { host: raw, broken: "empty" };
  if (host.length > MAX_HOST_LENGTH) return { host: raw, broken: "too-long" };
  const labels = host.split(".");
  if (labels.includes("")) return { host: raw, broken: "empty-label" };
  if (NUMERIC_LABEL_PATTERN.test(labels.at(-1)!)) return { host: raw, broken: "ip-address" };
  const bad = labels.find((label) => !LABEL_PATTERN.test(label));
  if (bad !== undefined) return { host: raw, broken: "label", label: bad };
  return { ok: host as Host };
}

/**
 * The canonical form of an allowlist host, `example.com` or `*.example.com`, or
 * the rule it breaks: a full name with a dot in it, and a wildcard only as the
 * whole first label of one.
 */
export function checkAllowHost(raw: string): Checked<string, BrokenAllowRule> {
  const wildcard = raw.startsWith("*.");
  const rest = wildcard ? raw.slice(2) : raw;
  if (rest.includes("*")) return { host: raw, broken: "wildcard-inside" };
  if (/[:@/?#[\]]/.test(rest)) return { host: raw, broken: "not-host-only" };
  const host = checkHost(rest);
  if (!("ok" in host)) return host;
  if (!host.ok.includes(".")) return { host: raw, broken: wildcard ? "wildcard-too-broad" : "no-dot" };
  return { ok: wildcard ? `*.${host.ok}` : host.ok };
}

/** The gate's words for a broken rule, in its log and its 403 bodies. */
export function hostRuleText(rule: BrokenAllowRule): string {
  const host = show(rule.host);
  switch (rule.broken) {
    case "empty":
      return rule.host === "" ? "the host is empty" : `the host ${host} is empty`;
    case "not-ascii":
      return `the host ${host} is not plain ASCII; internationalised names must be written in punycode (xn--...)`;
    case "too-long":
      return `the host is longer than ${MAX_HOST_LENGTH} characters`;
    case "empty-label":
      return `the host ${host} has an empty label`;
    case "ip-address":
      return `the host ${host} is an IP address; only host names are allowed`;
    case "label":
      return `the host ${host} has the label ${show(rule.label)}; a label is 1-63 letters, digits and inner hyphens`;
    case "wildcard-inside":
      return "a wildcard must be the whole first label, like *.example.com";
    case "not-host-only":
      return "give only the host name; the port is a field of its own";
    case "wildcard-too-broad":
      return "a wildcard is too broad over a single label; write it like *.example.com";
    case "no-dot":
      return "the host has no dot; give a full host name like api.github.com";
  }
}

/** `checkHost` with the gate's words for a refusal. */
export function normaliseHost(raw: string): Parsed<Host> {
  const host = checkHost(raw);
  return "ok" in host ? host : { refused: hostRuleText(host) };
}

/** `checkAllowHost` with the gate's words for a refusal. */
export function normaliseAllowHost(raw: string): Parsed<string> {
  const host = checkAllowHost(raw);
  return "ok" in host ? host : { refused: hostRuleText(host) };
}

function parsePort(text: string): Parsed<number> {
  if (!PORT_PATTERN.test(text) || Number(text) > 65535) {
    return { refused: `the port ${show(text)} is not a decimal number 1-65535` };
  }
  return { ok: Number(text) };
}

/**
 * An authority (`host:port`, or `host` when `defaultPort` is given) as a
 * canonical host and a port. The CONNECT target and the authority of an
 * absolute-form `http://` URL both go through here.
 */
export function parseAuthority(authority: string, defaultPort?: number): Parsed<HostPort> {
  if (authority.includes("@")) return { refused: "the target has user info (@); give only host:port" };
  if (/[/?#\\]/.test(authority)) return { refused: "the target has a path, query or fragment; give only host:port" };
  if (authority.startsWith("[") || authority.includes("]")) {
    return { refused: "the target is an IPv6 address; only host names are allowed" };
  }
  const colons = authority.split(":").length - 1;
  if (colons > 1) return { refused: "the target is an IPv6 address or has two ports; only host:port is allowed" };
  let hostText = authority;
  let port: number;
  if (colons === 1) {
    const at = authority.indexOf(":");
    hostText = authority.slice(0, at);
    const parsed = parsePort(authority.slice(at + 1));
    if ("refused" in parsed) return parsed;
    port = parsed.ok;
  } else if (defaultPort !== undefined) {
    port = defaultPort;
  } else {
    return { refused: "the target has no port; CONNECT needs host:port" };
  }
  const host = normaliseHost(hostText);
  if ("refused" in host) return host;
  return { ok: { host: host.ok, port } };
}

/** True when `host` (canonical) is the entry's host, or below it for a `*.` entry; the entry itself is canonical. */
export function hostMatches(entryHost: string, host: Host): boolean {
  if (entryHost.startsWith("*.")) {
    const suffix = entryHost.slice(1);
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return host === entryHost;
}

/** The first entry that lets `host:port` through, if any. */
export function findAllowed(allow: readonly AllowEntry[], host: Host, port: number): AllowEntry | undefined {
  return allow.find((entry) => entry.port === port && hostMatches(entry.host, host));
}

/** Why the allowlist refuses `host:port`, or undefined when an entry allows it. */
export function allowlistProblem(allow: readonly AllowEntry[], host: Host, port: number): string | undefined {
  if (findAllowed(allow, host, port) !== undefined) return undefined;
  const hostListed = allow.some((entry) => hostMatches(entry.host, host));
  return hostListed ? `port ${port} is not allowed for ${host}` : `${host} is not on the allowlist`;
}
