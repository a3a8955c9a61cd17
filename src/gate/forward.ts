/**
 * The gate's forward proxy: `CONNECT host:port` tunnels and absolute-form
 * `http://` requests from the agent, each let through only if the egress policy
 * in the config allows it.
 *
 * Checks run cheapest and least revealing first. The target must be a plain
 * host name and port on the allowlist before anything is resolved, so a refused
 * name never reaches DNS. The name is then resolved once and every address
 * checked; the proxy connects to a checked address and never resolves again, so
 * a name that rebinds cannot steer it inward. A tunnel opens upstream only after
 * the client's ClientHello has arrived and its SNI names the CONNECT host, so a
 * refused tunnel never touches the upstream. Tunnels and plain requests are
 * bounded by an idle limit and a lifetime limit.
 *
 * Audit mode relaxes only what an allowlist could change: a host or port not on
 * the list, and a missing, mismatched or non-TLS ClientHello go through and are
 * logged as `audit`. Targets that are not a `host:port` (IP literals, user info,
 * paths) and addresses on the refused list (loopback, link-local, private, the
 * denied networks, the gate's own addresses) are refused in both modes: no
 * allowlist entry could ever make them pass, and they are how an agent would
 * reach the inside, the gate included.
 *
 * One `egress` event per decision: refusals at once, connections that went
 * through when they close, with byte counts. Events carry the host, port and
 * address, never paths, headers, bodies or credentials.
 *
 * This module is bundled into the gate, so it may import only `node:` built-ins
 * (no API newer than Node 20).
 */
import { promises as dns } from "node:dns";
import {
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { connect as netConnect, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import type { Duplex } from "node:stream";
import { type AddressPolicy, createAddressPolicy, parseCidr } from "./address.js";
import type { GateProxyConfig } from "./config.js";
import { endToEndHeaders } from "./headers.js";
import { describeError as describe } from "../errors.js";
import { replyJson } from "../sidecar/http.js";
import { allowlistProblem, type Host, normaliseHost, parseAuthority, type Parsed, type HostPort } from "./hosts.js";
import { type ClientHelloResult, MAX_CLIENT_HELLO_BYTES, parseClientHello } from "./sni.js";

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

export type HostLookup = (hostname: string) => Promise<ReadonlyArray<{ address: string }>>;

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
  /** Ends every open tunnel and upstream connection. */
  close(): void;
}

/** `scheme://` at the start of a request target: the absolute form a forward proxy is sent. */
export function isAbsoluteForm(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
}

// IPv4 only: the bottle's networks have no IPv6, and asking for AAAA records too
// makes every lookup wait for an answer that Docker's resolver has to forward.
function systemLookup(hostname: string): Promise<ReadonlyArray<{ address: string }>> {
  return dns.lookup(hostname, { all: true, family: 4 });
}

function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
}

/**
 * `fn`'s answer, asked again at most every `ttlMs`. The gate's own addresses are
 * fixed once it runs (its networks are joined before it starts), and listing the
 * interfaces on every tunnel was a measurable share of a new tunnel's cost.
 */
function memoized<T>(fn: () => T, ttlMs: number): () => T {
  let value: T | undefined;
  let expires = 0;
  return () => {
    const now = Date.now();
    if (value === undefined || now >= expires) {
      value = fn();
      expires = now + ttlMs;
    }
    return value;
  };
}

/** A client's target for a log line: user info masked, cut short. */
function shownTarget(target: string): string {
  const at = target.lastIndexOf("@");
  const masked = at === -1 ? target : `[userinfo]${target.slice(at)}`;
  return masked.length > 260 ? `${masked.slice(0, 257)}...` : masked;
}

/** The authority and origin-form path of an absolute `http://` target. */
function parseHttpTarget(target: string): Parsed<{ authority: string; path: string }> {
  const match = /^http:\/\/([^/?#]*)(.*)$/is.exec(target);
  if (match === null) return { refused: "only http:// targets are proxied as requests; use CONNECT for https" };
  const rest = match[2]!;
  if (rest.includes("#")) return { refused: "the target has a fragment" };
  const path = rest === "" ? "/" : rest.startsWith("?") ? `/${rest}` : rest;
  return { ok: { authority: match[1]!, path } };
}

/** The authority of a target for a log line, without its path or query. */
function shownAuthority(target: string): string {
  const afterScheme = target.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const end = afterScheme.search(/[/?#]/);
  return shownTarget(end === -1 ? afterScheme : afterScheme.slice(0, end));
}

// The gate sets Host from the checked target, and answers `100-continue` itself.
const REQUEST_HEADERS_DROPPED = new Set(["host", "expect"]);

const STATUS_TEXT: Record<number, string> = { 403: "Forbidden", 502: "Bad Gateway", 504: "Gateway Timeout" };

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

type Peek = { result: ClientHelloResult | { kind: "timeout" } | { kind: "closed" }; buffered: Buffer };

/**
 * Collects what the client sends into a fresh tunnel until it is a complete
 * ClientHello, cannot become one, the client stops, or `timeoutMs` passes.
 * Leaves the socket paused with nothing consumed beyond what it returns.
 */
function peekClientHello(socket: Socket, head: Buffer, timeoutMs: number): Promise<Peek> {
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
function helloProblem(result: Peek["result"], host: Host, timeoutMs: number): string | undefined {
  switch (result.kind) {
    case "hello": {
      if (result.serverName === undefined) return "the ClientHello has no SNI";
      const sni = normaliseHost(result.serverName);
      if ("refused" in sni || sni.ok !== host) {
        return `the ClientHello's SNI ${JSON.stringify(shownTarget(result.serverName))} is not the CONNECT host ${host}`;
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

/**
 * Watches a relay for silence and age: calls `expire` once, with the limit
 * reached, when no `touch` came for `idleMs` or `lifetimeMs` passed since `started`.
 */
function limits(started: number, idleMs: number, lifetimeMs: number, expire: (limit: "idle" | "lifetime") => void) {
  let last = Date.now();
  let idleTimer: NodeJS.Timeout;
  const checkIdle = (): void => {
    const quiet = Date.now() - last;
    if (quiet >= idleMs) expire("idle");
    else idleTimer = setTimeout(checkIdle, idleMs - quiet);
  };
  idleTimer = setTimeout(checkIdle, idleMs);
  const lifetimeTimer = setTimeout(() => expire("lifetime"), Math.max(0, started + lifetimeMs - Date.now()));
  return {
    touch(): void {
      last = Date.now();
    },
    stop(): void {
      clearTimeout(idleTimer);
      clearTimeout(lifetimeTimer);
    },
  };
}

interface Admitted {
  host: Host;
  port: number;
  addresses: string[];
  /** What the policy would have refused, in audit mode. */
  audits: string[];
}

interface Refusal {
  decision: "refuse" | "error";
  status: number;
  reason: string;
  host: string;
  port: number | null;
  address?: string;
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
  // Every tunnel resolves afresh (Docker's resolver answers in ~0.3 ms): an answer
  // that changes between two connections is checked again each time.
  const lookup = options.lookup ?? systemLookup;
  const configured = createAddressPolicy({
    denied: config.deniedCidrs.map((text) => parseCidr(text)!),
    hostAddresses: config.hostAddresses,
    ownAddresses: memoized(localAddresses, 1_000),
  });
  const refusedAddress = options.addressPolicy?.(configured) ?? configured;
  const audit = config.mode === "audit";
  const open = new Set<Socket>();
  let shuttingDown = false;

  const track = (socket: Socket): void => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  };

  const emit = (
    kind: GateEgressEvent["kind"],
    started: number,
    fields: Omit<GateEgressEvent, "event" | "time" | "kind" | "bytesIn" | "bytesOut" | "ms"> & { bytesIn?: number; bytesOut?: number },
  ): void => {
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

  /** Resolves `host` with the connect timeout; a lookup that hangs must not hold the client forever. */
  const resolveHost = async (host: Host): Promise<{ addresses: string[] } | { failed: string; status: number }> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((done) => {
      timer = setTimeout(() => done("timeout"), config.connectTimeoutMs);
    });
    try {
      const found = await Promise.race([lookup(host), timeout]);
      if (found === "timeout") return { failed: `looking up ${host} took longer than ${config.connectTimeoutMs} ms`, status: 504 };
      const addresses = [...new Set(found.map((entry) => entry.address))];
      if (addresses.length === 0) return { failed: `${host} resolved to no address`, status: 502 };
      return { addresses };
    } catch (error) {
      return { failed: `looking up ${host} failed: ${describe(error)}`, status: 502 };
    } finally {
      clearTimeout(timer);
    }
  };

  /** Every check that needs no bytes from the tunnel: target, allowlist, then resolved addresses. */
  const admit = async (target: Parsed<HostPort>, shown: string): Promise<Admitted | Refusal> => {
    if ("refused" in target) return { decision: "refuse", status: 403, reason: target.refused, host: shown, port: null };
    const { host, port } = target.ok;
    const audits: string[] = [];
    const listed = allowlistProblem(config.allow, host, port);
    if (listed !== undefined) {
      if (!audit) return { decision: "refuse", status: 403, reason: listed, host, port };
      audits.push(listed);
    }
    const resolved = await resolveHost(host);
    if ("failed" in resolved) return { decision: "error", status: resolved.status, reason: resolved.failed, host, port };
    // Any bad address refuses the name: which one a client would get is the resolver's choice, not ours.
    for (const address of resolved.addresses) {
      const refused = refusedAddress(address);
      if (refused !== undefined) return { decision: "refuse", status: 403, reason: `${host} resolved to a refused address: ${refused}`, host, port, address };
    }
    return { host, port, addresses: resolved.addresses, audits };
  };

  /** Connects to the checked addresses in order until one answers, all within the connect timeout. */
  const connectChecked = async (
    addresses: readonly string[],
    port: number,
  ): Promise<{ socket: Socket; address: string } | { failed: string; address: string }> => {
    const deadline = Date.now() + config.connectTimeoutMs;
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
          done(`connecting to ${address} port ${port} took longer than ${config.connectTimeoutMs} ms`);
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
          done(`connecting to ${address} port ${port} failed: ${describe(error)}`);
        });
      });
      if (typeof outcome !== "string") return { socket: outcome, address };
      failed = outcome;
    }
    return { failed, address: tried };
  };

  const tunnel = async (target: string, client: Socket, head: Buffer): Promise<void> => {
    const started = Date.now();
    const done = (fields: Parameters<typeof emit>[2]): void => emit("connect", started, fields);
    const admission = await admit(parseAuthority(target), shownTarget(target));
    if (!("addresses" in admission)) {
      replyConnect(client, admission.status, { error: admission.decision === "refuse" ? "forbidden" : "bad gateway", reason: admission.reason });
      done({ ...admission, status: undefined });
      return;
    }
    const { host, port, addresses, audits } = admission;
    if (client.destroyed || shuttingDown) {
      client.destroy();
      done({ host, port, decision: "error", reason: "the client went away before the tunnel opened" });
      return;
    }
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");

    const peek = await peekClientHello(client, head, config.connectTimeoutMs);
    const problem = helloProblem(peek.result, host, config.connectTimeoutMs);
    if (problem !== undefined) {
      const gone = peek.result.kind === "closed" || client.destroyed;
      if (!audit || gone) {
        client.destroy();
        done({ host, port, decision: gone ? "error" : "refuse", reason: problem, address: addresses[0] });
        return;
      }
      audits.push(problem);
    }

    const upstream = await connectChecked(addresses, port);
    if ("failed" in upstream) {
      client.destroy();
      done({ host, port, decision: "error", reason: upstream.failed, address: upstream.address });
      return;
    }
    if (client.destroyed || shuttingDown) {
      upstream.socket.destroy();
      client.destroy();
      done({ host, port, decision: "error", reason: "the client went away before the tunnel opened", address: upstream.address });
      return;
    }
    relay(client, upstream.socket, peek.buffered, started, (closed, bytesIn, bytesOut) =>
      done({
        host,
        port,
        decision: audits.length > 0 ? "audit" : "allow",
        ...(audits.length > 0 ? { reason: audits.join("; ") } : {}),
        address: upstream.address,
        closed,
        bytesIn,
        bytesOut,
      }),
    );
  };

  /**
   * Pipes `client` and `upstream` into each other, `first` (already read from
   * the client) going ahead, until both are closed or a limit is reached.
   * Calls `ended` once, after both sockets have closed.
   */
  const relay = (
    client: Socket,
    upstream: Socket,
    first: Buffer,
    started: number,
    ended: (closed: EgressEnd, bytesIn: number, bytesOut: number) => void,
  ): void => {
    let bytesIn = first.length;
    let bytesOut = 0;
    let closed: EgressEnd | undefined;
    let sockets = 2;
    client.setNoDelay(true);
    const stopBoth = (why: EgressEnd): void => {
      closed ??= why;
      client.destroy();
      upstream.destroy();
    };
    const watch = limits(started, config.tunnelIdleMs, config.tunnelMaxLifetimeMs, stopBoth);
    const onClose = (): void => {
      sockets -= 1;
      if (sockets > 0) return;
      watch.stop();
      ended(closed ?? "client", bytesIn, bytesOut);
    };
    // When one side is gone, the other gets what is already queued for it and then closes.
    const closeAfterFlush = (socket: Socket): void => {
      if (socket.destroyed) return;
      if (socket.writableLength === 0) socket.destroy();
      else {
        socket.end();
        socket.once("finish", () => socket.destroy());
      }
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
      closed ??= shuttingDown ? "shutdown" : side;
    };
    client.once("end", endedBy("client"));
    upstream.once("end", endedBy("upstream"));
    client.on("error", () => stopBoth(shuttingDown ? "shutdown" : "client"));
    upstream.on("error", () => stopBoth(shuttingDown ? "shutdown" : "upstream"));
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
  };

  const forwardHttp = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const target = req.url ?? "";
    const done = (fields: Parameters<typeof emit>[2]): void => emit("http", started, fields);
    const parsed = parseHttpTarget(target);
    const admission = await admit(
      "refused" in parsed ? parsed : parseAuthority(parsed.ok.authority, 80),
      shownAuthority(target),
    );
    if (!("addresses" in admission)) {
      replyJson(res, admission.status, { error: admission.decision === "refuse" ? "forbidden" : "bad gateway", reason: admission.reason });
      done({ ...admission });
      return;
    }
    const { host, port, addresses, audits } = admission;
    const path = "ok" in parsed ? parsed.ok.path : "/";
    const decision = audits.length > 0 ? "audit" : "allow";
    const auditReason = audits.length > 0 ? { reason: audits.join("; ") } : {};
    if (res.destroyed || shuttingDown) {
      res.destroy();
      done({ host, port, decision: "error", reason: "the client went away before the request was sent" });
      return;
    }

    const upstream = await connectChecked(addresses, port);
    if ("failed" in upstream) {
      replyJson(res, 502, { error: "bad gateway", reason: upstream.failed });
      done({ host, port, decision: "error", reason: upstream.failed, address: upstream.address, status: 502 });
      return;
    }
    const { socket, address } = upstream;
    if (res.destroyed) {
      socket.destroy();
      done({ host, port, decision: "error", reason: "the client went away before the request was sent", address });
      return;
    }

    const headers = endToEndHeaders(req.rawHeaders, (name) => REQUEST_HEADERS_DROPPED.has(name));
    // The checked target decides where the request goes; a client's Host header never does.
    headers.host = port === 80 ? host : `${host}:${port}`;
    const upstreamReq = httpRequest({
      method: req.method,
      path,
      headers,
      setHost: false,
      createConnection: () => socket,
    });

    let bytesIn = 0;
    let bytesOut = 0;
    let closed: EgressEnd | undefined;
    let failure: string | undefined;
    const watch = limits(started, config.tunnelIdleMs, config.tunnelMaxLifetimeMs, (limit) => {
      closed ??= limit;
      failure ??= limit === "idle" ? `no data for ${config.tunnelIdleMs} ms` : `the request outlived ${config.tunnelMaxLifetimeMs} ms`;
      upstreamReq.destroy();
      if (res.headersSent) res.destroy();
      else replyJson(res, 504, { error: "gateway timeout", reason: failure });
    });

    res.on("close", () => {
      watch.stop();
      if (!res.writableFinished) {
        closed ??= shuttingDown ? "shutdown" : "client";
        upstreamReq.destroy();
      }
      const failedBeforeResponse = failure !== undefined && closed === undefined;
      done({
        host,
        port,
        decision: failedBeforeResponse ? "error" : decision,
        ...(failedBeforeResponse ? { reason: failure } : auditReason),
        address,
        status: res.statusCode,
        closed: closed ?? "upstream",
        bytesIn,
        bytesOut,
      });
    });

    upstreamReq.on("error", (error) => {
      if (res.destroyed || closed !== undefined) return;
      if (res.headersSent) {
        closed = "upstream";
        res.destroy();
        return;
      }
      failure = `the upstream request failed: ${describe(error)}`;
      replyJson(res, 502, { error: "bad gateway", reason: failure });
    });

    upstreamReq.on("response", (upstreamRes) => {
      if (res.destroyed) {
        upstreamRes.destroy();
        return;
      }
      res.writeHead(
        upstreamRes.statusCode ?? 502,
        upstreamRes.statusMessage,
        endToEndHeaders(upstreamRes.rawHeaders),
      );
      res.flushHeaders();
      watch.touch();
      upstreamRes.on("data", (chunk: Buffer) => {
        bytesOut += chunk.length;
        watch.touch();
      });
      upstreamRes.on("error", () => {});
      upstreamRes.on("close", () => {
        if (!upstreamRes.complete && !res.destroyed) {
          closed ??= "upstream";
          res.destroy();
        }
      });
      upstreamRes.pipe(res);
    });

    req.on("data", (chunk: Buffer) => {
      bytesIn += chunk.length;
      watch.touch();
    });
    req.pipe(upstreamReq);
  };

  return {
    connect(req, duplex, head) {
      const client = duplex as Socket;
      track(client);
      // A client resetting mid-handshake must not take the gate down.
      client.on("error", () => {});
      void tunnel(req.url ?? "", client, head);
    },
    request(req, res) {
      void forwardHttp(req, res);
    },
    refuseUnparsed(error, socket) {
      const packet = error.rawPacket;
      if (packet === undefined) return false;
      const lineEnd = packet.indexOf("\r\n");
      const line = packet.subarray(0, Math.min(lineEnd === -1 ? packet.length : lineEnd, 2048)).toString("utf8");
      const match = /^CONNECT (.*?)(?: HTTP\/\d\.\d)?$/.exec(line);
      if (match === null) return false;
      const started = Date.now();
      const reason = `the request could not be parsed (${error.code ?? "malformed"}); give only host:port`;
      replyConnect(socket as Socket, 403, { error: "forbidden", reason });
      emit("connect", started, { host: shownTarget(match[1]!), port: null, decision: "refuse", reason });
      return true;
    },
    close() {
      shuttingDown = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
  };
}
