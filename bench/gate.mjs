#!/usr/bin/env node
// Gate benchmark: what the gate's forward proxy costs a bottle, measured against
// going straight to the origin in the same run, from the same client.
//
//   node bench/gate.mjs [--runs 5] [--mb 100] [--requests 1000] [--json FILE]
//
// Three containers on one labelled Docker network (198.18.1.0/24, names resolved by
// Docker's embedded DNS):
//   origin  bottle-test/node:24, HTTPS on 443 for origin.bench (self-signed,
//           bench/lib/gate-origin.mjs): /bytes/<n> from memory, /ping tiny.
//   gate    dist/gate/index.js run as the runner runs it: image
//           $CLAUDE_BOTTLE_GATE_IMAGE (default bottle-test/node:24), user 65534,
//           --cap-drop ALL, no-new-privileges, 256 MiB (no swap), 128 pids, the
//           program and its config put in as a root-owned 0444 archive at
//           /opt/claude-bottle-gate, ready when it prints {"event":"ready"}.
//           Config: proxy.allow [{origin.bench, 443}], enforce mode, and two
//           deniedCidrs standing in for the bottle's own networks (the runner adds
//           those; here the origin shares the gate's network, so they cannot be
//           the real one). Every tunnel goes through the allowlist, the
//           resolve-once address check and the SNI check.
//   client  bottle-test/node:24 running bench/lib/gate-client.mjs: direct vs
//           through-the-gate, interleaved, same code on both paths.
//
// Prints a plain-text table and one JSON line ({"bench":"gate", ...}); with
// --json FILE also writes that object to FILE, with each download's MB/s added
// (throughputMBps.<path>.runs, direct and gate paired run by run). Asserts
// nothing. Everything it creates carries the label bottle-bench.gate=<run> and is
// removed at the end, on failure and on Ctrl-C. Needs the docker CLI, openssl,
// the image bottle-test/node:24 (test/images/build.sh) and a built dist/gate.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { docker, quietly, round, sleep, table } from "./lib/harness.mjs";
import { tarFiles } from "./lib/tar.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "..");

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    mb: { type: "string", default: "100" },
    requests: { type: "string", default: "1000" },
    json: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(
    "usage: node bench/gate.mjs [--runs N (downloads per path, 5)] [--mb N (download size, 100)] [--requests N (per path and kind, 1000)] [--json FILE]",
  );
  process.exit(0);
}
function positive(name, text, integer = true) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    console.error(
      `bench/gate: --${name} must be a positive ${integer ? "whole " : ""}number, not ${JSON.stringify(text)}`,
    );
    process.exit(2);
  }
  return value;
}
const RUNS = positive("runs", args.runs);
const MB = positive("mb", args.mb, false);
const REQUESTS = positive("requests", args.requests);

const IMAGE = process.env.BENCH_IMAGE ?? "bottle-test/node:24";
const GATE_IMAGE = process.env.CLAUDE_BOTTLE_GATE_IMAGE ?? IMAGE;
const SUBNET = "198.18.1.0/24";
const RUN_ID = `${process.pid}-${randomBytes(3).toString("hex")}`;
const LABEL = `bottle-bench.gate=${RUN_ID}`;
const NET = `bottle-bench-gate-${RUN_ID}`;
const NAMES = { origin: `${NET}-origin`, gate: `${NET}-gate`, client: `${NET}-client` };
const GATE_DIR = "opt/claude-bottle-gate";
const CLIENT_TIMEOUT_MS = 15 * 60_000;

// ---------------------------------------------------------------- plumbing

const children = new Set();
function start(command, argv) {
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}
function lines(stream, onLine) {
  let rest = "";
  stream.setEncoding("utf8");
  stream.on("data", (text) => {
    rest += text;
    for (let end = rest.indexOf("\n"); end !== -1; end = rest.indexOf("\n")) {
      onLine(rest.slice(0, end).replace(/\r$/, ""));
      rest = rest.slice(end + 1);
    }
  });
}
const parseJson = (line) => quietly(() => JSON.parse(line));

let workDir;
let cleanedUp = false;
/** Removes everything this run created: synchronous, so a signal handler can call it. */
function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  // SIGKILL: `docker stats` ignores SIGTERM and SIGINT; killing a CLI never touches a container.
  for (const child of children) quietly(() => child.kill("SIGKILL"));
  const containers =
    quietly(() =>
      docker(["ps", "-aq", "--filter", `label=${LABEL}`])
        .split("\n")
        .filter(Boolean),
    ) ?? [];
  if (containers.length > 0) quietly(() => docker(["rm", "-f", "-v", ...containers]));
  const networks =
    quietly(() =>
      docker(["network", "ls", "-q", "--filter", `label=${LABEL}`])
        .split("\n")
        .filter(Boolean),
    ) ?? [];
  for (const network of networks) quietly(() => docker(["network", "rm", network]));
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
}
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
]) {
  process.once(signal, () => {
    console.error(`\nbench/gate: ${signal}, removing the benchmark's containers and network`);
    cleanup();
    process.exit(code);
  });
}

/** Follows a container's stdout; `ready()` settles on its {"event":"ready"} line (or fatal/exit/timeout). */
function follow(name, onEvent = () => {}) {
  const child = start("docker", ["logs", "-f", name]);
  let stderr = "";
  let settle;
  const ready = new Promise((resolveReady, rejectReady) => {
    settle = { resolve: resolveReady, reject: rejectReady };
  });
  let fatal;
  lines(child.stdout, (line) => {
    const event = parseJson(line);
    if (event?.event === "ready") settle.resolve(event);
    if (event?.event === "fatal") fatal = event.reason;
    if (event !== undefined) onEvent(event);
  });
  child.stderr.setEncoding("utf8").on("data", (text) => (stderr = (stderr + text).slice(-4000)));
  child.once("exit", () =>
    settle.reject(new Error(`${name} exited before it was ready${fatal ? `: ${fatal}` : ""}\n${stderr.trim()}`)),
  );
  return {
    ready: (timeoutMs) =>
      Promise.race([
        ready,
        sleep(timeoutMs).then(() => {
          throw new Error(`${name} printed no ready line within ${timeoutMs / 1000} s\n${stderr.trim()}`);
        }),
      ]),
    stop: () => child.kill("SIGKILL"),
  };
}

// Host-side counters of a container's cgroup (cgroup v1 or v2, cgroupfs or systemd driver).
function cgroupFile(id, controllers, file) {
  const candidates = [];
  for (const controller of controllers) {
    candidates.push(
      `/sys/fs/cgroup/${controller}/docker/${id}/${file}`,
      `/sys/fs/cgroup/${controller}/system.slice/docker-${id}.scope/${file}`,
    );
  }
  candidates.push(`/sys/fs/cgroup/docker/${id}/${file}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/${file}`);
  return candidates.find((path) => existsSync(path));
}
const readText = (path) => (path === undefined ? undefined : quietly(() => readFileSync(path, "utf8")));

/** CPU time the container has used, in ms, or undefined when the host cannot see its cgroup. */
function cpuMs(id) {
  const v1 = readText(cgroupFile(id, ["cpuacct", "cpu,cpuacct"], "cpuacct.usage"));
  if (v1 !== undefined) return Number(v1) / 1e6;
  const v2 = /usage_usec (\d+)/.exec(readText(cgroupFile(id, [], "cpu.stat")) ?? "");
  return v2 ? Number(v2[1]) / 1000 : undefined;
}
/** CPU time split into user and kernel (system) time, in ms: cgroup v1 counts it in 10 ms ticks. */
function cpuSplitMs(id) {
  const v1 = readText(cgroupFile(id, ["cpuacct", "cpu,cpuacct"], "cpuacct.stat"));
  const v2 = v1 === undefined ? readText(cgroupFile(id, [], "cpu.stat")) : undefined;
  const field = (text, key, scale) => {
    const match = new RegExp(`^${key} (\\d+)$`, "m").exec(text ?? "");
    return match ? Number(match[1]) * scale : undefined;
  };
  if (v1 !== undefined) return { user: field(v1, "user", 10), system: field(v1, "system", 10) };
  return { user: field(v2, "user_usec", 1e-3), system: field(v2, "system_usec", 1e-3) };
}
/** The cgroup's peak memory charge (Node heap and RSS plus page cache), in MiB. */
function cgroupPeakMiB(id) {
  const text =
    readText(cgroupFile(id, ["memory"], "memory.max_usage_in_bytes")) ?? readText(cgroupFile(id, [], "memory.peak"));
  return text === undefined ? undefined : Number(text) / 2 ** 20;
}
/**
 * The container's main process, in MiB: VmHWM (peak RSS), VmRSS, and RSS split into
 * anonymous (heap, stacks: the gate's own) and file-backed (mostly the node binary's
 * pages, shared with every container running the same image).
 */
function processMemory(name, pid) {
  const status = readText(`/proc/${pid}/status`) ?? quietly(() => docker(["exec", name, "cat", "/proc/1/status"]));
  const field = (key) => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status ?? "");
    return match ? Number(match[1]) / 1024 : undefined;
  };
  return { hwm: field("VmHWM"), rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
}
/** Samples `docker stats` for `name` (about once a second) until stopped; `peak` in MiB. */
function statsSampler(name) {
  const child = start("docker", ["stats", "--format", "{{.MemUsage}}", name]);
  const sampler = { peak: undefined, samples: 0, stop: () => child.kill("SIGKILL") };
  const unit = {
    B: 2 ** -20,
    KiB: 2 ** -10,
    MiB: 1,
    GiB: 2 ** 10,
    kB: 1e3 / 2 ** 20,
    KB: 1e3 / 2 ** 20,
    MB: 1e6 / 2 ** 20,
    GB: 1e9 / 2 ** 20,
  };
  child.stdout.setEncoding("utf8").on("data", (text) => {
    for (const match of text.matchAll(/([\d.]+)\s*(B|KiB|MiB|GiB|kB|KB|MB|GB)\s*\//g)) {
      const mib = Number(match[1]) * unit[match[2]];
      sampler.samples += 1;
      sampler.peak = Math.max(sampler.peak ?? 0, mib);
    }
  });
  child.stderr.resume();
  return sampler;
}

// ---------------------------------------------------------------- setup

function checkPrerequisites() {
  const program = join(ROOT, "dist/gate/index.js");
  if (!existsSync(program)) throw new Error(`${program} is missing; run npm run build first`);
  for (const image of new Set([IMAGE, GATE_IMAGE])) {
    if (quietly(() => docker(["image", "inspect", "--format", "{{.Id}}", image])) === undefined) {
      throw new Error(
        `the image ${image} is not on this machine (nothing is pulled); build it with test/images/build.sh`,
      );
    }
  }
  execFileSync("openssl", ["version"], { stdio: "ignore" });
  return program;
}

function makeCertificate(dir) {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=origin.bench",
      "-addext",
      "subjectAltName=DNS:origin.bench",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
}

function create(name, image, extra, command) {
  return docker(["create", "--name", name, "--label", LABEL, "--network", NET, ...extra, image, ...command]);
}
/** Unpacks `files` at / in the container: root-owned, with the archive's modes, as the runner's putArchive does. */
function put(name, files) {
  docker(["cp", "-", `${name}:/`], tarFiles(files));
}

// ---------------------------------------------------------------- report

const ms = (value) => (value === undefined ? "n/a" : value.toFixed(2));
const signed = (value) => (value === undefined ? "n/a" : `${value >= 0 ? "+" : ""}${value.toFixed(2)} ms`);
const fixed = (value, digits) => (value === undefined ? "n/a" : value.toFixed(digits));
const percent = (value) => (value === undefined ? "n/a" : `${(value * 100).toFixed(0)} %`);
const mib = (value) => (value === undefined ? "n/a" : `${value.toFixed(1)} MiB`);

// ---------------------------------------------------------------- main

async function main() {
  const started = Date.now();
  // What else the machine was doing: the three containers share its cores with it.
  const loadBefore = loadavg().map((value) => round(value, 2));
  const program = checkPrerequisites();
  workDir = mkdtempSync(join(tmpdir(), "bench-gate-"));
  const { key, cert } = makeCertificate(workDir);
  const engine = docker(["version", "--format", "{{.Server.Version}}"]);
  const info = JSON.parse(docker(["info", "--format", "{{json .}}"]));

  docker(["network", "create", "--label", LABEL, "--subnet", SUBNET, NET]);

  create(NAMES.origin, IMAGE, ["--network-alias", "origin.bench"], ["node", "/bench/gate-origin.mjs"]);
  put(NAMES.origin, [
    { name: "bench/gate-origin.mjs", content: readFileSync(join(HERE, "lib/gate-origin.mjs")), mode: 0o444 },
    { name: "bench/cert.pem", content: cert, mode: 0o444 },
    { name: "bench/key.pem", content: key, mode: 0o400 },
  ]);

  const gateConfig = {
    version: 1,
    // Its clients are on the bench network, as a bottle's are on its internal one.
    listen: { host: "0.0.0.0", port: 8080, clients: [SUBNET] },
    proxy: {
      mode: "enforce",
      allow: [{ host: "origin.bench", port: 443 }],
      deniedCidrs: ["198.19.0.0/24", "198.19.1.0/24"],
    },
    routes: [],
  };
  const gateId = create(
    NAMES.gate,
    GATE_IMAGE,
    [
      "--label",
      "claude-bottle.role=gate",
      "--network-alias",
      "gate",
      "--user",
      "65534:65534",
      "--cap-drop",
      "ALL",
      "--security-opt",
      "no-new-privileges",
      "--memory",
      "256m",
      "--memory-swap",
      "256m",
      "--pids-limit",
      "128",
    ],
    ["node", `/${GATE_DIR}/gate.mjs`, `/${GATE_DIR}/config.json`],
  );
  put(NAMES.gate, [
    { name: `${GATE_DIR}/gate.mjs`, content: readFileSync(program), mode: 0o444 },
    { name: `${GATE_DIR}/config.json`, content: JSON.stringify(gateConfig), mode: 0o444 },
  ]);

  const clientOptions = {
    mb: MB,
    runs: RUNS,
    requests: REQUESTS,
    origin: "origin.bench",
    gate: "gate",
    gatePort: 8080,
  };
  create(NAMES.client, IMAGE, [], ["node", "/bench/gate-client.mjs", JSON.stringify(clientOptions)]);
  put(NAMES.client, [
    { name: "bench/gate-client.mjs", content: readFileSync(join(HERE, "lib/gate-client.mjs")), mode: 0o444 },
    { name: "bench/cert.pem", content: cert, mode: 0o444 },
  ]);

  docker(["start", NAMES.origin]);
  const origin = follow(NAMES.origin);
  await origin.ready(30_000);
  const originId = docker(["inspect", "--format", "{{.Id}}", NAMES.origin]);

  const egress = [];
  docker(["start", NAMES.gate]);
  const gate = follow(NAMES.gate, (event) => {
    if (event.event === "egress") egress.push(event);
  });
  await gate.ready(30_000);
  const gatePid = docker(["inspect", "--format", "{{.State.Pid}}", NAMES.gate]);
  await sleep(500);
  const idle = processMemory(NAMES.gate, gatePid);
  const stats = statsSampler(NAMES.gate);

  const clientId = docker(["inspect", "--format", "{{.Id}}", NAMES.client]);
  const cpu = {};
  const snapshot = () => {
    const split = cpuSplitMs(gateId);
    return {
      gate: cpuMs(gateId),
      gateUser: split.user,
      gateSystem: split.system,
      origin: cpuMs(originId),
      client: cpuMs(clientId),
    };
  };
  const order = [];
  let result;
  await new Promise((resolveRun, rejectRun) => {
    const client = start("docker", ["start", "-a", NAMES.client]);
    const timer = setTimeout(() => {
      client.kill("SIGKILL");
      rejectRun(new Error(`the client did not finish within ${CLIENT_TIMEOUT_MS / 60_000} minutes`));
    }, CLIENT_TIMEOUT_MS);
    lines(client.stdout, (line) => {
      const message = parseJson(line);
      if (message?.mark !== undefined) {
        cpu[message.mark] = snapshot();
        order.push(message.mark);
        if (process.stderr.isTTY) process.stderr.write(`bench/gate: ${message.mark}\n`);
      } else if (message?.result !== undefined) result = message.result;
      else if (line.trim() !== "") process.stderr.write(`client: ${line}\n`);
    });
    client.stderr.setEncoding("utf8").on("data", (text) => process.stderr.write(text));
    client.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0 && result !== undefined) resolveRun();
      else rejectRun(new Error(`the client exited with ${code} before reporting`));
    });
  });

  // The last tunnels' egress events are written when they close.
  await sleep(700);
  const peak = processMemory(NAMES.gate, gatePid);
  const cgroupPeak = cgroupPeakMiB(gateId);
  stats.stop();
  gate.stop();
  origin.stop();
  const gateNode =
    GATE_IMAGE === IMAGE ? result.node : quietly(() => docker(["exec", NAMES.gate, "node", "--version"]));
  const seconds = (Date.now() - started) / 1000;

  // CPU used by each container between one phase mark and the next.
  const phaseCpu = {};
  for (let i = 0; i + 1 < order.length; i++) {
    const [from, to] = [cpu[order[i]], cpu[order[i + 1]]];
    phaseCpu[order[i]] = Object.fromEntries(
      Object.keys(from).map((who) => [
        who,
        from[who] === undefined || to[who] === undefined ? undefined : to[who] - from[who],
      ]),
    );
  }
  const gateCpu = (phase, per, key = "gate") =>
    phaseCpu[phase]?.[key] === undefined ? undefined : phaseCpu[phase][key] / per;
  const cpuPerTunnel = gateCpu("new-connection", REQUESTS);
  const cpuPerReused = gateCpu("reused", REQUESTS);
  const cpuPerMB = gateCpu("throughput", RUNS * MB);
  const kernelShare = (phase) => {
    const user = gateCpu(phase, 1, "gateUser");
    const system = gateCpu(phase, 1, "gateSystem");
    return user === undefined || system === undefined || user + system === 0 ? undefined : system / (user + system);
  };

  const tp = result.throughput;
  const ratio = tp.gate.median / tp.direct.median;
  const fresh = result.newConnection;
  const kept = result.reused;
  const added = {
    p50: fresh.gate.p50 - fresh.direct.p50,
    p99: fresh.gate.p99 - fresh.direct.p99,
    reusedP50: kept.gate.p50 - kept.direct.p50,
    reusedP99: kept.gate.p99 - kept.direct.p99,
  };
  const tunnels = egress.filter((event) => event.kind === "connect");
  const allowed = tunnels.filter((event) => event.decision === "allow").length;
  const notAllowed = egress.filter((event) => event.decision !== "allow");
  const expectedTunnels = 1 + Math.min(100, REQUESTS) + 1 + RUNS + REQUESTS + 1;

  const rate = (r) => `${r.median.toFixed(1)} (${r.min.toFixed(1)}-${r.max.toFixed(1)})`;
  // CONNECT has no direct counterpart: all of it is added.
  const phase = (name) => [
    fresh.phasesP50.direct[name] === undefined ? "-" : ms(fresh.phasesP50.direct[name]),
    ms(fresh.phasesP50.gate[name]),
    signed(fresh.phasesP50.gate[name] - (fresh.phasesP50.direct[name] ?? 0)),
  ];
  const verdict = (met) => (met ? "met" : "MISSED");
  const rows = [
    ["", "direct", "through gate", "gate vs direct"],
    [
      `${MB} MB download, MB/s: median (min-max) of ${RUNS}`,
      rate(tp.direct),
      rate(tp.gate),
      `${(ratio * 100).toFixed(1)} % (target >= 90 %: ${verdict(ratio >= 0.9)})`,
    ],
    [
      `new connection per request (${REQUESTS}), ms p50`,
      ms(fresh.direct.p50),
      ms(fresh.gate.p50),
      `${signed(added.p50)} (target < 1 ms: ${verdict(added.p50 < 1)})`,
    ],
    ["new connection per request, ms p99", ms(fresh.direct.p99), ms(fresh.gate.p99), signed(added.p99)],
    ["  p50 by phase: name lookup (client)", ...phase("lookup")],
    ["                TCP connect (to origin | to gate)", ...phase("tcp")],
    ["                CONNECT until 200", ...phase("connect")],
    ["                TLS handshake", ...phase("tls")],
    ["                GET /ping until last byte", ...phase("request")],
    [`one reused connection (${REQUESTS}), ms p50`, ms(kept.direct.p50), ms(kept.gate.p50), signed(added.reusedP50)],
    ["one reused connection, ms p99", ms(kept.direct.p99), ms(kept.gate.p99), signed(added.reusedP99)],
    [
      `Docker DNS lookup (client, ${result.dnsLookup.n}), ms p50 | p99`,
      "",
      "",
      `${ms(result.dnsLookup.p50)} | ${ms(result.dnsLookup.p99)}`,
    ],
    [
      "gate CPU, ms: per new tunnel | per reused request | per MB",
      "",
      "",
      `${fixed(cpuPerTunnel, 3)} | ${fixed(cpuPerReused, 3)} | ${fixed(cpuPerMB, 3)}`,
    ],
    [
      "gate CPU in the kernel: new tunnels | downloads",
      "",
      "",
      `${percent(kernelShare("new-connection"))} | ${percent(kernelShare("throughput"))}`,
    ],
    [
      "gate memory peak: cgroup max usage | docker stats samples",
      "",
      "",
      `${mib(cgroupPeak)} | ${mib(stats.peak)} (${stats.samples} samples)`,
    ],
    [
      "gate node process: peak RSS (VmHWM) | at end: anon + file",
      "",
      "",
      `${mib(peak.hwm)} | ${mib(peak.anon)} + ${mib(peak.file)}`,
    ],
    ["gate node process when idle: anon + file", "", "", `${mib(idle.anon)} + ${mib(idle.file)}`],
    [`gate egress events: tunnels allowed | other`, "", "", `${allowed} of ${expectedTunnels} | ${notAllowed.length}`],
  ];

  console.log(
    `gate benchmark: node ${result.node} (client, origin), node ${gateNode ?? "?"} (gate, ${GATE_IMAGE}), ` +
      `Docker Engine ${engine}, ${info.NCPU ?? "?"} cores (host sees ${cpus().length}), kernel ${info.KernelVersion ?? "?"}, ` +
      `cgroup v${info.CgroupVersion ?? "?"}, load average before start ${loadBefore.join(" ")}; ${seconds.toFixed(0)} s`,
  );
  console.log(
    "Client, origin and gate share those cores, so the origin's TLS and the gate's relaying compete for the same CPU.\n" +
      "MB = 10^6 bytes; every new connection does a full TLS 1.3 handshake (no session reuse); phases are p50s of each phase on its own.",
  );
  console.log(table(rows));
  if (notAllowed.length > 0) {
    for (const event of notAllowed.slice(0, 5))
      console.log(`  gate ${event.decision}: ${event.host}:${event.port} ${event.reason ?? ""}`);
  }
  const summaryOf = (s) => ({ p50: round(s.p50, 3), p99: round(s.p99, 3), mean: round(s.mean, 3) });
  const report = {
    bench: "gate",
    date: new Date().toISOString(),
    node: { client: result.node, gate: gateNode ?? null, host: process.version },
    engine,
    cores: info.NCPU ?? cpus().length,
    kernel: info.KernelVersion ?? null,
    loadBefore,
    gateImage: GATE_IMAGE,
    options: { mb: MB, runs: RUNS, requests: REQUESTS },
    throughputMBps: {
      direct: { median: round(tp.direct.median, 1), min: round(tp.direct.min, 1), max: round(tp.direct.max, 1) },
      gate: { median: round(tp.gate.median, 1), min: round(tp.gate.min, 1), max: round(tp.gate.max, 1) },
      ratio: round(ratio, 3),
      target: 0.9,
      met: ratio >= 0.9,
    },
    newConnectionMs: {
      direct: summaryOf(fresh.direct),
      gate: summaryOf(fresh.gate),
      addedP50: round(added.p50, 3),
      addedP99: round(added.p99, 3),
      targetAddedP50: 1,
      met: added.p50 < 1,
      phasesP50: {
        direct: Object.fromEntries(Object.entries(fresh.phasesP50.direct).map(([k, v]) => [k, round(v, 3)])),
        gate: Object.fromEntries(Object.entries(fresh.phasesP50.gate).map(([k, v]) => [k, round(v, 3)])),
      },
    },
    reusedConnectionMs: {
      direct: summaryOf(kept.direct),
      gate: summaryOf(kept.gate),
      addedP50: round(added.reusedP50, 3),
      addedP99: round(added.reusedP99, 3),
    },
    dnsLookupMs: { p50: round(result.dnsLookup.p50, 3), p99: round(result.dnsLookup.p99, 3) },
    gateCpuMs: {
      perNewTunnel: round(cpuPerTunnel, 4),
      perReusedRequest: round(cpuPerReused, 4),
      perMB: round(cpuPerMB, 4),
      kernelShare: {
        newTunnels: round(kernelShare("new-connection"), 2),
        downloads: round(kernelShare("throughput"), 2),
      },
    },
    phaseCpuMs: Object.fromEntries(
      Object.entries(phaseCpu).map(([name, who]) => [
        name,
        Object.fromEntries(Object.entries(who).map(([k, v]) => [k, round(v, 1)])),
      ]),
    ),
    gateMemoryMiB: {
      cgroupPeak: round(cgroupPeak, 1),
      dockerStatsPeak: round(stats.peak, 1),
      processPeakRss: round(peak.hwm, 1),
      endRss: { anon: round(peak.anon, 1), file: round(peak.file, 1) },
      idleRss: { anon: round(idle.anon, 1), file: round(idle.file, 1) },
      limit: 256,
    },
    egress: { allowed, expected: expectedTunnels, other: notAllowed.length },
    seconds: round(seconds, 1),
  };
  console.log(JSON.stringify(report));
  if (args.json !== undefined) {
    const runs = (path) => ({ ...report.throughputMBps[path], runs: tp[path].runs.map((value) => round(value, 1)) });
    writeFileSync(
      args.json,
      `${JSON.stringify({ ...report, throughputMBps: { ...report.throughputMBps, direct: runs("direct"), gate: runs("gate") } }, null, 2)}\n`,
    );
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench/gate: ${error.message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
process.exit();
