/**
 * Who may use the gate: a client on the bottle's internal network, connecting to the
 * gate's address there. The gate's way out is shared (the engine's default bridge, or
 * a user's network), so other containers can reach its address on that side; a
 * connection from or to anything outside `listen.clients` is closed before a byte is
 * read, and logged.
 *
 * This module is bundled into the gate, so it may import only `node:` built-ins.
 */
import type { Server, Socket } from "node:net";
import { insideNetworks, parseCidr } from "./address.js";
import type { GateClientRefusedEvent } from "./events.js";

/** Closes, unanswered, every connection to `server` that is not from and to one of `clients`. */
export function admitClients(
  server: Server,
  clients: readonly string[],
  log: (event: GateClientRefusedEvent) => void,
): void {
  const networks = clients.map((text) => parseCidr(text)!);
  // Ahead of the HTTP server's own listener, so a stranger's bytes are never parsed.
  server.prependListener("connection", (socket: Socket) => {
    const from = socket.remoteAddress ?? "";
    const to = socket.localAddress ?? "";
    if (insideNetworks(from, networks) && insideNetworks(to, networks)) return;
    socket.destroy();
    log({ event: "client-refused", time: new Date().toISOString(), from, to });
  });
}
