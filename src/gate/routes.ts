/**
 * The gate's credential routes: a reverse proxy that forwards `/<route>/<rest>` to
 * the route's one fixed upstream and adds the real credential on the way out.
 *
 * The agent holds only a placeholder; the credential lives in the gate's
 * environment and is added here, after every header the client could use to
 * authenticate, impersonate or steer the request has been stripped. The upstream
 * origin comes from the config alone: the forwarded URL is built by joining the
 * client's path onto it and then checked to still have that origin and path
 * prefix, so no request target can choose another host. Bodies stream in both
 * directions untouched, so server-sent events reach the agent event by event, and
 * a redirect goes back to the agent rather than being followed with the
 * credential attached.
 *
 * The same listener is the agent's forward proxy: CONNECT requests and
 * absolute-form targets are handed to `forward.ts` and never reach a route.
 *
 * This module is bundled into the gate, so it may import only `node:` built-ins
 * (no API newer than Node 20) and zod.
 */
import {
  Agent as HttpAgent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { type GateConfig, GateConfigSchema, type GateRoute } from "./config.js";
import { endToEndHeaders } from "./headers.js";
import { describeError as describe } from "../errors.js";
import { replyJson } from "../sidecar/http.js";
import { createForwardProxy, type ForwardOptions, type GateEgressEvent, isAbsoluteForm } from "./forward.js";

export interface GateReadyEvent {
  event: "ready";
  port: number;
  routes: string[];
}

/** One line per request the gate answered, written when its response ends. */
export interface GateRouteEvent {
  event: "route";
  time: string;
  /** The matched route, or null when the request named none. */
  route: string | null;
  method: string;
  /** The request path as the client sent it, without the query. */
  path: string;
  /** 499 when the client went away before the response started. */
  status: number;
  bytesIn: number;
  bytesOut: number;
  ms: number;
}

export interface GateErrorEvent {
  event: "error";
  route?: string;
  reason: string;
}

export type GateEvent = GateReadyEvent | GateRouteEvent | GateErrorEvent | GateEgressEvent;
export type GateLog = (event: GateEvent) => void;
export type GateEnv = Readonly<Record<string, string | undefined>>;

export interface RunningRoutes {
  port: number;
  close(): Promise<void>;
}

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

interface Route {
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

function prepareRoute(route: GateRoute, env: GateEnv): Route {
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
        `gate route "${route.name}": environment variable ${secretEnv} holds characters not allowed in an HTTP header ` +
          `(a line break or control character); store the credential without them`,
      );
    }
    // `format` wraps the secret, e.g. "Bearer {value}" for an Authorization header.
    prepared.inject = { header: header.toLowerCase(), value: format ? format.replace("{value}", value) : value };
  }
  return prepared;
}

function upstreamRequestHeaders(req: IncomingMessage, route: Route): OutgoingHttpHeaders {
  const headers = endToEndHeaders(
    req.rawHeaders,
    (name) => CLIENT_HEADERS_STRIPPED.has(name) || name.startsWith("x-forwarded-") || name === route.inject?.header,
  );
  headers.host = route.host;
  if (route.inject !== undefined) headers[route.inject.header] = route.inject.value;
  return headers;
}

function clientResponseHeaders(upstream: IncomingMessage): OutgoingHttpHeaders {
  return endToEndHeaders(upstream.rawHeaders);
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
function upstreamPath(route: Route, rest: string, query: string): { path: string } | { refused: string } {
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

/**
 * Starts the gate's reverse proxy and forward proxy on one listener. Rejects,
 * before listening, when the config is invalid or a route's secret is missing
 * from `env`; logs `ready` only once every route and the egress policy are
 * prepared and the socket is listening. `options` replaces the resolver and
 * wraps the address policy, for tests.
 */
export async function startRoutes(
  input: GateConfig,
  env: GateEnv,
  log: GateLog,
  options: ForwardOptions = {},
): Promise<RunningRoutes> {
  const parsed = GateConfigSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid gate config:\n${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  const routes = new Map<string, Route>();
  for (const route of config.routes) routes.set(route.name, prepareRoute(route, env));
  const routeNames = [...routes.keys()];

  const secrets = [...routes.values()].flatMap((route) => (route.inject === undefined ? [] : [route.inject.value]));
  // Error text comes from Node and from upstreams; none should contain a
  // credential, but a line the agent or a log reader sees must not depend on that.
  const redact = (text: string): string => secrets.reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
  const logError = (reason: string, route?: string): void =>
    log(route === undefined ? { event: "error", reason: redact(reason) } : { event: "error", route, reason: redact(reason) });

  const forwardProxy = createForwardProxy(config.proxy, log, options);
  const httpAgent = new HttpAgent({ keepAlive: true });
  const httpsAgent = new HttpsAgent({ keepAlive: true });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    // An absolute-form target ("GET http://host/...") names a host: it is a
    // forward-proxy request, judged by the egress policy, never a route.
    if (isAbsoluteForm(req.url ?? "")) {
      forwardProxy.request(req, res);
      return;
    }
    const started = Date.now();
    const target = req.url ?? "";
    const queryAt = target.indexOf("?");
    const path = queryAt === -1 ? target : target.slice(0, queryAt);
    const query = queryAt === -1 ? "" : target.slice(queryAt);
    let routeName: string | null = null;
    let bytesIn = 0;
    let bytesOut = 0;
    let clientGone = false;

    res.on("close", () => {
      clientGone = !res.writableFinished;
      log({
        event: "route",
        time: new Date(started).toISOString(),
        route: routeName,
        method: req.method ?? "",
        path: redact(path),
        status: clientGone && !res.headersSent ? 499 : res.statusCode,
        bytesIn,
        bytesOut,
        ms: Date.now() - started,
      });
    });

    // Origin-form only: the route name picks the upstream, the client never names a host.
    const slash = path.indexOf("/", 1);
    const route = path.startsWith("/") && slash !== -1 ? routes.get(path.slice(1, slash)) : undefined;
    if (route === undefined) {
      bytesOut = replyJson(res, 404, { error: "no such route", routes: routeNames });
      return;
    }
    routeName = route.name;

    const forward = upstreamPath(route, path.slice(slash), query);
    if ("refused" in forward) {
      bytesOut = replyJson(res, 400, { error: "path not allowed", reason: forward.refused });
      return;
    }

    const upstreamReq = (route.secure ? httpsRequest : httpRequest)({
      hostname: route.hostname,
      port: route.port,
      method: req.method,
      path: forward.path,
      headers: upstreamRequestHeaders(req, route),
      agent: route.secure ? httpsAgent : httpAgent,
    });

    res.on("close", () => {
      if (!res.writableFinished) upstreamReq.destroy();
    });

    upstreamReq.on("error", (error) => {
      if (clientGone || res.destroyed) return;
      const reason = `upstream request failed: ${describe(error)}`;
      logError(reason, route.name);
      if (res.headersSent) res.destroy();
      else bytesOut = replyJson(res, 502, { error: "bad gateway", route: route.name, reason: redact(reason) });
    });

    upstreamReq.on("response", (upstreamRes) => {
      if (res.destroyed) {
        upstreamRes.destroy();
        return;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, clientResponseHeaders(upstreamRes));
      // Headers go out now, not with the first body chunk, so a streaming
      // client sees the response start even before the first event.
      res.flushHeaders();
      upstreamRes.on("data", (chunk: Buffer) => {
        bytesOut += chunk.length;
      });
      upstreamRes.on("error", () => {});
      upstreamRes.on("close", () => {
        if (!upstreamRes.complete && !res.destroyed) {
          logError("upstream response ended early", route.name);
          res.destroy();
        }
      });
      upstreamRes.pipe(res);
    });

    req.on("data", (chunk: Buffer) => {
      bytesIn += chunk.length;
    });
    req.pipe(upstreamReq);
  };

  const server = createServer(handle);
  server.on("connect", forwardProxy.connect);
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    if (forwardProxy.refuseUnparsed(error, socket)) return;
    logError(`malformed request from client: ${error.code ?? error.message}`);
    const status =
      error.code === "HPE_HEADER_OVERFLOW"
        ? "431 Request Header Fields Too Large"
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? "408 Request Timeout"
          : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => logError(`server error: ${describe(error)}`));

  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      server.close((error) => (error === undefined ? resolve() : reject(error)));
      // Streams such as SSE would otherwise hold the close open until they end.
      server.closeAllConnections();
      forwardProxy.close();
      httpAgent.destroy();
      httpsAgent.destroy();
    });
    return closing;
  };

  log({ event: "ready", port, routes: routeNames });
  return { port, close };
}
