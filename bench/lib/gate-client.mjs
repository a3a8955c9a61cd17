// The benchmark's client, run inside its own container as
// `node /bench/gate-client.mjs '<json options>'`. Every measurement alternates
// direct (TLS to origin.bench:443) and through the gate (CONNECT gate:8080, then
// TLS with servername origin.bench over the tunnel), flipping which goes first
// each round, so drift on a shared machine hits both alike. Both paths use the
// same code: look the name up, connect TCP with noDelay, [CONNECT,] TLS handshake,
// raw HTTP/1.1, so no client library's overhead sits on one side only.
//
// stdout: {"mark": "<phase>"} when a phase starts (the host samples the
// containers' CPU counters then), finally {"result": {...}}.
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { performance } from "node:perf_hooks";
import { connect as tlsConnect } from "node:tls";

const options = JSON.parse(process.argv[2] ?? "{}");
const MB = options.mb ?? 100;
const RUNS = options.runs ?? 5;
const REQUESTS = options.requests ?? 1000;
const ORIGIN = options.origin ?? "origin.bench";
const GATE = options.gate ?? "gate";
const GATE_PORT = options.gatePort ?? 8080;
const STEP_TIMEOUT_MS = 60_000;
const ca = readFileSync("/bench/cert.pem");

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function mark(phase) {
  process.stdout.write(`${JSON.stringify({ mark: phase })}\n`);
  // Lets the host read the counters, and the previous phase's closing sockets settle.
  await sleep(300);
}

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

function tcp(address, port) {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, port, noDelay: true });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Asks the gate for a tunnel on `socket`; resolves once the 200 has arrived. */
function openTunnel(socket) {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const finish = (error) => {
      socket.off("data", onData);
      socket.off("error", finish);
      socket.off("end", onEnd);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(socket);
    };
    const onEnd = () => finish(new Error(`the gate closed the tunnel: ${received.toString("latin1")}`));
    const onData = (chunk) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) {
        if (received.length > 16_384) finish(new Error("the CONNECT answer has no end"));
        return;
      }
      const status = received.subarray(0, received.indexOf("\r\n")).toString("latin1");
      if (!/^HTTP\/1\.[01] 200\b/.test(status)) finish(new Error(`CONNECT refused: ${received.toString("latin1")}`));
      else if (received.length > end + 4)
        finish(new Error("the gate sent bytes into the tunnel before the ClientHello"));
      else finish();
    };
    socket.on("data", onData);
    socket.once("error", finish);
    socket.once("end", onEnd);
    socket.write(`CONNECT ${ORIGIN}:443 HTTP/1.1\r\nHost: ${ORIGIN}:443\r\n\r\n`);
  });
}

function secure(socket) {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ socket, servername: ORIGIN, ca });
    tls.once("secureConnect", () => {
      tls.off("error", reject);
      resolve(tls);
    });
    tls.once("error", reject);
  });
}

/** One GET on an open TLS socket; resolves with the body's length once all of it has arrived. */
function get(tls, path, close) {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    let left = -1;
    let body = 0;
    const finish = (error) => {
      tls.off("data", onData);
      tls.off("error", finish);
      tls.off("close", onClose);
      if (error) reject(error);
      else resolve(body);
    };
    const onClose = () => finish(new Error(`the connection closed mid-response (${body} body bytes)`));
    const onData = (chunk) => {
      if (left < 0) {
        head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end === -1) return;
        const text = head.subarray(0, end).toString("latin1");
        if (!/^HTTP\/1\.1 200\b/.test(text)) return finish(new Error(`unexpected response: ${text.split("\r\n")[0]}`));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(text);
        if (length === null) return finish(new Error("response without content-length"));
        left = Number(length[1]);
        chunk = head.subarray(end + 4);
        head = null;
      }
      body += chunk.length;
      left -= chunk.length;
      if (left <= 0) finish();
    };
    tls.on("data", onData);
    tls.once("error", finish);
    tls.once("close", onClose);
    tls.write(`GET ${path} HTTP/1.1\r\nHost: ${ORIGIN}\r\n${close ? "Connection: close\r\n" : ""}\r\n`);
  });
}

/** A new connection, timed phase by phase; `request` then runs on it. */
async function connection(mode, request) {
  const t0 = performance.now();
  const { address } = await lookup(mode === "gate" ? GATE : ORIGIN, { family: 4 });
  const t1 = performance.now();
  const socket = await tcp(address, mode === "gate" ? GATE_PORT : 443);
  const t2 = performance.now();
  if (mode === "gate") await openTunnel(socket);
  const t3 = performance.now();
  const tls = await secure(socket);
  const t4 = performance.now();
  const phases = { lookup: t1 - t0, tcp: t2 - t1, ...(mode === "gate" ? { connect: t3 - t2 } : {}), tls: t4 - t3 };
  if (request === undefined) return { tls, phases };
  try {
    const bytes = await request(tls);
    const t5 = performance.now();
    return { bytes, total: t5 - t0, phases: { ...phases, request: t5 - t4 } };
  } finally {
    tls.destroy();
  }
}

const order = (round) => (round % 2 === 0 ? ["direct", "gate"] : ["gate", "direct"]);

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const summary = (values) => ({
  p50: quantile(values, 0.5),
  p90: quantile(values, 0.9),
  p99: quantile(values, 0.99),
  mean: values.reduce((a, b) => a + b, 0) / values.length,
  min: Math.min(...values),
  max: Math.max(...values),
  n: values.length,
});

async function downloads(runs, megabytes) {
  const rates = { direct: [], gate: [] };
  for (let round = 0; round < runs; round++) {
    for (const mode of order(round)) {
      const size = Math.round(megabytes * 1e6);
      const run = await withTimeout(
        connection(mode, (tls) => get(tls, `/bytes/${size}`, true)),
        `a ${mode} download`,
      );
      if (run.bytes !== size) throw new Error(`${mode} download got ${run.bytes} of ${size} bytes`);
      rates[mode].push(size / 1e6 / (run.total / 1000));
    }
  }
  return rates;
}

async function newConnections(count) {
  const totals = { direct: [], gate: [] };
  const phases = { direct: {}, gate: {} };
  for (let round = 0; round < count; round++) {
    for (const mode of order(round)) {
      const run = await withTimeout(
        connection(mode, (tls) => get(tls, "/ping", true)),
        `a ${mode} request`,
      );
      totals[mode].push(run.total);
      for (const [phase, ms] of Object.entries(run.phases)) (phases[mode][phase] ??= []).push(ms);
    }
  }
  return { totals, phases };
}

async function reused(count) {
  const open = { direct: (await connection("direct")).tls, gate: (await connection("gate")).tls };
  const totals = { direct: [], gate: [] };
  try {
    for (let round = 0; round < count; round++) {
      for (const mode of order(round)) {
        const t0 = performance.now();
        await withTimeout(get(open[mode], "/ping", false), `a ${mode} request on the open connection`);
        totals[mode].push(performance.now() - t0);
      }
    }
  } finally {
    open.direct.destroy();
    open.gate.destroy();
  }
  return totals;
}

async function lookups(count) {
  const times = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await lookup(ORIGIN, { family: 4 });
    times.push(performance.now() - t0);
  }
  return times;
}

const mapValues = (object, fn) => Object.fromEntries(Object.entries(object).map(([key, value]) => [key, fn(value)]));

async function main() {
  await mark("warmup");
  await downloads(1, Math.min(MB, 10));
  await newConnections(Math.min(100, REQUESTS));
  await reused(Math.min(100, REQUESTS));

  await mark("throughput");
  const rates = await downloads(RUNS, MB);

  await mark("new-connection");
  const fresh = await newConnections(REQUESTS);

  await mark("reused");
  const kept = await reused(REQUESTS);

  await mark("dns");
  const dns = await lookups(Math.min(REQUESTS, 500));

  await mark("done");
  const rate = (values) => ({
    median: quantile(values, 0.5),
    min: Math.min(...values),
    max: Math.max(...values),
    runs: values,
  });
  const result = {
    node: process.version,
    throughput: { direct: rate(rates.direct), gate: rate(rates.gate) },
    newConnection: {
      direct: summary(fresh.totals.direct),
      gate: summary(fresh.totals.gate),
      phasesP50: {
        direct: mapValues(fresh.phases.direct, (v) => quantile(v, 0.5)),
        gate: mapValues(fresh.phases.gate, (v) => quantile(v, 0.5)),
      },
      phasesP99: {
        direct: mapValues(fresh.phases.direct, (v) => quantile(v, 0.99)),
        gate: mapValues(fresh.phases.gate, (v) => quantile(v, 0.99)),
      },
    },
    reused: { direct: summary(kept.direct), gate: summary(kept.gate) },
    dnsLookup: summary(dns),
  };
  process.stdout.write(`${JSON.stringify({ result })}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`client: ${error.stack ?? error}`);
    process.exit(1);
  },
);
