// The gate's forward proxy in process, against loopback servers that record
// every connection: a TLS upstream, a raw TCP recorder, a plain HTTP origin, and
// an evil server and a canary that must never see one. Names resolve through a
// fake resolver that records every name it is asked. Loopback is refused by the
// real address policy, so most gates here wrap it to let exactly 127.0.0.1
// through (recording each check); one gate keeps the real policy and proves a
// name resolving to loopback gets nowhere.
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import {
  type AddressInfo,
  connect as netConnect,
  createServer as createNetServer,
  isIP,
  type Server,
  type Socket,
} from "node:net";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AddressPolicy } from "../../src/gate/address.js";
import type { GateConfig } from "../../src/gate/config.js";
import type { HostLookup } from "../../src/gate/forward/admission.js";
import type { GateEgressEvent } from "../../src/gate/forward/egress-event.js";
import { hasOpenssl, selfSignedCertificate } from "../support/openssl.js";
import type { GateEvent } from "../../src/gate/events.js";
import { type RunningRoutes, startRoutes } from "../../src/gate/routes.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const OPENSSL = hasOpenssl();

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: Server): Promise<void> {
  if ("closeAllConnections" in server) (server as HttpServer).closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// --- The outside world, all on 127.0.0.1 ---------------------------------

/** Raw TCP: every connection and every byte it received. */
const recorded: Buffer[][] = [];
const recorderSockets = new Set<Socket>();
const recorder = createNetServer((socket) => {
  const chunks: Buffer[] = [];
  recorded.push(chunks);
  recorderSockets.add(socket);
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {});
  socket.on("close", () => recorderSockets.delete(socket));
});

/** Must never see a connection: the target of every name that resolves inward. */
let canaryConnections = 0;
const canary = createNetServer((socket) => {
  canaryConnections += 1;
  socket.destroy();
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
const originSeen: Seen[] = [];
const evilSeen: Seen[] = [];
let evilPort = 0;

const origin = createHttpServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString();
    originSeen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    if (req.url!.startsWith("/redirect")) {
      res.writeHead(302, { location: `http://127.0.0.1:${evilPort}/stolen` });
      res.end();
    } else if (req.url!.startsWith("/echo")) {
      res.writeHead(200, {
        "content-type": "text/plain",
        connection: "x-origin-hop",
        "x-origin-hop": "1",
        "x-kept": "yes",
      });
      res.end(`echo:${body}`);
    } else if (req.url!.startsWith("/hold")) {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first");
    } else {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`origin saw host ${req.headers.host}`);
    }
  });
});

const evil = createHttpServer((req, res) => {
  evilSeen.push({ method: req.method!, url: req.url!, headers: req.headers, body: "" });
  res.end("evil");
});

let tlsConnections = 0;
let identity = { key: "", cert: "" };
let tlsServer: HttpServer | undefined;

let recorderPort = 0;
let canaryPort = 0;
let originPort = 0;
let tlsPort = 0;

// --- The resolver and the address policy ----------------------------------

const asked: string[] = [];
const table: Record<string, string[]> = {};

const lookup: HostLookup = async (name) => {
  asked.push(name);
  const addresses = table[name];
  if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
  return addresses.map((address) => ({ address, family: isIP(address) }));
};

const checked: string[] = [];
/** The real policy, except that exactly 127.0.0.1 passes: the only address these tests may reach. */
const loopbackAllowed =
  (policy: AddressPolicy): AddressPolicy =>
  (address) => {
    checked.push(address);
    return address === "127.0.0.1" ? undefined : policy(address);
  };

// --- Gates ------------------------------------------------------------------

interface Gate {
  running: RunningRoutes;
  events: GateEvent[];
}

async function startGate(proxy: GateConfig["proxy"], wrap: boolean, routes: GateConfig["routes"] = []): Promise<Gate> {
  const events: GateEvent[] = [];
  const running = await startRoutes(
    { version: 1, listen: { host: "127.0.0.1", port: 0 }, routes, proxy },
    {},
    (event) => events.push(event),
    wrap ? { lookup, addressPolicy: loopbackAllowed } : { lookup },
  );
  return { running, events };
}

function egress(gate: Gate): GateEgressEvent[] {
  return gate.events.filter((event): event is GateEgressEvent => event.event === "egress");
}

/** The one egress event `action` produced: waits for it, then checks no second one follows. */
async function oneEvent(gate: Gate, action: () => Promise<unknown>): Promise<GateEgressEvent> {
  const before = egress(gate).length;
  await action();
  for (let i = 0; i < 300 && egress(gate).length === before; i++) await sleep(10);
  await sleep(40);
  const produced = egress(gate).slice(before);
  expect(produced, JSON.stringify(produced)).toHaveLength(1);
  return produced[0]!;
}

// --- Clients ----------------------------------------------------------------

interface ConnectReply {
  status: number;
  socket: Socket;
}

/** Sends a raw CONNECT (no client-side checks of the target) and reads the status line and headers. */
function rawConnect(port: number, target: string, first: Buffer = Buffer.alloc(0)): Promise<ConnectReply> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1");
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      socket.pause();
      const rest = buffered.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ status: Number(buffered.subarray(0, end).toString("latin1").split(" ")[1]), socket });
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.once("close", () => reject(new Error("the gate closed the connection without an answer")));
    socket.write(Buffer.concat([Buffer.from(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`), first]));
  });
}

/** CONNECT that must be refused: the status, after the gate has closed the socket. */
async function refusedConnect(port: number, target: string): Promise<number> {
  const reply = await rawConnect(port, target);
  reply.socket.resume();
  await closed(reply.socket);
  return reply.status;
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once("close", () => resolve());
  });
}

/** A TLS handshake with `servername` through an open tunnel, then one HTTP request; the response text. */
function tlsGet(socket: Socket, servername: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.resume();
    const secure = tls.connect({
      socket,
      ...(servername === undefined ? {} : { servername }),
      ca: identity.cert,
      checkServerIdentity: () => undefined,
    });
    let text = "";
    let secured = false;
    secure.on("secureConnect", () => {
      secured = true;
      secure.write("GET /who HTTP/1.1\r\nHost: allowed.test\r\nConnection: close\r\n\r\n");
    });
    secure.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    secure.on("error", reject);
    secure.on("close", () =>
      secured ? resolve(text) : reject(new Error("the tunnel closed during the TLS handshake")),
    );
  });
}

/** The ClientHello Node's TLS client sends for `servername`, captured by a throwaway loopback server. */
async function captureHello(servername: string): Promise<Buffer> {
  const server = createNetServer();
  const port = await listen(server);
  const hello = new Promise<Buffer>((resolve) => {
    server.once("connection", (socket) => {
      let bytes = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
          socket.destroy();
          resolve(bytes);
        }
      });
      socket.on("error", () => {});
    });
  });
  const client = tls.connect({ host: "127.0.0.1", port, servername });
  client.on("error", () => {});
  const bytes = await hello;
  client.destroy();
  await closeServer(server);
  return bytes;
}

interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one raw request through the gate with exactly `target` and `headers`; reads the whole reply. */
function rawRequest(port: number, request: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      const lines = text.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body = text.slice(end + 4);
      if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
      resolve({ status: Number(lines[0]!.split(" ")[1]), headers, body });
    });
    socket.write(request);
  });
}

function dechunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const lineEnd = rest.indexOf("\r\n");
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

/** A GET for `target`, with a Host header naming its authority unless `headers` bring one. */
function get(target: string, headers: string[] = []): string {
  const host = headers.some((header) => /^host:/i.test(header))
    ? []
    : [`Host: ${target.replace(/^[a-z]+:\/\/([^/]*).*$/i, "$1")}`];
  return [`GET ${target} HTTP/1.1`, ...host, ...headers, "Connection: close", "", ""].join("\r\n");
}

// --- Lifecycle ----------------------------------------------------------------

let gate: Gate;

beforeAll(async () => {
  recorderPort = await listen(recorder);
  canaryPort = await listen(canary);
  originPort = await listen(origin);
  evilPort = await listen(evil);
  if (OPENSSL) {
    identity = selfSignedCertificate(
      "/CN=allowed.test",
      "DNS:allowed.test,DNS:*.wild.test,DNS:*.deep.wild.test,DNS:notallowed.test",
    );
    tlsServer = createHttpsServer(identity, (req, res) => {
      res.writeHead(200, { "content-type": "text/plain", connection: "close" });
      res.end(`upstream saw sni ${(req.socket as tls.TLSSocket).servername || "(none)"}`);
    });
    tlsServer.on("connection", () => {
      tlsConnections += 1;
    });
    tlsPort = await listen(tlsServer);
  }

  Object.assign(table, {
    "allowed.test": ["127.0.0.1"],
    "a.wild.test": ["127.0.0.1"],
    "x.deep.wild.test": ["127.0.0.1"],
    "notallowed.test": ["127.0.0.1"],
    "evil.test": ["127.0.0.1"],
    "twice.test": ["127.0.0.1", "127.0.0.1"],
    "loopback.test": ["127.0.0.1"],
    "rebind.test": ["198.18.0.10", "127.0.0.2"],
    "meta.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:127.0.0.1"],
    "private.test": ["10.0.0.5"],
    "ula.test": ["fd00::1"],
    "docker.test": ["198.18.7.9"],
    "mixed.test": ["127.0.0.1", "172.17.0.1"],
    "empty.test": [],
  });

  const allowOn = (port: number) =>
    [
      "allowed.test",
      "*.wild.test",
      "twice.test",
      "rebind.test",
      "meta.test",
      "mapped.test",
      "private.test",
      "ula.test",
      "docker.test",
      "mixed.test",
      "missing.test",
      "empty.test",
    ].map((host) => ({ host, port }));
  gate = await startGate(
    {
      allow: [...allowOn(tlsPort || 1), ...allowOn(recorderPort), { host: "allowed.test", port: originPort }],
      deniedCidrs: ["198.18.7.0/24"],
      connectTimeoutMs: 1000,
    },
    true,
    [{ name: "plain", upstream: `http://127.0.0.1:${originPort}` }],
  );
});

afterAll(async () => {
  await gate?.running.close();
  for (const socket of recorderSockets) socket.destroy();
  await closeServer(recorder);
  await closeServer(canary);
  await closeServer(origin);
  await closeServer(evil);
  if (tlsServer !== undefined) await closeServer(tlsServer);
});

// --- Tests ------------------------------------------------------------------

describe.skipIf(!OPENSSL)("CONNECT tunnels to a TLS upstream", () => {
  test("an allowed host with a matching SNI tunnels TLS end to end, logged once at close", async () => {
    const askedBefore = asked.length;
    const checkedBefore = checked.length;
    let response = "";
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, `allowed.test:${tlsPort}`);
      expect(reply.status).toBe(200);
      response = await tlsGet(reply.socket, "allowed.test");
    });
    expect(response).toContain("upstream saw sni allowed.test");
    expect(asked.slice(askedBefore)).toEqual(["allowed.test"]);
    expect(checked.slice(checkedBefore)).toEqual(["127.0.0.1"]);
    expect(event).toEqual({
      event: "egress",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      kind: "connect",
      host: "allowed.test",
      port: tlsPort,
      decision: "allow",
      address: "127.0.0.1",
      closed: expect.stringMatching(/^(client|upstream)$/),
      bytesIn: expect.any(Number),
      bytesOut: expect.any(Number),
      ms: expect.any(Number),
    });
    expect(event.bytesIn).toBeGreaterThan(200);
    expect(event.bytesOut).toBeGreaterThan(200);
  });

  test.each([
    ["ALLOWED.TEST", "allowed.test", "allowed.test"],
    ["allowed.test.", "allowed.test", "allowed.test"],
    ["allowed.test", "ALLOWED.test.", "allowed.test"],
    ["a.wild.test", "a.wild.test", "a.wild.test"],
    ["x.deep.wild.test", "X.Deep.Wild.Test", "x.deep.wild.test"],
  ])("CONNECT %s with SNI %s is allowed as %s", async (host, sni, logged) => {
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, `${host}:${tlsPort}`);
      expect(reply.status).toBe(200);
      expect(await tlsGet(reply.socket, sni)).toContain("upstream saw sni");
    });
    expect(event).toMatchObject({ decision: "allow", host: logged, port: tlsPort });
  });

  test.each([
    ["a different host", "evil.test", "is not the CONNECT host"],
    ["a sibling under the wildcard", "b.wild.test", "is not the CONNECT host"],
    ["no SNI", undefined, "has no SNI"],
    ["an IP address", "127.0.0.1", "is not the CONNECT host"],
  ])("an SNI naming %s is closed before the upstream sees anything", async (_name, sni, reason) => {
    const before = tlsConnections;
    const target = sni === "b.wild.test" ? `a.wild.test:${tlsPort}` : `allowed.test:${tlsPort}`;
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, target);
      expect(reply.status).toBe(200);
      await expect(tlsGet(reply.socket, sni)).rejects.toThrow();
    });
    expect(tlsConnections).toBe(before);
    expect(event).toMatchObject({
      kind: "connect",
      decision: "refuse",
      reason: expect.stringContaining(reason),
      bytesIn: 0,
      bytesOut: 0,
    });
  });
});

describe("CONNECT tunnels, byte by byte", () => {
  let hello: Buffer;
  beforeAll(async () => {
    hello = await captureHello("allowed.test");
  });

  test("plaintext through the tunnel is closed and the upstream never sees a connection", async () => {
    const before = recorded.length;
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, `allowed.test:${recorderPort}`);
      expect(reply.status).toBe(200);
      reply.socket.resume();
      reply.socket.write("GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n");
      await closed(reply.socket);
    });
    expect(recorded.length).toBe(before);
    expect(event).toMatchObject({
      decision: "refuse",
      reason: expect.stringContaining("did not start a TLS handshake"),
    });
  });

  test("a ClientHello trickling in tiny pieces is buffered whole, then forwarded byte for byte", async () => {
    const before = recorded.length;
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, `allowed.test:${recorderPort}`);
      expect(reply.status).toBe(200);
      for (let offset = 0; offset < hello.length; offset += 37) {
        reply.socket.write(hello.subarray(offset, offset + 37));
        await sleep(2);
      }
      for (let i = 0; i < 100 && Buffer.concat(recorded[before] ?? []).length < hello.length; i++) await sleep(10);
      reply.socket.resume();
      reply.socket.end();
      await closed(reply.socket);
    });
    expect(recorded.length).toBe(before + 1);
    expect(Buffer.concat(recorded[before]!).equals(hello)).toBe(true);
    expect(event).toMatchObject({ decision: "allow", closed: "client", bytesIn: hello.length, bytesOut: 0 });
  });

  test("a ClientHello sent along with the CONNECT request itself is forwarded", async () => {
    const before = recorded.length;
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, `allowed.test:${recorderPort}`, hello);
      expect(reply.status).toBe(200);
      for (let i = 0; i < 100 && Buffer.concat(recorded[before] ?? []).length < hello.length; i++) await sleep(10);
      reply.socket.destroy();
    });
    expect(Buffer.concat(recorded[before]!).equals(hello)).toBe(true);
    expect(event).toMatchObject({ decision: "allow", bytesIn: hello.length });
  });

  test("bytes both ways after the hello are relayed and counted", async () => {
    const before = recorded.length;
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, `allowed.test:${recorderPort}`, hello);
      for (let i = 0; i < 100 && recorderSockets.size === 0; i++) await sleep(10);
      reply.socket.write("more-from-client");
      for (let i = 0; i < 100 && Buffer.concat(recorded[before] ?? []).length < hello.length + 16; i++) await sleep(10);
      const upstream = [...recorderSockets].at(-1)!;
      const received = new Promise<string>((resolve) =>
        reply.socket.once("data", (chunk: Buffer) => resolve(chunk.toString())),
      );
      reply.socket.resume();
      upstream.end("from-upstream");
      expect(await received).toBe("from-upstream");
      await closed(reply.socket);
    });
    expect(Buffer.concat(recorded[before]!).subarray(hello.length).toString()).toBe("more-from-client");
    expect(event).toMatchObject({ decision: "allow", closed: "upstream", bytesIn: hello.length + 16, bytesOut: 13 });
  });

  test("a tunnel that never sends a ClientHello is closed at the connect timeout", async () => {
    const before = recorded.length;
    const started = Date.now();
    const event = await oneEvent(gate, async () => {
      const reply = await rawConnect(gate.running.port, `allowed.test:${recorderPort}`);
      reply.socket.resume();
      await closed(reply.socket);
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(recorded.length).toBe(before);
    expect(event).toMatchObject({
      decision: "refuse",
      reason: expect.stringContaining("no complete ClientHello within 1000 ms"),
    });
  });

  test("a name that resolves to the same address twice connects once", async () => {
    const before = recorded.length;
    const reply = await rawConnect(gate.running.port, `twice.test:${recorderPort}`, await captureHello("twice.test"));
    expect(reply.status).toBe(200);
    for (let i = 0; i < 100 && recorded.length === before; i++) await sleep(10);
    reply.socket.destroy();
    await sleep(30);
    expect(recorded.length).toBe(before + 1);
  });
});

describe("CONNECT refusals before any lookup", () => {
  // Each is answered 403 without the resolver being asked and without any upstream seeing a connection.
  const rows: Array<[string, string]> = [
    ["198.18.0.10:RECORDER", "IP address"],
    ["127.0.0.1:RECORDER", "IP address"],
    ["3323068426:RECORDER", "IP address"],
    ["0xc612000a:RECORDER", "IP address"],
    ["0306.022.0.012:RECORDER", "IP address"],
    ["10.1:RECORDER", "IP address"],
    ["127.1:RECORDER", "IP address"],
    ["[::1]:RECORDER", "IPv6"],
    ["[::ffff:c612:a]:RECORDER", "IPv6"],
    ["[fd00::1]:RECORDER", "IPv6"],
    ["allowed.test@evil.test:RECORDER", "user info"],
    ["evil.test#allowed.test:RECORDER", "could not be parsed"],
    ["evil.test/allowed.test:RECORDER", "path"],
    ["аllowed.test:RECORDER", "could not be parsed"],
    ["allowed.test :RECORDER", "could not be parsed"],
    ["nonce-5f2a.notallowed.test:RECORDER", "not on the allowlist"],
    ["evil.test:RECORDER", "not on the allowlist"],
    ["allowed.test.evil.test:RECORDER", "not on the allowlist"],
    ["evilallowed.test:RECORDER", "not on the allowlist"],
    ["wild.test:RECORDER", "not on the allowlist"],
    ["allowed.test:22", "port 22 is not allowed"],
    ["allowed.test", "no port"],
    ["allowed..test:RECORDER", "empty label"],
    ["xn--llowed-2of.test:RECORDER", "not on the allowlist"],
  ];
  test.each(rows)("CONNECT %s → 403 (%s)", async (template, reason) => {
    const target = template.replace("RECORDER", String(recorderPort));
    const askedBefore = asked.length;
    const recordedBefore = recorded.length;
    let status = 0;
    const event = await oneEvent(gate, async () => {
      status = await refusedConnect(gate.running.port, target);
    });
    expect(status).toBe(403);
    expect(asked.slice(askedBefore)).toEqual([]);
    expect(recorded.length).toBe(recordedBefore);
    expect(event).toMatchObject({
      kind: "connect",
      decision: "refuse",
      reason: expect.stringContaining(reason),
      bytesIn: 0,
      bytesOut: 0,
    });
    expect(event).not.toHaveProperty("address");
    expect(JSON.stringify(event)).not.toContain("allowed.test@");
  });

  test("the 403 body says why", async () => {
    const reply = await rawConnect(gate.running.port, `evil.test:${recorderPort}`);
    const chunks: Buffer[] = [];
    reply.socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    reply.socket.resume();
    await closed(reply.socket);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({
      error: "forbidden",
      reason: "evil.test is not on the allowlist",
    });
  });
});

describe("CONNECT refusals after the lookup", () => {
  test.each([
    ["rebind.test", "127.0.0.2", "loopback"],
    ["meta.test", "169.254.169.254", "link-local"],
    ["mapped.test", "::ffff:127.0.0.1", "IPv4-mapped loopback"],
    ["private.test", "10.0.0.5", "private"],
    ["ula.test", "fd00::1", "unique local"],
    ["docker.test", "198.18.7.9", "denied network 198.18.7.0/24"],
    ["mixed.test", "172.17.0.1", "private"],
  ])("%s resolves to %s and is refused (%s) without a connection", async (host, address, reason) => {
    const recordedBefore = recorded.length;
    let status = 0;
    const event = await oneEvent(gate, async () => {
      status = await refusedConnect(gate.running.port, `${host}:${recorderPort}`);
    });
    expect(status).toBe(403);
    expect(recorded.length).toBe(recordedBefore);
    expect(event).toMatchObject({
      decision: "refuse",
      address,
      reason: expect.stringContaining(reason),
      bytesIn: 0,
      bytesOut: 0,
    });
  });

  test.each([
    ["missing.test", 502, "ENOTFOUND"],
    ["empty.test", 502, "no address"],
  ])("%s fails its lookup: %i and an error event", async (host, code, reason) => {
    let status = 0;
    const event = await oneEvent(gate, async () => {
      status = await refusedConnect(gate.running.port, `${host}:${recorderPort}`);
    });
    expect(status).toBe(code);
    expect(event).toMatchObject({ decision: "error", reason: expect.stringContaining(reason) });
  });

  test("with the real address policy, a name resolving to loopback never reaches the loopback canary", async () => {
    const strict = await startGate({ allow: [{ host: "loopback.test", port: canaryPort }] }, false);
    try {
      for (let i = 0; i < 20; i++) {
        const event = await oneEvent(strict, async () => {
          expect(await refusedConnect(strict.running.port, `loopback.test:${canaryPort}`)).toBe(403);
        });
        expect(event).toMatchObject({
          decision: "refuse",
          address: "127.0.0.1",
          reason: expect.stringContaining("loopback"),
        });
        const http = await rawRequest(strict.running.port, get(`http://loopback.test:${canaryPort}/`));
        expect(http.status).toBe(403);
      }
      expect(canaryConnections).toBe(0);
    } finally {
      await strict.running.close();
    }
  });
});

describe("absolute-form HTTP", () => {
  test("goes to the target only, with Host rewritten and proxy and hop-by-hop headers stripped", async () => {
    const before = originSeen.length;
    let reply: HttpReply | undefined;
    const event = await oneEvent(gate, async () => {
      reply = await rawRequest(
        gate.running.port,
        [
          `POST http://ALLOWED.TEST:${originPort}/echo?q=1 HTTP/1.1`,
          `Host: 127.0.0.1:${evilPort}`,
          "Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==",
          "Proxy-Connection: keep-alive",
          "Connection: close, x-client-hop",
          "X-Client-Hop: 1",
          "TE: trailers",
          "Authorization: Bearer agent-own-token",
          "Content-Length: 5",
          "",
          "hello",
        ].join("\r\n"),
      );
    });
    expect(reply!.status).toBe(200);
    expect(reply!.body).toBe("echo:hello");
    expect(reply!.headers["x-origin-hop"]).toBeUndefined();
    expect(reply!.headers["x-kept"]).toBe("yes");
    expect(evilSeen).toEqual([]);
    const seen = originSeen.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe("/echo?q=1");
    expect(seen[0]!.headers.host).toBe(`allowed.test:${originPort}`);
    for (const name of ["proxy-authorization", "proxy-connection", "x-client-hop", "te"])
      expect(seen[0]!.headers[name], name).toBeUndefined();
    expect(seen[0]!.headers.authorization).toBe("Bearer agent-own-token");
    expect(event).toEqual({
      event: "egress",
      time: expect.any(String),
      kind: "http",
      host: "allowed.test",
      port: originPort,
      decision: "allow",
      address: "127.0.0.1",
      status: 200,
      closed: "upstream",
      bytesIn: 5,
      bytesOut: 10,
      ms: expect.any(Number),
    });
  });

  test("a redirect is returned, not followed", async () => {
    const reply = await rawRequest(gate.running.port, get(`http://allowed.test:${originPort}/redirect`));
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(`http://127.0.0.1:${evilPort}/stolen`);
    await sleep(30);
    expect(evilSeen).toEqual([]);
  });

  test("a streamed response reaches the client before the upstream finishes; the client leaving ends it", async () => {
    const event = await oneEvent(gate, async () => {
      const socket = netConnect(gate.running.port, "127.0.0.1");
      const first = new Promise<string>((resolve) => socket.once("data", (chunk: Buffer) => resolve(chunk.toString())));
      socket.write(get(`http://allowed.test:${originPort}/hold`));
      expect(await first).toMatch(/^HTTP\/1\.1 200[\s\S]*first/);
      socket.destroy();
    });
    expect(event).toMatchObject({ kind: "http", decision: "allow", status: 200, closed: "client", bytesOut: 5 });
  });

  test.each([
    [`http://evil.test:EVIL/`, "not on the allowlist"],
    [`http://127.0.0.1:EVIL/`, "IP address"],
    [`http://0x7f000001:EVIL/`, "IP address"],
    [`http://[::1]:EVIL/`, "IPv6"],
    [`http://allowed.test@127.0.0.1:EVIL/`, "user info"],
    [`http://allowed.test/`, "port 80 is not allowed"],
    [`https://allowed.test:ORIGIN/`, "use CONNECT"],
    [`ftp://allowed.test:ORIGIN/`, "use CONNECT"],
  ])("%s → 403 (%s), without a lookup", async (template, reason) => {
    const target = template.replace("EVIL", String(evilPort)).replace("ORIGIN", String(originPort));
    const askedBefore = asked.length;
    let reply: HttpReply | undefined;
    const event = await oneEvent(gate, async () => {
      reply = await rawRequest(gate.running.port, get(target, [`Host: allowed.test:${originPort}`]));
    });
    expect(reply!.status).toBe(403);
    expect(JSON.parse(reply!.body)).toMatchObject({ error: "forbidden", reason: expect.stringContaining(reason) });
    expect(asked.slice(askedBefore)).toEqual([]);
    expect(evilSeen).toEqual([]);
    expect(event).toMatchObject({ kind: "http", decision: "refuse", status: 403 });
    expect(JSON.stringify(event)).not.toContain("allowed.test@");
  });

  test("origin-form requests still go to the routes, and log as routes", async () => {
    const before = egress(gate).length;
    const reply = await rawRequest(gate.running.port, get("/plain/who", ["Host: gate"]));
    expect(reply.status).toBe(200);
    expect(reply.body).toBe(`origin saw host 127.0.0.1:${originPort}`);
    await sleep(20);
    expect(egress(gate).length).toBe(before);
    expect(gate.events).toContainEqual(expect.objectContaining({ event: "route", route: "plain", path: "/plain/who" }));
  });
});

describe("tunnel limits", () => {
  let limited: Gate;
  let hello: Buffer;
  beforeAll(async () => {
    hello = await captureHello("allowed.test");
    limited = await startGate(
      {
        allow: [
          { host: "allowed.test", port: recorderPort },
          { host: "allowed.test", port: originPort },
        ],
        tunnelIdleMs: 300,
        tunnelMaxLifetimeMs: 900,
      },
      true,
    );
  });
  afterAll(async () => {
    await limited?.running.close();
  });

  test("a silent tunnel is closed at the idle limit", async () => {
    const started = Date.now();
    const event = await oneEvent(limited, async () => {
      const reply = await rawConnect(limited.running.port, `allowed.test:${recorderPort}`, hello);
      expect(reply.status).toBe(200);
      reply.socket.resume();
      await closed(reply.socket);
    });
    const lasted = Date.now() - started;
    expect(lasted).toBeGreaterThanOrEqual(280);
    expect(lasted).toBeLessThan(850);
    expect(event).toMatchObject({ decision: "allow", closed: "idle", bytesIn: hello.length });
  });

  test("a busy tunnel is closed at the lifetime limit", async () => {
    const started = Date.now();
    const event = await oneEvent(limited, async () => {
      const reply = await rawConnect(limited.running.port, `allowed.test:${recorderPort}`, hello);
      reply.socket.resume();
      const ticker = setInterval(() => reply.socket.write("tick"), 50);
      await closed(reply.socket);
      clearInterval(ticker);
    });
    const lasted = Date.now() - started;
    expect(lasted).toBeGreaterThanOrEqual(880);
    expect(lasted).toBeLessThan(1500);
    expect(event).toMatchObject({ decision: "allow", closed: "lifetime" });
  });

  test("a plain request whose response stalls is cut at the idle limit", async () => {
    const started = Date.now();
    const event = await oneEvent(limited, async () => {
      const reply = await rawRequest(limited.running.port, get(`http://allowed.test:${originPort}/hold`));
      expect(reply.status).toBe(200);
    });
    const lasted = Date.now() - started;
    expect(lasted).toBeGreaterThanOrEqual(280);
    expect(lasted).toBeLessThan(850);
    expect(event).toMatchObject({ kind: "http", decision: "allow", status: 200, closed: "idle", bytesOut: 5 });
  });

  test("closing the gate ends open tunnels and logs them", async () => {
    const own = await startGate({ allow: [{ host: "allowed.test", port: recorderPort }] }, true);
    const reply = await rawConnect(own.running.port, `allowed.test:${recorderPort}`, hello);
    reply.socket.resume();
    for (let i = 0; i < 100 && egress(own).length === 0 && recorderSockets.size === 0; i++) await sleep(10);
    await sleep(20);
    await own.running.close();
    // Logged by the time the close has finished: a gate stopped once claude has ended exits right after.
    expect(egress(own)).toEqual([expect.objectContaining({ decision: "allow", closed: "shutdown" })]);
    await closed(reply.socket);
  });
});

describe("audit mode", () => {
  let audit: Gate;
  let hello: Buffer;
  beforeAll(async () => {
    hello = await captureHello("notallowed.test");
    audit = await startGate({ mode: "audit", allow: [{ host: "allowed.test", port: recorderPort }] }, true);
  });
  afterAll(async () => {
    await audit?.running.close();
  });

  async function tunnelThrough(target: string, first: Buffer): Promise<number> {
    const before = recorded.length;
    const reply = await rawConnect(audit.running.port, target, first);
    expect(reply.status).toBe(200);
    for (let i = 0; i < 200 && Buffer.concat(recorded[before] ?? []).length < first.length; i++) await sleep(10);
    reply.socket.destroy();
    return Buffer.concat(recorded[before] ?? []).length;
  }

  test("a host off the allowlist goes through and is logged as audit", async () => {
    const event = await oneEvent(audit, async () => {
      expect(await tunnelThrough(`notallowed.test:${recorderPort}`, hello)).toBe(hello.length);
    });
    expect(event).toMatchObject({
      decision: "audit",
      host: "notallowed.test",
      reason: "notallowed.test is not on the allowlist",
    });
  });

  test("an SNI mismatch and plaintext go through and are logged as audit", async () => {
    const mismatch = await oneEvent(audit, async () => {
      expect(await tunnelThrough(`allowed.test:${recorderPort}`, hello)).toBe(hello.length);
    });
    expect(mismatch).toMatchObject({
      decision: "audit",
      reason: expect.stringContaining("is not the CONNECT host allowed.test"),
    });
    const plain = await oneEvent(audit, async () => {
      expect(await tunnelThrough(`allowed.test:${recorderPort}`, Buffer.from("SSH-2.0-x\r\n"))).toBe(11);
    });
    expect(plain).toMatchObject({
      decision: "audit",
      reason: expect.stringContaining("did not start a TLS handshake"),
    });
  });

  test("a plain request off the allowlist goes through and is logged as audit", async () => {
    const event = await oneEvent(audit, async () => {
      const reply = await rawRequest(audit.running.port, get(`http://evil.test:${originPort}/who`));
      expect(reply.body).toBe(`origin saw host evil.test:${originPort}`);
    });
    expect(event).toMatchObject({
      kind: "http",
      decision: "audit",
      status: 200,
      reason: expect.stringContaining("not on the allowlist"),
    });
  });

  test.each([
    [`private.test:RECORDER`, "private"],
    [`meta.test:RECORDER`, "link-local"],
    [`127.0.0.1:RECORDER`, "IP address"],
    [`allowed.test@evil.test:RECORDER`, "user info"],
  ])("%s is still refused (%s)", async (template, reason) => {
    const recordedBefore = recorded.length;
    const event = await oneEvent(audit, async () => {
      expect(await refusedConnect(audit.running.port, template.replace("RECORDER", String(recorderPort)))).toBe(403);
    });
    expect(recorded.length).toBe(recordedBefore);
    expect(event).toMatchObject({ decision: "refuse", reason: expect.stringContaining(reason) });
  });
});

describe("startup", () => {
  test.each([
    ["a bad CIDR", { deniedCidrs: ["not-a-cidr"] }, "deniedCidrs"],
    ["an IP allow entry", { allow: [{ host: "10.0.0.1" }] }, "IP address"],
    ["an unknown mode", { mode: "permissive" }, "mode"],
  ])("refuses to start with %s, before ready", async (_name, proxy, mention) => {
    const events: GateEvent[] = [];
    await expect(
      startRoutes(
        { version: 1, listen: { host: "127.0.0.1", port: 0 }, routes: [], proxy: proxy as GateConfig["proxy"] },
        {},
        (e) => events.push(e),
      ),
    ).rejects.toThrow(mention);
    expect(events).toEqual([]);
  });
});
