// The gate's credential routes against real loopback servers: an upstream that
// records every request it sees, and an "evil" server that must never see one.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { GATE_HOST_ALIAS, GATE_PORT, type GateConfig, GateConfigSchema, secretEnvName } from "../../src/gate/config.js";
import { hasOpenssl, selfSignedCertificate } from "../support/openssl.js";
import type { GateEvent, GateRouteEvent } from "../../src/gate/events.js";
import { type RunningRoutes, startRoutes } from "../../src/gate/routes.js";

const SECRET = "sk-ant-real-7f3c9d2e1b";
const BEARER_SECRET = "ghp_realtoken_55aa01";
const DOWN_SECRET = "sk-down-real-0c0ffee";
const ALL_SECRETS = [SECRET, BEARER_SECRET, DOWN_SECRET];

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

// State shared by the upstream's handlers and the tests that steer them.
const upstreamSeen: Seen[] = [];
const evilSeen: Seen[] = [];
let releaseSse = deferred();
let sseEnded = false;
let heldRequestClosed = deferred();

let upstreamPort = 0;
let evilPort = 0;
let gate: RunningRoutes;
const events: GateEvent[] = [];
const replies: Reply[] = [];

const upstream = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    upstreamSeen.push({
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    const path = req.url!.split("?")[0]!;
    if (path.endsWith("/sse")) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write('event: one\ndata: {"n":1}\n\n');
      void (async () => {
        await releaseSse.promise;
        await sleep(20);
        res.write('event: two\ndata: {"n":2}\n\n');
        await sleep(20);
        res.write('event: three\ndata: {"n":3}\n\n');
        sseEnded = true;
        res.end();
      })();
    } else if (path.endsWith("/redirect")) {
      res.writeHead(302, { location: `http://127.0.0.1:${evilPort}/stolen` });
      res.end();
    } else if (path.endsWith("/hop")) {
      res.writeHead(200, {
        connection: "x-hop-only",
        "x-hop-only": "1",
        "keep-alive": "timeout=77",
        "x-end-to-end": "kept",
        "content-type": "application/json",
      });
      res.end("{}");
    } else if (path.endsWith("/hold")) {
      // Never answers; the test watches for the gate dropping the request.
      res.on("close", () => heldRequestClosed.resolve());
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
    }
  });
});

const evil = createServer((req, res) => {
  evilSeen.push({ method: req.method!, url: req.url!, headers: req.headers, body: "" });
  res.end("evil");
});

/** Sends exactly `path` as the request target: no client-side normalisation. */
function send(options: {
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string;
}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: gate.port,
        method: options.method ?? "GET",
        path: options.path,
        headers: options.headers,
      },
      (res) => {
        readBody(res).then((body) => {
          const reply = { status: res.statusCode!, headers: res.headers, body };
          replies.push(reply);
          resolve(reply);
        }, reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

function lastSeen(): Seen {
  const seen = upstreamSeen.at(-1);
  if (seen === undefined) throw new Error("upstream saw no request");
  return seen;
}

async function routeEventFor(path: string): Promise<GateRouteEvent> {
  for (let i = 0; i < 100; i++) {
    const found = events.find((e): e is GateRouteEvent => e.event === "route" && e.path === path);
    if (found !== undefined) return found;
    await sleep(10);
  }
  throw new Error(`no route event for ${path}`);
}

beforeAll(async () => {
  upstreamPort = await listen(upstream);
  evilPort = await listen(evil);
  const closed = createServer();
  const downPort = await listen(closed);
  await closeServer(closed);

  const config: GateConfig = {
    version: 1,
    listen: { host: "127.0.0.1", port: 0 },
    routes: [
      {
        name: "anthropic",
        upstream: `http://127.0.0.1:${upstreamPort}/v1`,
        inject: { header: "x-api-key", secretEnv: secretEnvName("anthropic") },
      },
      {
        name: "github-api",
        upstream: `http://127.0.0.1:${upstreamPort}/gh/`,
        inject: { header: "Authorization", secretEnv: secretEnvName("github-api") },
      },
      { name: "plain", upstream: `http://127.0.0.1:${upstreamPort}` },
      {
        name: "down",
        upstream: `http://127.0.0.1:${downPort}`,
        inject: { header: "x-api-key", secretEnv: secretEnvName("down") },
      },
    ],
  };
  const env = {
    GATE_SECRET_ANTHROPIC: SECRET,
    GATE_SECRET_GITHUB_API: `Bearer ${BEARER_SECRET}`,
    GATE_SECRET_DOWN: DOWN_SECRET,
  };
  gate = await startRoutes(config, env, (event) => events.push(event));
});

afterAll(async () => {
  await gate?.close();
  await closeServer(upstream);
  await closeServer(evil);
});

describe("gate config", () => {
  test("names and defaults the runner shares with the gate", () => {
    expect(GATE_PORT).toBe(8080);
    expect(GATE_HOST_ALIAS).toBe("gate");
    // Without the runner's word on its clients the gate serves its own loopback only.
    expect(GateConfigSchema.parse({ version: 1, routes: [] }).listen).toEqual({
      host: "0.0.0.0",
      port: 8080,
      clients: ["127.0.0.0/8", "::1/128"],
    });
  });

  test.each([
    ["anthropic", "GATE_SECRET_ANTHROPIC"],
    ["github-api", "GATE_SECRET_GITHUB_API"],
    ["a-b-2", "GATE_SECRET_A_B_2"],
  ])("secretEnvName(%j) is %s", (route, name) => {
    expect(secretEnvName(route)).toBe(name);
  });

  const route = { name: "anthropic", upstream: "https://api.anthropic.com" };
  test.each([
    [
      "a route with a path prefix and inject",
      {
        version: 1,
        routes: [
          {
            ...route,
            upstream: "https://api.github.com/repos/",
            inject: { header: "authorization", secretEnv: "GATE_SECRET_GH" },
          },
        ],
      },
    ],
    [
      "an http upstream with a port",
      { version: 1, listen: { host: "127.0.0.1", port: 0 }, routes: [{ ...route, upstream: "http://10.0.0.2:8000" }] },
    ],
  ])("accepts %s", (_name, config) => {
    expect(GateConfigSchema.safeParse(config).success).toBe(true);
  });

  test.each([
    ["version 2", { version: 2, routes: [] }, "version"],
    ["an uppercase route name", { version: 1, routes: [{ ...route, name: "Anthropic" }] }, "route name"],
    ["a 41-character route name", { version: 1, routes: [{ ...route, name: "a".repeat(41) }] }, "route name"],
    ["a non-http upstream", { version: 1, routes: [{ ...route, upstream: "ftp://x.test" }] }, "http or https"],
    ["a relative upstream", { version: 1, routes: [{ ...route, upstream: "/v1" }] }, "absolute URL"],
    [
      "credentials in the upstream",
      { version: 1, routes: [{ ...route, upstream: "https://u:p@x.test" }] },
      "credentials",
    ],
    ["a query in the upstream", { version: 1, routes: [{ ...route, upstream: "https://x.test/?a=1" }] }, "query"],
    ["a route name used twice", { version: 1, routes: [route, route] }, "used twice"],
    [
      "injecting into host",
      { version: 1, routes: [{ ...route, inject: { header: "Host", secretEnv: "S" } }] },
      "inject.header",
    ],
    [
      "a header name with a space",
      { version: 1, routes: [{ ...route, inject: { header: "x api", secretEnv: "S" } }] },
      "inject.header",
    ],
    [
      "a bad variable name",
      { version: 1, routes: [{ ...route, inject: { header: "x-api-key", secretEnv: "1-BAD" } }] },
      "secretEnv",
    ],
    ["a secret value in the config", { version: 1, routes: [{ ...route, secret: "sk-x" }] }, "secret"],
    ["a port out of range", { version: 1, listen: { port: 70000 }, routes: [] }, "port"],
  ])("rejects %s", (_name, config, mention) => {
    const result = GateConfigSchema.safeParse(config);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(mention);
  });
});

describe("gate startup", () => {
  const base = { version: 1 as const, listen: { host: "127.0.0.1", port: 0 } };
  const injecting = (secretEnv: string): GateConfig => ({
    ...base,
    routes: [{ name: "needs-key", upstream: "https://api.anthropic.com", inject: { header: "x-api-key", secretEnv } }],
  });

  test.each([
    ["missing", {}],
    ["empty", { GATE_SECRET_NEEDS_KEY: "" }],
  ])("refuses to start when the route's secret is %s", async (_name, env) => {
    const seen: GateEvent[] = [];
    await expect(startRoutes(injecting("GATE_SECRET_NEEDS_KEY"), env, (e) => seen.push(e))).rejects.toThrow(
      /"needs-key".*GATE_SECRET_NEEDS_KEY/,
    );
    expect(seen).toEqual([]);
  });

  test("refuses a secret that cannot be a header value, without echoing it", async () => {
    const value = "sk-line\nbreak-9911";
    const error = await startRoutes(injecting("K"), { K: value }, () => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain("K");
    expect((error as Error).message).not.toContain("break-9911");
  });

  test("rejects without ready when the port is taken", async () => {
    const seen: GateEvent[] = [];
    const config: GateConfig = { ...base, listen: { host: "127.0.0.1", port: gate.port }, routes: [] };
    await expect(startRoutes(config, {}, (e) => seen.push(e))).rejects.toThrow(/EADDRINUSE/);
    expect(seen).toEqual([]);
  });

  test("logs ready with the port and route names once listening", () => {
    expect(events[0]).toEqual({
      event: "ready",
      port: gate.port,
      routes: ["anthropic", "github-api", "plain", "down"],
    });
  });
});

describe("gate routes", () => {
  test("injects the real secret and strips what the client sent to authenticate or identify itself", async () => {
    const reply = await send({
      method: "POST",
      path: "/anthropic/messages?beta=true&x=%2F",
      headers: {
        authorization: "Bearer placeholder",
        "x-api-key": "placeholder-key",
        "proxy-authorization": "Basic cGxhY2Vob2xkZXI=",
        "x-forwarded-for": "10.9.9.9",
        "x-forwarded-host": "evil.test",
        forwarded: "for=10.9.9.9;host=evil.test",
        "x-real-ip": "10.9.9.9",
        cookie: "session=placeholder",
        host: "evil.test",
        "content-type": "application/json",
        "accept-encoding": "gzip, br",
        "anthropic-version": "2023-06-01",
      },
      body: '{"model":"x"}',
    });
    expect(reply.status).toBe(200);
    const seen = lastSeen();
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/v1/messages?beta=true&x=%2F");
    expect(seen.body).toBe('{"model":"x"}');
    expect(seen.headers["x-api-key"]).toBe(SECRET);
    expect(seen.headers.host).toBe(`127.0.0.1:${upstreamPort}`);
    for (const name of [
      "authorization",
      "proxy-authorization",
      "x-forwarded-for",
      "x-forwarded-host",
      "forwarded",
      "x-real-ip",
      "cookie",
    ]) {
      expect(seen.headers[name], name).toBeUndefined();
    }
    expect(JSON.stringify(seen.headers)).not.toMatch(/placeholder|10\.9\.9\.9|evil\.test/);
    expect(seen.headers["accept-encoding"]).toBe("gzip, br");
    expect(seen.headers["anthropic-version"]).toBe("2023-06-01");
  });

  test("replaces the client's authorization with the injected one, whatever its case in the config", async () => {
    await send({ path: "/github-api/repos/x/y", headers: { authorization: "Bearer placeholder" } });
    const seen = lastSeen();
    expect(seen.url).toBe("/gh/repos/x/y");
    expect(seen.headers.authorization).toBe(`Bearer ${BEARER_SECRET}`);
  });

  test("a route without inject forwards no credential at all", async () => {
    await send({ path: "/plain/status", headers: { authorization: "Bearer placeholder", "x-api-key": "placeholder" } });
    const seen = lastSeen();
    expect(seen.url).toBe("/status");
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers["x-api-key"]).toBeUndefined();
  });

  test("drops hop-by-hop headers both ways, including those named in Connection", async () => {
    const reply = await send({
      path: "/anthropic/hop",
      headers: {
        connection: "keep-alive, x-client-hop",
        "x-client-hop": "1",
        te: "trailers",
        "keep-alive": "timeout=9",
        "x-end-to-end": "kept",
      },
    });
    const seen = lastSeen();
    expect(seen.headers["x-client-hop"]).toBeUndefined();
    expect(seen.headers.te).toBeUndefined();
    expect(seen.headers["keep-alive"]).toBeUndefined();
    expect(seen.headers["x-end-to-end"]).toBe("kept");
    expect(reply.headers["x-hop-only"]).toBeUndefined();
    expect(reply.headers["keep-alive"]).not.toBe("timeout=77");
    expect(reply.headers["x-end-to-end"]).toBe("kept");
  });

  test("streams server-sent events to the client while the upstream holds the stream open", async () => {
    releaseSse = deferred();
    sseEnded = false;
    const { res, first } = await new Promise<{ res: IncomingMessage; first: string }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: gate.port, path: "/anthropic/messages/sse" }, (res) => {
        res.once("data", (chunk: Buffer) => {
          res.pause();
          resolve({ res, first: chunk.toString() });
        });
      });
      req.on("error", reject);
      req.end();
    });
    expect(res.headers["content-type"]).toBe("text/event-stream");
    expect(first).toBe('event: one\ndata: {"n":1}\n\n');
    expect(sseEnded).toBe(false);
    releaseSse.resolve();
    const rest = await readBody(res);
    expect(rest).toBe('event: two\ndata: {"n":2}\n\nevent: three\ndata: {"n":3}\n\n');
    expect(sseEnded).toBe(true);
  });

  test("returns a redirect to the client instead of following it", async () => {
    const reply = await send({ path: "/anthropic/redirect" });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe(`http://127.0.0.1:${evilPort}/stolen`);
    await sleep(50);
    expect(evilSeen).toEqual([]);
  });

  test.each([["/"], ["/nope/v1/messages"], ["/anthropic"], ["/ANTHROPIC/messages"], ["/%61nthropic/messages"]])(
    "answers %s with 404 and the route list",
    async (path) => {
      const before = upstreamSeen.length;
      const reply = await send({ path });
      expect(reply.status).toBe(404);
      expect(JSON.parse(reply.body)).toEqual({
        error: "no such route",
        routes: ["anthropic", "github-api", "plain", "down"],
      });
      expect(upstreamSeen.length).toBe(before);
    },
  );

  // EVIL stands for the evil server's address; each target gets a nonce in its
  // query so a request can be traced to whichever server saw it.
  test.each<[string, { status: number } | { upstream: string }]>([
    ["/anthropic/../other", { status: 400 }],
    ["/anthropic/../../EVIL/x", { status: 400 }],
    ["/anthropic/%2e%2e/other", { status: 400 }],
    ["/anthropic/.%2E/other", { status: 400 }],
    ["/anthropic/./messages", { status: 400 }],
    ["/anthropic/x/..", { status: 400 }],
    ["/anthropic/..\\other", { status: 400 }],
    ["/plain/../EVIL", { status: 400 }],
    ["/anthropic//evil.test/x", { upstream: "/v1//evil.test/x" }],
    ["/anthropic//EVIL/x", { upstream: "/v1//EVIL/x" }],
    ["/anthropic/%2F%2Fevil.test", { upstream: "/v1/%2F%2Fevil.test" }],
    ["/anthropic/%2F%2FEVIL/x", { upstream: "/v1/%2F%2FEVIL/x" }],
    ["/anthropic/..%2F..%2FEVIL", { upstream: "/v1/..%2F..%2FEVIL" }],
    ["/anthropic/@EVIL/x", { upstream: "/v1/@EVIL/x" }],
    ["/plain//EVIL/x", { upstream: "//EVIL/x" }],
    ["http://EVIL/anthropic/x", { status: 403 }],
    ["http://evil.test/anthropic/x", { status: 403 }],
    ["//EVIL/anthropic/x", { status: 404 }],
    ["*", { status: 404 }],
  ])("%s reaches only the configured upstream", async (template, expected) => {
    const nonce = `n${Math.random().toString(36).slice(2)}`;
    const evilAddress = `127.0.0.1:${evilPort}`;
    const path = `${template.replaceAll("EVIL", evilAddress)}${template === "*" ? "" : `?nonce=${nonce}`}`;
    const reply = await send({ path, headers: { host: evilAddress } });
    await sleep(20);
    expect(evilSeen).toEqual([]);
    const hits = upstreamSeen.filter((seen) => seen.url.includes(nonce));
    if ("status" in expected) {
      expect(reply.status).toBe(expected.status);
      expect(hits).toEqual([]);
    } else {
      expect(reply.status).toBe(200);
      expect(hits.map((seen) => seen.url)).toEqual([
        `${expected.upstream.replaceAll("EVIL", evilAddress)}?nonce=${nonce}`,
      ]);
      expect(hits[0]!.headers.host).toBe(`127.0.0.1:${upstreamPort}`);
    }
  });

  test("answers 502 when the upstream is unreachable, naming the route but not the secret", async () => {
    const reply = await send({ path: "/down/v1/messages" });
    expect(reply.status).toBe(502);
    const body = JSON.parse(reply.body) as { error: string; route: string; reason: string };
    expect(body.error).toBe("bad gateway");
    expect(body.route).toBe("down");
    expect(body.reason).toContain("ECONNREFUSED");
    expect(events).toContainEqual(expect.objectContaining({ event: "error", route: "down" }));
  });

  test("aborts the upstream request when the client goes away", async () => {
    heldRequestClosed = deferred();
    const before = upstreamSeen.length;
    const req = request({ host: "127.0.0.1", port: gate.port, path: "/anthropic/hold" });
    req.on("error", () => {});
    req.end();
    while (upstreamSeen.length === before) await sleep(10);
    req.destroy();
    await heldRequestClosed.promise;
    const event = await routeEventFor("/anthropic/hold");
    expect(event.status).toBe(499);
  });

  test("logs each request with route, method, path without query, status and byte counts", async () => {
    await send({ method: "POST", path: "/anthropic/logged?secret-looking=query", body: "12345" });
    const event = await routeEventFor("/anthropic/logged");
    expect(event).toEqual({
      event: "route",
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      route: "anthropic",
      method: "POST",
      path: "/anthropic/logged",
      status: 200,
      bytesIn: 5,
      bytesOut: Buffer.byteLength(JSON.stringify({ ok: true })),
      ms: expect.any(Number),
    });
    const unknown = await routeEventFor("/nope/v1/messages");
    expect(unknown).toMatchObject({ route: null, status: 404 });
  });

  // Runs last: every event and reply the earlier tests produced is checked.
  test("no log event and no response body carries a secret", () => {
    expect(events.length).toBeGreaterThan(10);
    expect(replies.length).toBeGreaterThan(10);
    const logged = JSON.stringify(events);
    const answered = JSON.stringify(replies);
    for (const secret of ALL_SECRETS) {
      expect(logged).not.toContain(secret);
      expect(answered).not.toContain(secret);
    }
  });
});

// Trusting a test CA needs tls.setDefaultCACertificates (Node 22.19+); the gate
// itself only ever uses the default CAs. @types/node follows the oldest Node the
// bundles run on (20), which lacks both calls.
const testCa = tls as typeof tls & {
  setDefaultCACertificates?: (certs: string[]) => void;
  getCACertificates: (type: "default") => string[];
};
describe.skipIf(!hasOpenssl() || typeof testCa.setDefaultCACertificates !== "function")(
  "gate routes over https",
  () => {
    const tlsSeen: Seen[] = [];
    const tlsEvents: GateEvent[] = [];
    const servers: Server[] = [];
    let tlsGate: RunningRoutes;

    async function httpsUpstream(identity: { key: string; cert: string }): Promise<number> {
      const server = createHttpsServer(identity, (req, res) => {
        tlsSeen.push({ method: req.method!, url: req.url!, headers: req.headers, body: "" });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: true }));
      });
      servers.push(server);
      return listen(server);
    }

    function get(path: string): Promise<Reply> {
      return new Promise((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: tlsGate.port, path }, (res) => {
          readBody(res).then((body) => resolve({ status: res.statusCode!, headers: res.headers, body }), reject);
        });
        req.on("error", reject);
        req.end();
      });
    }

    beforeAll(async () => {
      const trusted = selfSignedCertificate("/CN=127.0.0.1", "IP:127.0.0.1");
      const untrusted = selfSignedCertificate("/CN=127.0.0.1", "IP:127.0.0.1");
      testCa.setDefaultCACertificates?.([...testCa.getCACertificates("default"), trusted.cert]);
      const trustedPort = await httpsUpstream(trusted);
      const untrustedPort = await httpsUpstream(untrusted);
      tlsGate = await startRoutes(
        {
          version: 1,
          listen: { host: "127.0.0.1", port: 0 },
          routes: [
            {
              name: "trusted",
              upstream: `https://127.0.0.1:${trustedPort}/api`,
              inject: { header: "x-api-key", secretEnv: "S" },
            },
            {
              name: "untrusted",
              upstream: `https://127.0.0.1:${untrustedPort}`,
              inject: { header: "x-api-key", secretEnv: "S" },
            },
          ],
        },
        { S: SECRET },
        (event) => tlsEvents.push(event),
      );
    });

    afterAll(async () => {
      await tlsGate?.close();
      for (const server of servers) await closeServer(server);
    });

    test("forwards over TLS to a trusted upstream with the secret and the upstream's host", async () => {
      const reply = await get("/trusted/v1/messages?x=1");
      expect(reply.status).toBe(200);
      expect(tlsSeen).toHaveLength(1);
      expect(tlsSeen[0]!.url).toBe("/api/v1/messages?x=1");
      expect(tlsSeen[0]!.headers["x-api-key"]).toBe(SECRET);
    });

    test("refuses an upstream whose certificate the default CAs do not trust", async () => {
      const reply = await get("/untrusted/v1/messages");
      expect(reply.status).toBe(502);
      expect(JSON.parse(reply.body).reason).toMatch(/certificate/i);
      expect(reply.body).not.toContain(SECRET);
      expect(tlsSeen).toHaveLength(1);
      expect(JSON.stringify(tlsEvents)).not.toContain(SECRET);
    });
  },
);
