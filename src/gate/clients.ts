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

/** Refused connections logged one by one; past that they are counted, and the count logged at close. */
export const LOGGED_REFUSALS = 100;

/**
 * Closes, unanswered, every connection to `server` that is not from and to one of `clients`. The first
 * LOGGED_REFUSALS are logged each; `close` logs how many more there were, so a neighbour cannot grow
 * the log without bound.
 */
export function admitClients(
  server: Server,
  clients: readonly string[],
  log: (event: GateClientRefusedEvent) => void,
): { close(): void } {
  const networks = clients.map((text) => parseCidr(text)!);
  let logged = 0;
  let more = 0;
  // Ahead of the HTTP server's own listener, so a stranger's bytes are never parsed.
  server.prependListener("connection", (socket: Socket) => {
    const from = socket.remoteAddress ?? "";
    const to = socket.localAddress ?? "";
    if (insideNetworks(from, networks) && insideNetworks(to, networks)) return;
    socket.destroy();
    if (logged === LOGGED_REFUSALS) more += 1;
    else {
      logged += 1;
      log({ event: "client-refused", time: new Date().toISOString(), from, to });
    }
  });
  return {
    close() {
      if (more > 0) log({ event: "client-refused", time: new Date().toISOString(), more });
      more = 0;
    },
  };
}
