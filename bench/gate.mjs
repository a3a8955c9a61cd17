// Gate benchmark: throughput of a large download and added latency per request,
// through the gate's CONNECT tunnel vs straight to the origin, from the same client
// container on the same Docker network, in one run. Prints a table and one JSON
// line; asserts nothing. Usage: node bench/gate.mjs [--mb 100] [--runs 5] [--requests 1000]
// Needs a Docker engine, the image bottle-test/node:24 (test/images/build.sh), openssl,
// and a built dist/gate/index.js.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { mb: { type: "string", default: "100" }, runs: { type: "string", default: "5" }, requests: { type: "string", default: "1000" } } });
const MB = Number(values.mb), RUNS = Number(values.runs), REQUESTS = Number(values.requests);
const IMAGE = process.env.BENCH_IMAGE ?? "bottle-test/node:24";
const ROOT = resolve(import.meta.dirname, "..");
const NET = "bottle-bench";
const LABEL = "bottle-bench=1";
const docker = (...args) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const quiet = (...args) => { try { docker(...args); } catch {} };

const ORIGIN = `
const https = require("node:https"), fs = require("node:fs");
const chunk = Buffer.alloc(1 << 20, 120);
https.createServer({ key: fs.readFileSync("/bench/key.pem"), cert: fs.readFileSync("/bench/cert.pem") }, (req, res) => {
  const n = Number((req.url.match(/^\\/bytes\\/(\\d+)/) || [])[1] || 0);
  if (!n) { res.writeHead(200, { "content-length": 4 }); return res.end("pong"); }
  res.writeHead(200, { "content-length": n });
  let left = n;
  const pump = () => { while (left > 0) { const part = left >= chunk.length ? chunk : chunk.subarray(0, left); left -= part.length; if (!res.write(part)) return res.once("drain", pump); } res.end(); };
  pump();
}).listen(443, () => console.log("origin ready"));
`;

const CLIENT = `
const https = require("node:https"), net = require("node:net"), tls = require("node:tls"), fs = require("node:fs");
const ca = fs.readFileSync("/bench/cert.pem");
const [MB, RUNS, REQUESTS] = process.argv.slice(2).map(Number);
function tunnel() {
  return new Promise((resolve, reject) => {
    const s = net.connect(8080, "gate", () => s.write("CONNECT origin.bench:443 HTTP/1.1\\r\\nHost: origin.bench:443\\r\\n\\r\\n"));
    s.setNoDelay(true);
    s.once("data", (d) => String(d).startsWith("HTTP/1.1 200") ? resolve(tls.connect({ socket: s, servername: "origin.bench", ca })) : reject(new Error(String(d))));
    s.once("error", reject);
  });
}
async function get(path, viaGate, agent) {
  // agent false: a new connection (and TLS handshake) each time, like the tunnel; Node's global agent would keep one alive.
  const options = { host: "origin.bench", port: 443, path, ca, servername: "origin.bench", agent: agent ?? false };
  if (viaGate && !agent) { const socket = await tunnel(); options.createConnection = () => socket; options.agent = false; }
  return new Promise((resolve, reject) => {
    const req = https.get(options, (res) => { let n = 0; res.on("data", (c) => (n += c.length)); res.on("end", () => resolve(n)); });
    req.on("error", reject);
  });
}
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
(async () => {
  const out = { direct: { mbps: [], ms: [], keepMs: [] }, gate: { mbps: [], ms: [], keepMs: [] } };
  for (let i = 0; i < RUNS; i++) for (const mode of ["direct", "gate"]) {
    const t = process.hrtime.bigint();
    const n = await get("/bytes/" + MB * 1048576, mode === "gate");
    out[mode].mbps.push(n / 1048576 / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  for (let i = 0; i < REQUESTS; i++) for (const mode of ["direct", "gate"]) {
    const t = process.hrtime.bigint();
    await get("/ping", mode === "gate");
    out[mode].ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  // One connection reused: isolates the gate's per-byte cost from its per-connection cost.
  const direct = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const socket = await tunnel();
  const viaGate = new https.Agent({ keepAlive: true, maxSockets: 1 });
  viaGate.createConnection = () => socket;
  for (let i = 0; i < REQUESTS; i++) for (const [mode, agent] of [["direct", direct], ["gate", viaGate]]) {
    const t = process.hrtime.bigint();
    await get("/ping", false, agent);
    out[mode].keepMs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const stats = (xs) => ({ median: q(xs, 0.5), min: Math.min(...xs), max: Math.max(...xs) });
  console.log(JSON.stringify({
    throughput: { direct: stats(out.direct.mbps), gate: stats(out.gate.mbps) },
    latency: { direct: { p50: q(out.direct.ms, 0.5), p99: q(out.direct.ms, 0.99) }, gate: { p50: q(out.gate.ms, 0.5), p99: q(out.gate.ms, 0.99) } },
    reused: { direct: { p50: q(out.direct.keepMs, 0.5), p99: q(out.direct.keepMs, 0.99) }, gate: { p50: q(out.gate.keepMs, 0.5), p99: q(out.gate.keepMs, 0.99) } },
  }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

function cleanup() {
  for (const id of docker("ps", "-aq", "--filter", `label=${LABEL}`).split("\n").filter(Boolean)) quiet("rm", "-f", id);
  quiet("network", "rm", NET);
}

async function main() {
  cleanup();
  const dir = mkdtempSync(join(tmpdir(), "bench-gate-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=origin.bench", "-addext", "subjectAltName=DNS:origin.bench", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" });
  writeFileSync(join(dir, "origin.js"), ORIGIN);
  writeFileSync(join(dir, "client.js"), CLIENT);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ version: 1, listen: { host: "0.0.0.0", port: 8080 }, proxy: { allow: [{ host: "origin.bench", port: 443 }] }, routes: [] }));
  docker("network", "create", "--label", LABEL, "--subnet", "198.18.1.0/24", NET);
  const create = (name, extra, cmd) => docker("create", "--name", name, "--label", LABEL, "--network", NET, ...extra, IMAGE, ...cmd);
  create("bottle-bench-origin", ["--network-alias", "origin.bench"], ["node", "/bench/origin.js"]);
  create("bottle-bench-gate", ["--network-alias", "gate", "--user", "65534:65534", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--memory", "256m", "--pids-limit", "128"], ["node", "/opt/gate/index.mjs", "/opt/gate/config.json"]);
  create("bottle-bench-client", [], ["node", "/bench/client.js", String(MB), String(RUNS), String(REQUESTS)]);
  for (const c of ["origin", "client"]) docker("cp", dir, `bottle-bench-${c}:/bench`);
  // docker cp creates /opt/gate from a folder, even in a container that has not started.
  const gateDir = join(dir, "gate");
  execFileSync("mkdir", ["-p", gateDir]);
  execFileSync("cp", [join(ROOT, "dist/gate/index.js"), join(gateDir, "index.mjs")]);
  execFileSync("cp", [join(dir, "config.json"), join(gateDir, "config.json")]);
  execFileSync("chmod", ["-R", "a+rX", gateDir]);
  docker("cp", gateDir, "bottle-bench-gate:/opt/gate");
  docker("start", "bottle-bench-origin", "bottle-bench-gate");
  await new Promise((r) => setTimeout(r, 1500));
  let peak = 0;
  const sampler = setInterval(() => {
    try {
      const used = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", "bottle-bench-gate").split("/")[0].trim();
      const m = /([\d.]+)\s*([KMG]i?B)/.exec(used);
      if (m) peak = Math.max(peak, Number(m[1]) * { KiB: 1 / 1024, MiB: 1, GiB: 1024, KB: 1 / 1000, MB: 1, GB: 1000 }[m[2]]);
    } catch {}
  }, 1000);
  const started = Date.now();
  const output = await new Promise((resolveRun, reject) => {
    const p = spawn("docker", ["start", "-a", "bottle-bench-client"]);
    let text = "";
    p.stdout.on("data", (c) => (text += c));
    p.stderr.on("data", (c) => process.stderr.write(c));
    p.on("close", (code) => (code === 0 ? resolveRun(text) : reject(new Error(`client exited ${code}`))));
  });
  clearInterval(sampler);
  const r = JSON.parse(output.trim().split("\n").pop());
  const f = (n) => n.toFixed(2);
  const ratio = r.throughput.gate.median / r.throughput.direct.median;
  const rows = [
    ["", "direct", "through gate", "gate vs direct"],
    [`${MB} MB download, MB/s (median of ${RUNS}; min-max)`, `${f(r.throughput.direct.median)} (${f(r.throughput.direct.min)}-${f(r.throughput.direct.max)})`, `${f(r.throughput.gate.median)} (${f(r.throughput.gate.min)}-${f(r.throughput.gate.max)})`, `${(ratio * 100).toFixed(1)} % (target >= 90 %)`],
    [`new connection per request, ms p50 (${REQUESTS})`, f(r.latency.direct.p50), f(r.latency.gate.p50), `+${f(r.latency.gate.p50 - r.latency.direct.p50)} ms (target < 1 ms)`],
    [`new connection per request, ms p99`, f(r.latency.direct.p99), f(r.latency.gate.p99), `+${f(r.latency.gate.p99 - r.latency.direct.p99)} ms`],
    [`one reused connection, ms p50`, f(r.reused.direct.p50), f(r.reused.gate.p50), `+${f(r.reused.gate.p50 - r.reused.direct.p50)} ms`],
    [`one reused connection, ms p99`, f(r.reused.direct.p99), f(r.reused.gate.p99), `+${f(r.reused.gate.p99 - r.reused.direct.p99)} ms`],
    [`gate peak memory (docker stats, 1 s samples)`, "", `${peak.toFixed(1)} MiB`, "(target <= 40 MB)"],
  ];
  const width = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  console.log(`gate benchmark: node ${docker("run", "--rm", IMAGE, "node", "--version")}, docker ${docker("version", "--format", "{{.Server.Version}}")}, ${cpus().length} cores, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(width[i])).join("  "));
  console.log(JSON.stringify({ bench: "gate", mb: MB, runs: RUNS, requests: REQUESTS, ...r, throughputRatio: ratio, gatePeakMiB: peak }));
}

main()
  .catch((error) => {
    console.error(`bench/gate: ${error.message}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
process.on("SIGINT", () => { cleanup(); process.exit(130); });
