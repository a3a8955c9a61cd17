/**
 * What every connection the forward proxy handles shares: the config, the
 * admission rules, the egress log, and the set of open sockets that a shutdown
 * ends all at once.
 */
import type { Socket } from "node:net";
import type { GateProxyConfig } from "../config.js";
import type { AdmissionRules } from "./admission.js";
import type { EgressLog } from "./egress-event.js";

/** The sockets the proxy holds open, client and upstream alike; `closeAll` ends them. */
export class OpenSockets {
  private readonly open = new Set<Socket>();
  private closing = false;

  /** True once `closeAll` ran: connections still starting give up, and those ending are logged `shutdown`. */
  get shuttingDown(): boolean {
    return this.closing;
  }

  track(socket: Socket): void {
    this.open.add(socket);
    socket.once("close", () => this.open.delete(socket));
  }

  /** Ends every open socket; resolves once each has closed, and so once every connection's line is out. */
  async closeAll(): Promise<void> {
    this.closing = true;
    // Heard after the connection's own close listeners, which log it.
    const closed = [...this.open].map((socket) => new Promise((resolve) => socket.once("close", resolve)));
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    await Promise.all(closed);
  }
}

export interface ForwardContext {
  config: GateProxyConfig;
  rules: AdmissionRules;
  emit: EgressLog;
  sockets: OpenSockets;
}
