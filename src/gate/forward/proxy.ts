/**
 * The gate's forward proxy: `CONNECT host:port` tunnels (`tunnel.ts`) and
 * absolute-form `http://` requests (`http-request.ts`) from the agent, each let
 * through only if the egress policy in the config allows it (`admission.ts`).
 *
 * Checks run cheapest and least revealing first: the target and the allowlist
 * before any lookup, the resolved addresses before any connection, the
 * ClientHello's SNI before a tunnel touches its upstream. Tunnels and plain
 * requests are bounded by an idle limit and a lifetime limit. Every decision is
 * one `egress` event (`egress-event.ts`).
 *
 * Audit mode relaxes only what an allowlist could change: a host or port not on
 * the list, and a missing, mismatched or non-TLS ClientHello go through and are
 * logged as `audit`. Targets that are not a `host:port` and refused addresses are
 * refused in both modes.
 *
 * This folder is bundled into the gate, so it may import only `node:` built-ins
 * (no API newer than Node 20).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { AddressPolicy } from "../address.js";
import type { GateProxyConfig } from "../config.js";
import { admissionRules, type HostLookup } from "./admission.js";
import { type ForwardContext, OpenSockets } from "./context.js";
import { egressLog, type GateEgressEvent } from "./egress-event.js";
import { forwardRequest } from "./http-request.js";
import { openTunnel, refuseUnparsedConnect } from "./tunnel.js";

export interface ForwardOptions {
  /** Resolves a host name to all its addresses; the system resolver by default. */
  lookup?: HostLookup;
  /** Wraps the address policy built from the config; the config's policy by default. */
  addressPolicy?: (policy: AddressPolicy) => AddressPolicy;
}

export interface ForwardProxy {
  /** The HTTP server's `connect` handler. */
  connect(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Handles a request whose target is absolute-form (`GET http://host/path`). */
  request(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Answers a request the HTTP parser rejected if it was a CONNECT (a target
   * with `#`, spaces or non-ASCII bytes never parses): 403 and a refusal
   * event, like any other target that is not a host. False when it was not one.
   */
  refuseUnparsed(error: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): boolean;
  /** Ends every open tunnel and upstream connection; resolves once each is closed and logged. */
  close(): Promise<void>;
}

/**
 * Starts the forward proxy's policy for `config`. Nothing listens here: the
 * gate's one HTTP server hands CONNECT and absolute-form requests over.
 */
export function createForwardProxy(
  config: GateProxyConfig,
  log: (event: GateEgressEvent) => void,
  options: ForwardOptions = {},
): ForwardProxy {
  const context: ForwardContext = {
    config,
    rules: admissionRules(config, options.lookup, options.addressPolicy),
    emit: egressLog(log),
    sockets: new OpenSockets(),
  };
  return {
    connect(req, duplex, head) {
      const client = duplex as Socket;
      context.sockets.track(client);
      // A client resetting mid-handshake must not take the gate down.
      client.on("error", () => {});
      void openTunnel(context, req.url ?? "", client, head);
    },
    request(req, res) {
      void forwardRequest(context, req, res);
    },
    refuseUnparsed(error, socket) {
      return refuseUnparsedConnect(context, error, socket as Socket);
    },
    close() {
      return context.sockets.closeAll();
    },
  };
}
