/**
 * The life of an open tunnel: bytes piped both ways untouched and counted, until
 * either side closes or the idle or lifetime limit is reached.
 */
import type { Socket } from "node:net";
import type { OpenSockets } from "./context.js";
import type { EgressEnd } from "./egress-event.js";
import { watchLimits } from "./limits.js";

export interface Relay {
  client: Socket;
  upstream: Socket;
  /** Bytes already read from the client (its ClientHello), sent upstream first. */
  first: Buffer;
  /** When the client's request arrived: the lifetime limit counts from here. */
  started: number;
  idleMs: number;
  lifetimeMs: number;
  /** Tells a shutdown from a side that closed. */
  sockets: OpenSockets;
}

/** When one side is gone, the other gets what is already queued for it and then closes. */
function closeAfterFlush(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableLength === 0) socket.destroy();
  else {
    socket.end();
    socket.once("finish", () => socket.destroy());
  }
}

/**
 * Pipes the client and the upstream into each other, `first` going ahead, until
 * both are closed or a limit is reached. Calls `ended` once, after both sockets
 * have closed, with what ended the tunnel and the bytes relayed each way.
 */
export function relay(
  { client, upstream, first, started, idleMs, lifetimeMs, sockets }: Relay,
  ended: (closed: EgressEnd, bytesIn: number, bytesOut: number) => void,
): void {
  let bytesIn = first.length;
  let bytesOut = 0;
  let closed: EgressEnd | undefined;
  let open = 2;
  client.setNoDelay(true);
  const stopBoth = (why: EgressEnd): void => {
    closed ??= why;
    client.destroy();
    upstream.destroy();
  };
  const watch = watchLimits(started, idleMs, lifetimeMs, stopBoth);
  const onClose = (): void => {
    open -= 1;
    if (open > 0) return;
    watch.stop();
    ended(closed ?? "client", bytesIn, bytesOut);
  };
  client.on("data", (chunk: Buffer) => {
    bytesIn += chunk.length;
    watch.touch();
  });
  upstream.on("data", (chunk: Buffer) => {
    bytesOut += chunk.length;
    watch.touch();
  });
  const endedBy = (side: "client" | "upstream") => (): void => {
    closed ??= sockets.shuttingDown ? "shutdown" : side;
  };
  client.once("end", endedBy("client"));
  upstream.once("end", endedBy("upstream"));
  client.on("error", () => stopBoth(sockets.shuttingDown ? "shutdown" : "client"));
  upstream.on("error", () => stopBoth(sockets.shuttingDown ? "shutdown" : "upstream"));
  client.once("close", () => {
    endedBy("client")();
    closeAfterFlush(upstream);
    onClose();
  });
  upstream.once("close", () => {
    endedBy("upstream")();
    closeAfterFlush(client);
    onClose();
  });
  if (first.length > 0) upstream.write(first);
  client.pipe(upstream);
  upstream.pipe(client);
}
