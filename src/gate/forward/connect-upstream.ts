/**
 * The one way the forward proxy reaches an upstream: a TCP connection to an
 * address the admission checked, never to a name, so nothing is resolved again
 * between the check and the connection.
 */
import { connect as netConnect, type Socket } from "node:net";
import { describeError } from "../../errors.js";

export type Upstream = { socket: Socket; address: string } | { failed: string; address: string };

/**
 * Connects to the checked `addresses` in order until one answers, all within
 * `timeoutMs`. Every socket it opens is handed to `track` at once, so a shutdown
 * ends a connection still being made.
 */
export async function connectUpstream(
  addresses: readonly string[],
  port: number,
  timeoutMs: number,
  track: (socket: Socket) => void,
): Promise<Upstream> {
  const deadline = Date.now() + timeoutMs;
  let failed = "no address to connect to";
  let tried = addresses[0]!;
  for (const address of addresses) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    tried = address;
    const outcome = await new Promise<Socket | string>((done) => {
      // An IP address as host: Node connects to it without a lookup.
      // noDelay: TLS handshakes are small writes, and Nagle would hold each one back for an ACK.
      const socket = netConnect({ host: address, port, noDelay: true });
      track(socket);
      let connected = false;
      const timer = setTimeout(() => {
        socket.destroy();
        done(`connecting to ${address} port ${port} took longer than ${timeoutMs} ms`);
      }, remaining);
      socket.once("connect", () => {
        connected = true;
        clearTimeout(timer);
        done(socket);
      });
      // Stays attached: whoever takes the socket adds its own handling, and
      // an error before then must not take the gate down.
      socket.on("error", (error) => {
        if (connected) return;
        clearTimeout(timer);
        done(`connecting to ${address} port ${port} failed: ${describeError(error)}`);
      });
    });
    if (typeof outcome !== "string") return { socket: outcome, address };
    failed = outcome;
  }
  return { failed, address: tried };
}
