/**
 * The forward proxy's log line: one `egress` event per decision. Refusals are
 * logged at once, connections that went through when they close, with byte
 * counts. Events carry the host, port and address, never paths, headers, bodies
 * or credentials.
 */

/** How a connection that went through ended. */
export type EgressEnd = "client" | "upstream" | "idle" | "lifetime" | "shutdown";

export interface GateEgressEvent {
  event: "egress";
  /** When the request arrived. */
  time: string;
  kind: "connect" | "http";
  /** The canonical host, or the target as sent (user info masked) when it was not a host. */
  host: string;
  port: number | null;
  /**
   * `allow` and `audit`: the connection went through (`audit`: although the
   * policy would have refused it, for `reason`). `refuse`: stopped by the
   * policy. `error`: allowed, but the lookup or the upstream failed.
   */
  decision: "allow" | "refuse" | "audit" | "error";
  reason?: string;
  /** The checked address the proxy connected to, or the one it refused. */
  address?: string;
  /** The status the client got; `http` events only (a CONNECT's answer follows from `decision`). */
  status?: number;
  /** Set when a connection that went through has closed. */
  closed?: EgressEnd;
  /** Bytes relayed from the client to the upstream. */
  bytesIn: number;
  /** Bytes relayed from the upstream to the client. */
  bytesOut: number;
  ms: number;
}

/** What a decision says about one connection; the log fills in the time, the kind and the duration. */
export type EgressFields = Omit<GateEgressEvent, "event" | "time" | "kind" | "bytesIn" | "bytesOut" | "ms"> & {
  bytesIn?: number;
  bytesOut?: number;
};

/** Logs one decision on a connection of `kind` that arrived at `started`. */
export type EgressLog = (kind: GateEgressEvent["kind"], started: number, fields: EgressFields) => void;

/** An `EgressLog` writing complete events to `log`, optional fields left out when unset. */
export function egressLog(log: (event: GateEgressEvent) => void): EgressLog {
  return (kind, started, fields) => {
    const { host, port, decision, reason, address, status, closed, bytesIn = 0, bytesOut = 0 } = fields;
    log({
      event: "egress",
      time: new Date(started).toISOString(),
      kind,
      host,
      port,
      decision,
      ...(reason === undefined ? {} : { reason }),
      ...(address === undefined ? {} : { address }),
      ...(status === undefined ? {} : { status }),
      ...(closed === undefined ? {} : { closed }),
      bytesIn,
      bytesOut,
      ms: Date.now() - started,
    });
  };
}

/** The decision and reason for a connection that went through: `audit` with what was relaxed, else `allow`. */
export function passedDecision(audits: readonly string[]): Pick<EgressFields, "decision" | "reason"> {
  return audits.length > 0 ? { decision: "audit", reason: audits.join("; ") } : { decision: "allow" };
}
