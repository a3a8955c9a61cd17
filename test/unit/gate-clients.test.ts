/**
 * Who may use the gate: its listener serves clients on the networks `listen.clients`
 * names (the runner names the bottle's internal network) and closes every other
 * connection unanswered, before a byte of it is parsed; the runner keeps and counts
 * what the gate refused.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { describeStrangers, EgressLog } from "../../src/bottle/egress-log.js";
import { insideNetworks, parseCidr } from "../../src/gate/address.js";
import { LOGGED_REFUSALS } from "../../src/gate/clients.js";
import { type GateConfig, GateConfigSchema } from "../../src/gate/config.js";
import type { GateEvent } from "../../src/gate/events.js";
import { startRoutes } from "../../src/gate/routes.js";

const KEY = "sk-ant-api03-clients-test-key";
let upstream: Server;
let upstreamPort = 0;
const upstreamSaw: string[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    upstreamSaw.push(`${req.url} ${String(req.headers["x-api-key"])}`);
    res.end("answered");
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => upstream.close(resolve));
});

/** A gate on 127.0.0.1 taking clients from `clients` (the default when undefined), with one injecting route. */
async function gateFor(clients: string[] | undefined) {
  const events: GateEvent[] = [];
  const config: GateConfig = {
    version: 1,
    listen: { host: "127.0.0.1", port: 0, ...(clients ? { clients } : {}) },
    routes: [
      {
        name: "model",
        upstream: `http://127.0.0.1:${upstreamPort}`,
        inject: { header: "x-api-key", secretEnv: "GATE_SECRET_MODEL" },
      },
    ],
  };
  const gate = await startRoutes(config, { GATE_SECRET_MODEL: KEY }, (event) => events.push(event));
  return { gate, events };
}

/** Sends one request on a raw socket; resolves with every byte that came back before the socket closed. */
function ask(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(`GET /model${path} HTTP/1.1\r\nhost: gate\r\nconnection: close\r\n\r\n`),
    );
    let answer = "";
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("close", () => resolve(answer));
    socket.on("error", (error: NodeJS.ErrnoException) =>
      error.code === "ECONNRESET" ? resolve(answer) : reject(error),
    );
  });
}

describe("the gate's clients", () => {
  test("a connection from outside listen.clients is closed unanswered, never reaches a route, and is logged", async () => {
    const { gate, events } = await gateFor(["10.0.0.0/8"]);
    try {
      expect(await ask(gate.port, "/outsider")).toBe("");
      expect(upstreamSaw.filter((line) => line.includes("outsider"))).toEqual([]);
      expect(events.filter((e) => e.event === "client-refused")).toEqual([
        { event: "client-refused", time: expect.any(String), from: "127.0.0.1", to: "127.0.0.1" },
      ]);
      expect(events.filter((e) => e.event === "route")).toEqual([]);
    } finally {
      await gate.close();
    }
  });

  test("past the first hundred, refused connections are counted, not logged one by one; the count at close", async () => {
    const { gate, events } = await gateFor(["10.0.0.0/8"]);
    for (let i = 0; i < LOGGED_REFUSALS + 5; i += 1) expect(await ask(gate.port, `/flood-${i}`)).toBe("");
    const refused = () => events.filter((e) => e.event === "client-refused");
    expect(refused()).toHaveLength(LOGGED_REFUSALS);
    await gate.close();
    expect(refused()).toHaveLength(LOGGED_REFUSALS + 1);
    expect(refused().at(-1)).toEqual({ event: "client-refused", time: expect.any(String), more: 5 });
    expect(upstreamSaw.filter((line) => line.includes("flood"))).toEqual([]);
  });

  test("a client inside listen.clients is served, with the credential injected", async () => {
    const { gate, events } = await gateFor(["10.0.0.0/8", "127.0.0.0/8"]);
    try {
      expect(await ask(gate.port, "/insider")).toMatch(/^HTTP\/1\.1 200 [\s\S]*answered$/);
      expect(upstreamSaw).toContain(`/insider ${KEY}`);
      expect(events.filter((e) => e.event === "client-refused")).toEqual([]);
    } finally {
      await gate.close();
    }
  });

  test("without the runner's word the gate serves its own loopback only", async () => {
    const { gate } = await gateFor(undefined);
    try {
      expect(await ask(gate.port, "/loopback")).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      await gate.close();
    }
  });

  test.each([
    ["a list without a network", [], "listen.clients must name at least one network"],
    ["an address that is not a network", ["10.0.0.1"], 'listen.clients entry "10.0.0.1" is not a network'],
    ["a word", ["everyone"], 'listen.clients entry "everyone" is not a network; write it like 172.18.0.0/16'],
  ])("listen.clients refuses %s, naming the field", (_name, clients, mention) => {
    const result = GateConfigSchema.safeParse({ version: 1, routes: [], listen: { clients } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message).join("\n")).toContain(mention);
  });

  test.each([
    ["10.1.2.3", true],
    ["::ffff:10.1.2.3", true],
    ["::ffff:a01:203", true],
    ["172.17.0.2", false],
    ["::1", false],
    ["not an address", false],
    ["", false],
  ])("%j inside 10.0.0.0/8: %s", (address, inside) => {
    expect(insideNetworks(address, [parseCidr("10.0.0.0/8")!])).toBe(inside);
  });
});

describe("the runner's record of refused clients", () => {
  test("each goes into egress.jsonl, counted by address, and the run ends with a warning naming them", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "egress-log-")), "egress.jsonl");
    const log = new EgressLog(path);
    const refused = (from: string) =>
      JSON.stringify({ event: "client-refused", time: "2026-01-01T00:00:00.000Z", from, to: "172.17.0.3" });
    log.accept(refused("172.17.0.5"));
    log.accept(refused("172.17.0.5"));
    log.accept(refused("172.17.0.9"));
    log.accept(JSON.stringify({ event: "client-refused", time: "2026-01-01T00:00:01.000Z", more: 40 }));
    log.accept(JSON.stringify({ event: "ready", port: 8080, routes: [] }));
    await log.close();
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(4);
    expect(log.strangers).toEqual({
      "172.17.0.5": 2,
      "172.17.0.9": 1,
      "more addresses (counted, not logged)": 40,
    });
    expect(log.summary).toEqual({ reached: {}, refused: {} });
    expect(describeStrangers(log.strangers)).toBe(
      "the gate refused 43 connection(s) from outside the bottle, from 172.17.0.5 (2), 172.17.0.9 (1), more " +
        "addresses (counted, not logged) (40): something on its way out tried to use it; see egress.jsonl",
    );
    expect(describeStrangers({})).toBeUndefined();
  });
});
