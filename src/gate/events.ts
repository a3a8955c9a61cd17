/**
 * The gate's event lines, one JSON object per stdout line: `ready` once it
 * serves, `route` for each request a credential route answered, `error` for what
 * went wrong outside a request's answer, `client-refused` for a connection from
 * outside the bottle, and the forward proxy's `egress` decisions
 * (`forward/egress-event.ts`). The runner reads them from the gate's log; none
 * carries a credential.
 */
import type { GateEgressEvent } from "./forward/egress-event.js";

export interface GateReadyEvent {
  event: "ready";
  port: number;
  routes: string[];
}

/** One line per request the gate answered, written when its response ends. */
export interface GateRouteEvent {
  event: "route";
  time: string;
  /** The matched route, or null when the request named none. */
  route: string | null;
  method: string;
  /** The request path as the client sent it, without the query. */
  path: string;
  /** 499 when the client went away before the response started. */
  status: number;
  bytesIn: number;
  bytesOut: number;
  ms: number;
}

export interface GateErrorEvent {
  event: "error";
  route?: string;
  reason: string;
}

/** A connection from outside the bottle's internal network, closed unanswered; or, with `more`, how many more. */
export type GateClientRefusedEvent = {
  event: "client-refused";
  time: string;
} & (
  | {
      /** The client's address. */
      from: string;
      /** The gate's address it connected to. */
      to: string;
    }
  | {
      /** Refused connections past the ones logged one by one, counted at the gate's close. */
      more: number;
    }
);

export type GateEvent = GateReadyEvent | GateRouteEvent | GateErrorEvent | GateEgressEvent | GateClientRefusedEvent;
export type GateLog = (event: GateEvent) => void;
