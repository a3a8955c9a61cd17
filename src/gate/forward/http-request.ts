/**
 * An absolute-form `http://` request (`GET http://host/path`): admitted like a
 * tunnel, then sent on over a connection to a checked address, with the Host
 * header set from the checked target and only end-to-end headers passed either
 * way. Bodies stream untouched; the idle and lifetime limits apply as to a tunnel.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { describeError } from "../../errors.js";
import { replyJson } from "../../sidecar/http.js";
import { endToEndHeaders } from "../headers.js";
import { parseAuthority } from "../hosts.js";
import { sendUpstreamResponse } from "../upstream-response.js";
import { admit } from "./admission.js";
import { connectUpstream } from "./connect-upstream.js";
import type { ForwardContext, OpenSockets } from "./context.js";
import { type EgressEnd, type EgressFields, passedDecision } from "./egress-event.js";
import { watchLimits } from "./limits.js";
import { parseHttpTarget, shownAuthority } from "./targets.js";

// The gate sets Host from the checked target, and answers `100-continue` itself.
const REQUEST_HEADERS_DROPPED = new Set(["host", "expect"]);

const CLIENT_GONE = "the client went away before the request was sent";

/** Sends `req` on to the host its target names, if the policy lets it, and streams the answer back to `res`. */
export async function forwardRequest(
  context: ForwardContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { config, rules, sockets } = context;
  const started = Date.now();
  const target = req.url ?? "";
  const done = (fields: EgressFields): void => context.emit("http", started, fields);
  const parsed = parseHttpTarget(target);
  const authority = "refused" in parsed ? parsed : parseAuthority(parsed.ok.authority, 80);
  const admission = await admit(rules, authority, shownAuthority(target));
  if (!("addresses" in admission)) {
    const error = admission.decision === "refuse" ? "forbidden" : "bad gateway";
    replyJson(res, admission.status, { error, reason: admission.reason });
    done({ ...admission });
    return;
  }
  const { host, port, addresses, audits } = admission;
  const path = "ok" in parsed ? parsed.ok.path : "/";
  if (res.destroyed || sockets.shuttingDown) {
    res.destroy();
    done({ host, port, decision: "error", reason: CLIENT_GONE });
    return;
  }

  const upstream = await connectUpstream(addresses, port, config.connectTimeoutMs, (socket) => sockets.track(socket));
  if ("failed" in upstream) {
    replyJson(res, 502, { error: "bad gateway", reason: upstream.failed });
    done({ host, port, decision: "error", reason: upstream.failed, address: upstream.address, status: 502 });
    return;
  }
  const { socket, address } = upstream;
  if (res.destroyed) {
    socket.destroy();
    done({ host, port, decision: "error", reason: CLIENT_GONE, address });
    return;
  }

  const exchange = {
    req,
    res,
    upstream: socket,
    path,
    // The checked target decides where the request goes; a client's Host header never does.
    hostHeader: port === 80 ? host : `${host}:${port}`,
    started,
    idleMs: config.tunnelIdleMs,
    lifetimeMs: config.tunnelMaxLifetimeMs,
    sockets,
  };
  sendRequest(exchange, ({ failure, ...end }) =>
    done({
      host,
      port,
      ...(failure === undefined ? passedDecision(audits) : { decision: "error", reason: failure }),
      address,
      ...end,
    }),
  );
}

interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The connection to a checked address the request goes over. */
  upstream: Socket;
  path: string;
  hostHeader: string;
  started: number;
  idleMs: number;
  lifetimeMs: number;
  /** Tells a shutdown from a client that went away. */
  sockets: OpenSockets;
}

interface ExchangeEnd {
  /** Why the client got the gate's own error instead of an upstream response, if it did. */
  failure: string | undefined;
  status: number;
  closed: EgressEnd;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Sends the client's request over `upstream` and streams the response back,
 * until either side ends or a limit is reached. Calls `ended` once, when the
 * client's response has closed.
 */
function sendRequest(
  { req, res, upstream, path, hostHeader, started, idleMs, lifetimeMs, sockets }: Exchange,
  ended: (end: ExchangeEnd) => void,
): void {
  const headers = endToEndHeaders(req.rawHeaders, (name) => REQUEST_HEADERS_DROPPED.has(name));
  headers.host = hostHeader;
  const upstreamReq = httpRequest({
    method: req.method,
    path,
    headers,
    setHost: false,
    createConnection: () => upstream,
  });

  let bytesIn = 0;
  let bytesOut = 0;
  let closed: EgressEnd | undefined;
  let failure: string | undefined;
  const watch = watchLimits(started, idleMs, lifetimeMs, (limit) => {
    closed ??= limit;
    failure ??= limit === "idle" ? `no data for ${idleMs} ms` : `the request outlived ${lifetimeMs} ms`;
    upstreamReq.destroy();
    if (res.headersSent) res.destroy();
    else replyJson(res, 504, { error: "gateway timeout", reason: failure });
  });

  res.on("close", () => {
    watch.stop();
    if (!res.writableFinished) {
      closed ??= sockets.shuttingDown ? "shutdown" : "client";
      upstreamReq.destroy();
    }
    const failedBeforeResponse = failure !== undefined && closed === undefined;
    ended({
      failure: failedBeforeResponse ? failure : undefined,
      status: res.statusCode,
      closed: closed ?? "upstream",
      bytesIn,
      bytesOut,
    });
  });
  upstreamReq.on("error", (error) => {
    if (res.destroyed || closed !== undefined) return;
    if (res.headersSent) {
      closed = "upstream";
      res.destroy();
      return;
    }
    failure = `the upstream request failed: ${describeError(error)}`;
    replyJson(res, 502, { error: "bad gateway", reason: failure });
  });

  upstreamReq.on("response", (upstreamRes) => {
    watch.touch();
    sendUpstreamResponse(upstreamRes, res, {
      chunk: (length) => {
        bytesOut += length;
        watch.touch();
      },
      cutShort: () => {
        closed ??= "upstream";
      },
    });
  });

  req.on("data", (chunk: Buffer) => {
    bytesIn += chunk.length;
    watch.touch();
  });
  req.pipe(upstreamReq);
}
