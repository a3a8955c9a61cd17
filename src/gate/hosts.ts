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
 * The canonical form of `raw`: lowercase, one trailing dot dropped. Refuses
 * anything that is not an ASCII host name made of 1-63 character labels of
 * letters, digits and inner hyphens, at most 253 characters, whose last label
 * is not a number.
 */
export function normaliseHost(raw: string): Parsed<Host> {
  if (raw === "") return { refused: "the host is empty" };
  // Checked before lowercasing: "K" (U+212A KELVIN SIGN) lowercases to an ASCII "k".
  if (NON_ASCII.test(raw)) {
    return { refused: `the host ${show(raw)} is not plain ASCII; internationalised names must be written in punycode (xn--...)` };
  }
  let host = raw.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host === "") return { refused: `the host ${show(raw)} is empty` };
  if (host.length > MAX_HOST_LENGTH) return { refused: `the host is longer than ${MAX_HOST_LENGTH} characters` };
  const labels = host.split(".");
  if (labels.includes("")) return { refused: `the host ${show(raw)} has an empty label` };
  if (NUMERIC_LABEL_PATTERN.test(labels.at(-1)!)) {
    return { refused: `the host ${show(raw)} is an IP address; only host names are allowed` };
  }
  const bad = labels.find((label) => !LABEL_PATTERN.test(label));
  if (bad !== undefined) {
    return {
      refused: `the host ${show(raw)} has the label ${show(bad)}; a label is 1-63 letters, digits and inner hyphens`,
    };
  }
  return { ok: host as Host };
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
  if (authority.startsWith("[") || authority.includes("]")) return { refused: "the target is an IPv6 address; only host names are allowed" };
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

/**
 * The canonical form of an allowlist host, `example.com` or `*.example.com`, or
 * why it cannot be one. The same rules as the manifest's allow list: a full
 * name with a dot in it, and a wildcard only as the whole first label of one.
 */
export function normaliseAllowHost(raw: string): Parsed<string> {
  const wildcard = raw.startsWith("*.");
  const rest = wildcard ? raw.slice(2) : raw;
  if (rest.includes("*")) return { refused: "a wildcard must be the whole first label, like *.example.com" };
  if (/[:@/?#[\]]/.test(rest)) return { refused: "give only the host name; the port is a field of its own" };
  const host = normaliseHost(rest);
  if ("refused" in host) return host;
  if (!host.ok.includes(".")) {
    return {
      refused: wildcard
        ? "a wildcard is too broad over a single label; write it like *.example.com"
        : "the host has no dot; give a full host name like api.github.com",
    };
  }
  return { ok: wildcard ? `*.${host.ok}` : host.ok };
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
  return hostListed
    ? `port ${port} is not allowed for ${host}`
    : `${host} is not on the allowlist`;
}
