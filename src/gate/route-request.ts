/**
 * One request to a credential route, `/<route>/<rest>`: the route name picks the
 * upstream, the path is checked to stay under it, the request goes out with the
 * credential added, and the response streams back untouched, so server-sent
 * events reach the agent event by event. A redirect goes back to the agent
 * rather than being followed with the credential attached. Each request ends in
 * one `route` event.
 */
import { type Agent as HttpAgent, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { type Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { describeError } from "../errors.js";
import type { GateLog } from "./events.js";
import { replyJson } from "../sidecar/http.js";
import { type Route, upstreamPath, upstreamRequestHeaders } from "./route.js";
import { sendUpstreamResponse } from "./upstream-response.js";

/** What every route request shares. */
export interface RouteContext {
  routes: ReadonlyMap<string, Route>;
  agents: { http: HttpAgent; https: HttpsAgent };
  log: GateLog;
  /** A text that leaves the gate with every credential taken out. */
  redact(text: string): string;
  /** Logs an `error` event, redacted. */
  logError(reason: string, route?: string): void;
}

/** Answers a request whose target is origin-form: through its route, or 404 when it names none. */
export function serveRoute(context: RouteContext, req: IncomingMessage, res: ServerResponse): void {
  const { routes, log, redact } = context;
  const started = Date.now();
  const target = req.url ?? "";
  const queryAt = target.indexOf("?");
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? "" : target.slice(queryAt);
  let routeName: string | null = null;
  const counted = { bytesIn: 0, bytesOut: 0, clientGone: false };

  res.on("close", () => {
    counted.clientGone = !res.writableFinished;
    log({
      event: "route",
      time: new Date(started).toISOString(),
      route: routeName,
      method: req.method ?? "",
      path: redact(path),
      status: counted.clientGone && !res.headersSent ? 499 : res.statusCode,
      bytesIn: counted.bytesIn,
      bytesOut: counted.bytesOut,
      ms: Date.now() - started,
    });
  });

  // Origin-form only: the route name picks the upstream, the client never names a host.
  const slash = path.indexOf("/", 1);
  const route = path.startsWith("/") && slash !== -1 ? routes.get(path.slice(1, slash)) : undefined;
  if (route === undefined) {
    counted.bytesOut = replyJson(res, 404, { error: "no such route", routes: [...routes.keys()] });
    return;
  }
  routeName = route.name;

  const forward = upstreamPath(route, path.slice(slash), query);
  if ("refused" in forward) {
    counted.bytesOut = replyJson(res, 400, { error: "path not allowed", reason: forward.refused });
    return;
  }
  sendUpstream(context, { route, path: forward.path, req, res, counted });
}

/** One request on its way to its route's upstream. */
interface RouteExchange {
  route: Route;
  /** The checked upstream path, query included. */
  path: string;
  req: IncomingMessage;
  res: ServerResponse;
  /** The bytes each way for the `route` event, and whether the client went away first. */
  counted: { bytesIn: number; bytesOut: number; clientGone: boolean };
}

/** Sends the request to its route's upstream and streams the answer back, counting the bytes. */
function sendUpstream(context: RouteContext, { route, path, req, res, counted }: RouteExchange): void {
  const { agents, redact, logError } = context;
  const upstreamReq = (route.secure ? httpsRequest : httpRequest)({
    hostname: route.hostname,
    port: route.port,
    method: req.method,
    path,
    headers: upstreamRequestHeaders(req, route),
    agent: route.secure ? agents.https : agents.http,
  });

  res.on("close", () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });

  upstreamReq.on("error", (error) => {
    if (counted.clientGone || res.destroyed) return;
    const reason = `upstream request failed: ${describeError(error)}`;
    logError(reason, route.name);
    if (res.headersSent) res.destroy();
    else counted.bytesOut = replyJson(res, 502, { error: "bad gateway", route: route.name, reason: redact(reason) });
  });

  upstreamReq.on("response", (upstreamRes) =>
    sendUpstreamResponse(upstreamRes, res, {
      chunk: (length) => {
        counted.bytesOut += length;
      },
      cutShort: () => logError("upstream response ended early", route.name),
    }),
  );

  req.on("data", (chunk: Buffer) => {
    counted.bytesIn += chunk.length;
  });
  req.pipe(upstreamReq);
}
