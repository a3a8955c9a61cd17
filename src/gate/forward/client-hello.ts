/**
 * The first bytes of a tunnel: the forward proxy opens a tunnel upstream only
 * after the client's TLS ClientHello has arrived and its SNI names the CONNECT
 * host, so a refused tunnel never touches the upstream. The bytes read here are
 * kept and sent on first once the tunnel opens.
 */
import type { Socket } from "node:net";
import { type Host, normaliseHost } from "../hosts.js";
import { type ClientHelloResult, MAX_CLIENT_HELLO_BYTES, parseClientHello } from "../sni.js";
import { shownTarget } from "./targets.js";

export interface Peek {
  result: ClientHelloResult | { kind: "timeout" } | { kind: "closed" };
  /** Everything the client sent so far, `head` included. */
  buffered: Buffer;
}

/**
 * Collects what the client sends into a fresh tunnel until it is a complete
 * ClientHello, cannot become one, the client stops, or `timeoutMs` passes.
 * Leaves the socket paused with nothing consumed beyond what it returns.
 */
export function peekClientHello(socket: Socket, head: Buffer, timeoutMs: number): Promise<Peek> {
  return new Promise((resolve) => {
    let buffered = head;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: Peek["result"]): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onClosed);
      socket.off("close", onClosed);
      socket.pause();
      resolve({ result, buffered });
    };
    const settled = (): boolean => {
      const result = parseClientHello(buffered);
      if (result.kind === "incomplete") return false;
      finish(result);
      return true;
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_CLIENT_HELLO_BYTES + 5) {
        finish({ kind: "invalid", reason: `no ClientHello in the first ${MAX_CLIENT_HELLO_BYTES} bytes` });
        return;
      }
      settled();
    };
    const onClosed = (): void => finish({ kind: "closed" });
    if (buffered.length > 0 && settled()) return;
    timer = setTimeout(() => finish({ kind: "timeout" }), timeoutMs);
    socket.on("data", onData);
    socket.once("end", onClosed);
    socket.once("close", onClosed);
    socket.resume();
  });
}

/** Why the peeked bytes may not open a tunnel to `host`, or undefined when they may. */
export function helloProblem(result: Peek["result"], host: Host, timeoutMs: number): string | undefined {
  switch (result.kind) {
    case "hello": {
      if (result.serverName === undefined) return "the ClientHello has no SNI";
      const sni = normaliseHost(result.serverName);
      if ("refused" in sni || sni.ok !== host) {
        const shown = JSON.stringify(shownTarget(result.serverName));
        return `the ClientHello's SNI ${shown} is not the CONNECT host ${host}`;
      }
      return undefined;
    }
    case "invalid":
      return `the tunnel did not start with a TLS ClientHello: ${result.reason}`;
    case "timeout":
      return `no complete ClientHello within ${timeoutMs} ms`;
    case "closed":
    case "incomplete":
      return "the client closed the tunnel before a complete ClientHello";
  }
}
