/**
 * One credential route: the fixed upstream it forwards to, the upstream path a
 * client's path may become, and the headers that go out.
 *
 * The agent holds only a placeholder; the credential lives in the gate's
 * environment and is added here, after every header the client could use to
 * authenticate, impersonate or steer the request has been stripped. The upstream
 * origin comes from the config alone: the forwarded URL is built by joining the
 * client's path onto it and then checked to still have that origin and path
 * prefix, so no request target can choose another host.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from "node:http";
import type { GateRoute } from "./config.js";
import { endToEndHeaders } from "./headers.js";

export type GateEnv = Readonly<Record<string, string | undefined>>;

// Headers that would let the client authenticate as someone else, claim to be
// someone else, or talk to the gate rather than the upstream.
const CLIENT_HEADERS_STRIPPED = new Set([
  "authorization",
  "x-api-key",
  "proxy-authorization",
  "proxy-connection",
  "forwarded",
  "x-real-ip",
  "host",
  "cookie",
  // The gate answers `100-continue` itself; passing it on would make the
  // upstream wait for a go-ahead the client already had.
  "expect",
]);

// Node rejects header values with other characters; checking at start turns a
// per-request failure into a refusal to start.
const HEADER_VALUE_PATTERN = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A route ready to serve: its upstream taken apart, its credential read. */
export interface Route {
  name: string;
  /** `scheme://host[:port]`, what every forwarded URL must still have. */
  origin: string;
  /** The upstream's path without a trailing slash; "" for the root. */
  prefix: string;
  secure: boolean;
  hostname: string;
  port: number | undefined;
  /** The Host header the upstream expects. */
  host: string;
  inject?: { header: string; value: string };
}

/** `route` ready to serve, its credential read from `env`; throws when the credential is missing or unusable. */
export function prepareRoute(route: GateRoute, env: GateEnv): Route {
  const upstream = new URL(route.upstream);
  const prepared: Route = {
    name: route.name,
    origin: upstream.origin,
    prefix: upstream.pathname.replace(/\/+$/, ""),
    secure: upstream.protocol === "https:",
    hostname: upstream.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: upstream.port === "" ? undefined : Number(upstream.port),
    host: upstream.host,
  };
  if (route.inject !== undefined) {
    const { header, secretEnv, format } = route.inject;
    const value = env[secretEnv];
    if (value === undefined || value === "") {
      throw new Error(
        `gate route "${route.name}": environment variable ${secretEnv} is missing or empty; ` +
          `the gate refuses to start without the credential it must inject as ${header}`,
      );
    }
    if (!HEADER_VALUE_PATTERN.test(value)) {
      throw new Error(
        `gate route "${route.name}": environment variable ${secretEnv} holds characters not allowed ` +
          `in an HTTP header (a line break or control character); store the credential without them`,
      );
    }
    // `format` wraps the secret, e.g. "Bearer {value}" for an Authorization header.
    prepared.inject = { header: header.toLowerCase(), value: format ? format.replace("{value}", value) : value };
  }
  return prepared;
}

/** The headers going upstream: end-to-end only, none that authenticates or steers, plus the credential. */
export function upstreamRequestHeaders(req: IncomingMessage, route: Route): OutgoingHttpHeaders {
  const headers = endToEndHeaders(
    req.rawHeaders,
    (name) => CLIENT_HEADERS_STRIPPED.has(name) || name.startsWith("x-forwarded-") || name === route.inject?.header,
  );
  headers.host = route.host;
  if (route.inject !== undefined) headers[route.inject.header] = route.inject.value;
  return headers;
}

function isDotSegment(segment: string): boolean {
  const decoded = segment.toLowerCase().replaceAll("%2e", ".");
  return decoded === "." || decoded === "..";
}

/**
 * The upstream path for `rest` (which starts with "/") and `query` (empty or
 * starting with "?"), or a reason to refuse. URL parsing resolves `..`, `%2e%2e`
 * and backslashes, so those are refused outright and the parsed result is still
 * checked against the route's origin and prefix.
 */
export function upstreamPath(route: Route, rest: string, query: string): { path: string } | { refused: string } {
  if (rest.split(/[/\\]/).some(isDotSegment)) return { refused: "dot segments are not allowed in the path" };
  let url: URL;
  try {
    url = new URL(route.origin + route.prefix + rest + query);
  } catch {
    return { refused: "the path is not a valid URL path" };
  }
  if (url.origin !== route.origin || url.username !== "" || url.password !== "") {
    return { refused: "the path would leave the route's upstream" };
  }
  if (!url.pathname.startsWith(`${route.prefix}/`)) return { refused: "the path would leave the route's prefix" };
  return { path: url.pathname + url.search };
}
