/**
 * `CONNECT host:port`: a tunnel the forward proxy opens only when the admission
 * lets the target through and the client's first bytes are a ClientHello whose
 * SNI names the same host. Audit mode lets a missing, mismatched or non-TLS
 * ClientHello through and notes it. A refused CONNECT is answered with a small
 * JSON body and its socket closed.
 */
import type { Socket } from "node:net";
import { parseAuthority } from "../hosts.js";
import { admit } from "./admission.js";
import { helloProblem, peekClientHello } from "./client-hello.js";
import { connectUpstream } from "./connect-upstream.js";
import type { ForwardContext } from "./context.js";
import { type EgressFields, passedDecision } from "./egress-event.js";
import { relay } from "./relay.js";
import { shownTarget } from "./targets.js";

const STATUS_TEXT: Record<number, string> = { 403: "Forbidden", 502: "Bad Gateway", 504: "Gateway Timeout" };

const CLIENT_GONE = "the client went away before the tunnel opened";

/** Answers a CONNECT with `status` and closes the client's socket. */
function replyConnect(socket: Socket, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  // Destroyed once the answer is out: a client that keeps sending must not hold the socket open.
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
    () => socket.destroy(),
  );
}

/** Takes a CONNECT for `target` from `client`, whose first bytes after the request are `head`. */
export async function openTunnel(context: ForwardContext, target: string, client: Socket, head: Buffer): Promise<void> {
  const { config, rules, sockets } = context;
  const started = Date.now();
  const done = (fields: EgressFields): void => context.emit("connect", started, fields);
  const admission = await admit(rules, parseAuthority(target), shownTarget(target));
  if (!("addresses" in admission)) {
    const error = admission.decision === "refuse" ? "forbidden" : "bad gateway";
    replyConnect(client, admission.status, { error, reason: admission.reason });
    done({ ...admission, status: undefined });
    return;
  }
  const { host, port, addresses, audits } = admission;
  if (client.destroyed || sockets.shuttingDown) {
    client.destroy();
    done({ host, port, decision: "error", reason: CLIENT_GONE });
    return;
  }
  client.write("HTTP/1.1 200 Connection Established\r\n\r\n");

  const peek = await peekClientHello(client, head, config.connectTimeoutMs);
  const problem = helloProblem(peek.result, host, config.connectTimeoutMs);
  if (problem !== undefined) {
    const gone = peek.result.kind === "closed" || client.destroyed;
    if (!rules.audit || gone) {
      client.destroy();
      done({ host, port, decision: gone ? "error" : "refuse", reason: problem, address: addresses[0] });
      return;
    }
    audits.push(problem);
  }

  const upstream = await connectUpstream(addresses, port, config.connectTimeoutMs, (socket) => sockets.track(socket));
  if ("failed" in upstream) {
    client.destroy();
    done({ host, port, decision: "error", reason: upstream.failed, address: upstream.address });
    return;
  }
  const { address } = upstream;
  if (client.destroyed || sockets.shuttingDown) {
    upstream.socket.destroy();
    client.destroy();
    done({ host, port, decision: "error", reason: CLIENT_GONE, address });
    return;
  }
  const tunnel = {
    client,
    upstream: upstream.socket,
    first: peek.buffered,
    started,
    idleMs: config.tunnelIdleMs,
    lifetimeMs: config.tunnelMaxLifetimeMs,
    sockets,
  };
  relay(tunnel, (closed, bytesIn, bytesOut) =>
    done({ host, port, ...passedDecision(audits), address, closed, bytesIn, bytesOut }),
  );
}

/**
 * Answers a request the HTTP parser rejected if it was a CONNECT (a target with
 * `#`, spaces or non-ASCII bytes never parses): 403 and a refusal event, like any
 * other target that is not a host. False when it was not one.
 */
export function refuseUnparsedConnect(
  context: ForwardContext,
  error: Error & { code?: string; rawPacket?: Buffer },
  socket: Socket,
): boolean {
  const packet = error.rawPacket;
  if (packet === undefined) return false;
  const lineEnd = packet.indexOf("\r\n");
  const line = packet.subarray(0, Math.min(lineEnd === -1 ? packet.length : lineEnd, 2048)).toString("utf8");
  const match = /^CONNECT (.*?)(?: HTTP\/\d\.\d)?$/.exec(line);
  if (match === null) return false;
  const started = Date.now();
  const reason = `the request could not be parsed (${error.code ?? "malformed"}); give only host:port`;
  replyConnect(socket, 403, { error: "forbidden", reason });
  context.emit("connect", started, { host: shownTarget(match[1]!), port: null, decision: "refuse", reason });
  return true;
}
