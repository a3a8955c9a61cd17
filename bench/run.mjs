#!/usr/bin/env node
// The product benchmarks (`npm run bench`): what a bottle costs, each figure a ratio
// against a baseline measured in the same run on the same machine, so a busy or
// slow machine moves both sides alike.
//
//   node bench/run.mjs [--runs 5] [--only launch,session,teardown,resume,gate,memory,scale,action,image] [--json FILE]
//
// Every benchmark drives the built `node runner` (dist/) as a user does, on the
// scriptable fake claude (image bottle-test/fake-agent:latest, test/fake-claude)
// with the gate on bottle-test/node:24 (both from test/images/build.sh), in a
// state home (CLAUDE_BOTTLE_HOME) of its own. The figures, each the median of
// --runs runs (paired with the baseline run by run), with min and max:
//
//   launch    timings.execStart of `node runner start` (from the start of the launch
//             until claude is exec'd: networks, gate up and healthy, agent created,
//             started, copy-in) / a bare `docker run --rm <fake agent image> true`.
//             Target <= 1.8x. Also the phase breakdown (planning = process wall
//             time minus what the timings cover), the whole wall time, and the
//             engine's own floor with no runner (the internal network, the gate on
//             the default bridge, two containers started; bench/lib/engine-floor.mjs)
//             / the same baseline.
//   session   a whole short session of the real claude CLI (the bundled Dockerfile
//             FROM bottle-test/agent-base) against the stub Messages API
//             (src/cli/demo/stub-model.ts): `node runner start` from spawn to exit (result
//             printed, state settled, nothing left) / the same claude session, prompt
//             and replies in a bare `docker run --rm` of the same image talking to the
//             stub directly. Target <= 1.7x. bench/lib/session.mjs.
//   teardown  what ending a bottle with a 20 MB transcript and a 50 MB work tree
//             costs (timings.finalSnapshot + timings.teardown, plus `tar -cf` of the
//             state directory, standing in for the action packing it) / `tar -c` of
//             the same directory piped through zstd (gzip -1 without zstd) plus
//             `docker rm -f` of one running container. Target <= 3.0x. A session
//             that does not end within 90 s is stopped, and the benchmark fails.
//   resume    timings.execStart of `node runner resume` of a crashed bottle / the
//             same of the fresh `start` that crashed, run by run. Target <= 1.05x.
//   gate      bench/gate.mjs in a short configuration (--mb 100 --requests 1000):
//             download throughput through the gate / direct, download by download
//             (target >= 90 %), and what a new tunnel adds to a request's p50
//             (target < 1 ms).
//   memory    peak RSS (VmHWM) of the `node runner start` process (target <= 90 MiB)
//             and of the gate's node process (target <= 40 MiB) during a session with
//             traffic through the gate; each also against a bare idle node process
//             (on the host, and in the gate's image). The gate container's cgroup
//             peak (which counts page cache too) is printed beside it.
//   scale     1, 2, 4 and 8 bottles started at once (separate processes): total wall
//             time, per-bottle execStart and process time, the cost of each extra
//             bottle; checks that identities and container names are distinct and
//             every run ended in success. No target.
//   action    the action's cold start: `node dist/main/index.js` to its first line on
//             stdout, with a manifest it refuses (so it ends before any Docker work)
//             / `node -e 0`. Target < 200 ms absolute.
//   image     the agent image across two CI jobs: the action's main step builds the
//             bundled Dockerfile and saves it to the tests' cache server; on an engine
//             without it, the next job loads it. The load time beside the build time it
//             replaced, and the builds in the second job (target 0).
//             bench/lib/image-reuse.mjs.
//
// session and image load TypeScript sources (the stub model, the cache server) with
// Node's type stripping: run them with the project's Node 24 (`npm run bench` does).
//
// Prints one table per benchmark, then a summary (benchmark, figure, median, min,
// max, target, met). A missed target is printed as "missed" and does not change the
// exit code: it is 0 unless a benchmark could not run (then 1). Everything created
// is removed at the end, on failure and on Ctrl-C: the runner's containers and
// networks by their claude-bottle.identity label (the agent name is unique to one
// run), the baselines' containers by bottle-bench.run=<run>. Needs the docker CLI,
// tar, the test images and a built dist/.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  FAKE_AGENT_IMAGE,
  baselineNetwork,
  GATE_IMAGE,
  IDENTITY_LABEL,
  NODE,
  ROOT,
  cgroupMemory,
  cgroupVersion,
  docker,
  expectOutcome,
  fake,
  format,
  hangReport,
  liveChildren,
  memoryPoller,
  procMemory,
  quietly,
  requireImages,
  round,
  runRunner,
  sandbox,
  sleep,
  stats,
  statsSampler,
  sweep,
  table,
  tail,
  timed,
  timedOk,
} from "./lib/harness.mjs";
import { engineFloor } from "./lib/engine-floor.mjs";
import { imageReuse } from "./lib/image-reuse.mjs";
import { session } from "./lib/session.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const BENCHMARKS = ["launch", "session", "teardown", "resume", "gate", "memory", "scale", "action", "image"];

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    only: { type: "string" },
    json: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(`usage: node bench/run.mjs [--runs N (5)] [--only ${BENCHMARKS.join(",")}] [--json FILE]`);
  process.exit(0);
}
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) {
  console.error(`bench/run: --runs must be a positive whole number, not ${JSON.stringify(args.runs)}`);
  process.exit(2);
}
const ONLY =
  args.only === undefined
    ? BENCHMARKS
    : args.only
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
const unknown = ONLY.filter((name) => !BENCHMARKS.includes(name));
if (unknown.length > 0 || ONLY.length === 0) {
  console.error(
    `bench/run: --only takes a comma-separated list of ${BENCHMARKS.join(", ")}; not ${unknown.join(", ") || "nothing"}`,
  );
  process.exit(2);
}

const RUN_ID = randomBytes(3).readUIntBE(0, 3).toString(36).padStart(5, "0").slice(-5);
/** The runner's agent name for this bench run: every identity it mints is `<AGENT>-xxxxx`. */
const AGENT = `bench${RUN_ID}`;
const BASELINE_LABEL = `bottle-bench.run=${RUN_ID}`;
const SCALE_SIZES = [1, 2, 4, 8];
const SCALE_ROUNDS = Math.min(RUNS, 3);

/** Set in main: where the baselines' containers run (harness.mjs baselineNetwork). */
let baseNet = { args: [], gateway: undefined, note: null, remove() {} };
const figures = [];
const findings = [];
const boxes = [];
const scratch = [];

function newBox(name, bottle) {
  const box = sandbox(name, AGENT, bottle);
  boxes.push(box);
  return box;
}
function newDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  scratch.push(dir);
  return dir;
}

/**
 * A summary row. `values` are per-run figures; `target` is { op, value } compared
 * with the median (null: no target). The row keeps the unit for printing.
 */
function figure(bench, name, unit, values, target = null, note) {
  const s = stats(values);
  const met =
    target === null || s.median === undefined
      ? null
      : { "<=": s.median <= target.value, "<": s.median < target.value, ">=": s.median >= target.value }[target.op];
  const row = { bench, figure: name, unit, ...s, target, met, ...(note ? { note } : {}) };
  figures.push(row);
  return row;
}
const targetText = (row) => (row.target === null ? "-" : `${row.target.op} ${format(row.target.value, row.unit)}`);
const verdict = (row) => (row.met === null ? "-" : row.met ? "met" : "missed");

/** Warnings the runner printed: collected across every run, shown at the end. */
function collectWarnings(run) {
  for (const line of run.lines ?? [])
    if (/warning:/.test(line.text)) findings.push(`runner warning: ${line.text.trim()}`);
}

const at = (run, pattern) => run.lines.find((line) => pattern.test(line.text))?.at;
const sum = (...values) => values.reduce((a, b) => a + (b ?? 0), 0);
const mb = (bytes) => bytes / 1e6;
function bytesUnder(path) {
  let total = 0;
  const walk = (p) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
    else total += st.size;
  };
  walk(path);
  return total;
}

const msRow = (label, values, extra = []) => {
  const s = stats(values);
  return [label, format(s.median, "ms"), format(s.min, "ms"), format(s.max, "ms"), ...extra];
};

function startArgs(box, prompt) {
  return ["start", box.agent, "--manifest", box.manifest, "--format", "json", "--prompt", prompt];
}

// ---------------------------------------------------------------- 1. launch

async function launch() {
  const box = newBox("launch");
  const prompt = fake({ end: "success" });
  const start = () => runRunner(box, startArgs(box, prompt), { cwd: box.workspace() });
  const bare = () =>
    timedOk("docker", ["run", "--rm", "--label", BASELINE_LABEL, ...baseNet.args, FAKE_AGENT_IMAGE, "true"]);
  let floors = 0;
  const floor = () =>
    engineFloor({
      identity: `${AGENT}-floor${floors++}`,
      agentImage: FAKE_AGENT_IMAGE,
      gateImage: GATE_IMAGE,
      label: BASELINE_LABEL,
    });

  // Warm-up: images cached, the bundle in the page cache, the engine's first-container costs paid.
  collectWarnings(await start().then((run) => (expectOutcome(run, "success", "launch warm-up"), run)));
  await bare();

  const rows = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first, so drift on a shared machine hits both alike.
    let run, base, engine;
    if (i % 2 === 0) {
      run = await start();
      base = await bare();
      engine = await floor();
    } else {
      engine = await floor();
      base = await bare();
      run = await start();
    }
    const result = expectOutcome(run, "success", `launch run ${i + 1}`);
    collectWarnings(run);
    const t = result.timings;
    const egressLine = at(run, /\]: egress:/);
    const settle = egressLine === undefined ? undefined : run.wall - egressLine;
    const covered = sum(t.execStart, t.session, t.finalSnapshot, t.teardown, settle);
    rows.push({
      t,
      wall: run.wall,
      settle,
      plan: settle === undefined ? undefined : run.wall - covered,
      bare: base.ms,
      floor: engine,
    });
  }
  const dry = [];
  const nodeStart = [];
  for (let i = 0; i < RUNS; i++) {
    const run = await runRunner(box, [...startArgs(box, prompt), "--dry-run"], { cwd: box.dir });
    if (run.code !== 0 || run.result?.identity === undefined)
      throw new Error(`--dry-run exited with ${run.code}\n${run.lines.map((l) => l.text).join("\n")}`);
    dry.push(run.wall);
    nodeStart.push((await timedOk(NODE, ["-e", "0"])).ms);
  }

  const col = (pick) => rows.map(pick);
  const phase = (name) => col((r) => r.t[name]);
  // The agent (and its copy-in) is made ready while the gate (then the supervise sidecar) starts.
  // The gate's branch begins with the networks (it is created meanwhile), the agent's once they exist.
  const other = col(
    (r) =>
      r.t.execStart - sum(r.t.image, Math.max(sum(r.t.gate, r.t.supervise), sum(r.t.networks, r.t.agent, r.t.copyIn))),
  );
  const ratios = col((r) => r.t.execStart / r.bare);
  console.log(
    `launch: timings.execStart of \`node runner start\` (fake agent, images cached, empty work tree) vs \`docker run --rm ${FAKE_AGENT_IMAGE} true\`, ${RUNS} runs each, alternating, after one warm-up`,
  );
  console.log(
    table([
      ["", "median", "min", "max"],
      msRow("node startup alone (node -e 0)", nodeStart),
      msRow("--dry-run, whole process (node start + bundle load + plan)", dry),
      msRow(
        "untimed: wall - (execStart + session + finalSnapshot + teardown + settle): node start, plan, logs stopped",
        col((r) => r.plan),
      ),
      msRow("  image (agent image present?)", phase("image")),
      msRow("  networks (internal; the gate goes out through the default bridge)", phase("networks")),
      msRow("  gate (created while the networks are made, program in, start, until ready)", phase("gate")),
      msRow("  agent (create + start), while the gate starts", phase("agent")),
      msRow("  copyIn (system prompt, work tree), while the gate starts", phase("copyIn")),
      msRow("  rest of the launch (gate image check, state, log follow)", other),
      msRow("execStart: launch until claude is exec'd", phase("execStart")),
      msRow("session (fake claude, no steps)", phase("session")),
      msRow("finalSnapshot", phase("finalSnapshot")),
      msRow("teardown (containers and networks removed)", phase("teardown")),
      msRow(
        "settle: after teardown until the process exits",
        col((r) => r.settle),
      ),
      msRow(
        "runner whole wall time",
        col((r) => r.wall),
      ),
      msRow(
        `baseline: docker run --rm ${FAKE_AGENT_IMAGE} true`,
        col((r) => r.bare),
      ),
      msRow(
        "engine floor: the internal network and the gate on the default bridge, then both containers started (no runner)",
        col((r) => r.floor),
      ),
      ["execStart / baseline, run by run", ...["median", "min", "max"].map((k) => format(stats(ratios)[k], "x"))],
    ]),
  );
  figure("launch", "execStart / bare docker run", "x", ratios, { op: "<=", value: 1.8 });
  figure(
    "launch",
    "engine floor (one network, two containers started; no runner) / bare docker run",
    "x",
    col((r) => r.floor / r.bare),
  );
  figure(
    "launch",
    "runner whole wall time / bare docker run",
    "x",
    col((r) => r.wall / r.bare),
  );
  return { runs: rows.map((r) => ({ ...r, t: r.t })), dryRunMs: dry, nodeStartMs: nodeStart };
}

// ---------------------------------------------------------------- 2. teardown

function compressor() {
  if (
    quietly(() => execFileSync("zstd", ["--version"], { stdio: "ignore" })) !== undefined ||
    existsSync("/usr/bin/zstd")
  ) {
    return { name: "zstd (level 3, one thread)", command: "zstd -q -3 -c" };
  }
  return { name: "gzip -1 (zstd is not installed)", command: "gzip -1 -c" };
}

/** A session that writes 20 MB under ~/.claude (the transcript's directory) and 50 MB in the work tree, then crashes. */
const TEARDOWN_SCENARIO = {
  label: "20 MB under ~/.claude, 50 MB in the work tree",
  steps: [
    { run: "head -c 20000000 /dev/urandom > ~/.claude/big.bin" },
    { run: "head -c 50000000 /dev/urandom > ~/workspace/big.bin" },
  ],
};
/** A session of a few seconds: 90 s is far more than enough on any machine, short enough to notice a hang at once. */
const TEARDOWN_RUN_LIMIT_MS = 90_000;

async function teardown() {
  const box = newBox("teardown");
  const out = newDir("teardown-out");
  const packer = compressor();
  const scenario = TEARDOWN_SCENARIO;
  const rows = [];
  for (let i = 0; rows.length < RUNS; i++) {
    const prompt = fake({ steps: scenario.steps, end: "crash" });
    const run = await runRunner(box, startArgs(box, prompt), {
      cwd: box.workspace(),
      timeoutMs: TEARDOWN_RUN_LIMIT_MS,
    });
    if (run.hung !== undefined)
      throw new Error(
        `teardown run ${rows.length + 1}: the session (${scenario.label}) did not end: ${hangReport(run)}\n${tail(run, 4)}`,
      );
    const result = expectOutcome(run, "crashed", `teardown run ${rows.length + 1}`);
    collectWarnings(run);
    if (!result.preserved)
      throw new Error(`teardown run ${rows.length + 1}: the crashed bottle's state was not preserved`);
    const stateDir = result.stateDir;
    const size = bytesUnder(stateDir);
    const transcript = bytesUnder(join(stateDir, "transcript"));
    const workspace = bytesUnder(join(stateDir, "workspace"));
    const tarFile = join(out, `state-${i}.tar`);
    const packed = await timedOk("tar", ["-C", stateDir, "-cf", tarFile, "."]);
    const tarBytes = statSync(tarFile).size;
    rmSync(tarFile, { force: true });

    const zFile = join(out, `state-${i}.tar.z`);
    const compressed = await timedOk("sh", [
      "-c",
      `tar -C "$1" -cf - . | ${packer.command} > "$2"`,
      "sh",
      stateDir,
      zFile,
    ]);
    rmSync(zFile, { force: true });
    const name = `bench-${RUN_ID}-rm-${i}`;
    runBaseline(name, [FAKE_AGENT_IMAGE, "sleep", "infinity"]);
    const removed = await timedOk("docker", ["rm", "-f", name]);
    rmSync(stateDir, { recursive: true, force: true });

    const t = result.timings;
    const product = t.finalSnapshot + t.teardown + packed.ms;
    const baseline = compressed.ms + removed.ms;
    rows.push({
      finalSnapshot: t.finalSnapshot,
      teardown: t.teardown,
      tar: packed.ms,
      product,
      compress: compressed.ms,
      rm: removed.ms,
      baseline,
      size,
      transcript,
      workspace,
      tarBytes,
    });
  }
  const col = (key) => rows.map((r) => r[key]);
  const ratios = rows.map((r) => r.product / r.baseline);
  const s = (key) => stats(col(key)).median;
  console.log(
    `teardown: finalSnapshot + teardown (timings) + \`tar -cf\` of the state dir vs \`tar -c | ${packer.name}\` of the same dir + \`docker rm -f\` of one running container; ${RUNS} runs, each a session that wrote ${scenario.label}, then crashed`,
  );
  console.log(
    `state dir: ${mb(s("size")).toFixed(1)} MB (transcript ${mb(s("transcript")).toFixed(1)} MB, workspace ${mb(s("workspace")).toFixed(1)} MB; tar ${mb(s("tarBytes")).toFixed(1)} MB), medians`,
  );
  console.log(
    table([
      ["", "median", "min", "max"],
      msRow("finalSnapshot (transcript + work tree out of the container)", col("finalSnapshot")),
      msRow("teardown (containers and networks removed)", col("teardown")),
      msRow("tar -cf of the state dir (stand-in for the action's pack)", col("tar")),
      msRow("product total", col("product")),
      msRow(`baseline: tar -c | ${packer.name}`, col("compress")),
      msRow("baseline: docker rm -f of a running container", col("rm")),
      msRow("baseline total", col("baseline")),
      ["product / baseline, run by run", ...["median", "min", "max"].map((k) => format(stats(ratios)[k], "x"))],
    ]),
  );
  const name = `(finalSnapshot + teardown + tar) / (tar | ${packer.name.split(" ")[0]} + docker rm -f)`;
  figure("teardown", name, "x", ratios, { op: "<=", value: 3.0 });
  return { compressor: packer.name, scenario: scenario.label, runs: rows };
}

// ---------------------------------------------------------------- 3. resume

async function resume() {
  const box = newBox("resume");
  // A modest session: 40 turns of text and a 20 kB file, about 50 kB of transcript.
  const steps = [];
  for (let i = 0; i < 40; i++)
    steps.push({ say: `turn ${i}: ${"the agent explains what it is doing and why; ".repeat(5)}` });
  steps.push({ write: { path: "notes.md", content: "notes\n".repeat(3500) } });
  const crashPrompt = fake({ steps, end: "crash" });
  const rows = [];
  for (let i = 0; i < RUNS; i++) {
    const first = await runRunner(box, startArgs(box, crashPrompt), { cwd: box.workspace() });
    const crashed = expectOutcome(first, "crashed", `resume run ${i + 1}, the crashing start`);
    collectWarnings(first);
    if (!crashed.preserved) throw new Error(`resume run ${i + 1}: the crashed bottle's state was not preserved`);
    const transcript = bytesUnder(join(crashed.stateDir, "transcript"));
    const second = await runRunner(
      box,
      ["resume", crashed.identity, "--prompt", fake({ end: "success" }), "--format", "json"],
      { cwd: box.dir },
    );
    const resumed = expectOutcome(second, "success", `resume run ${i + 1}, the resume`);
    collectWarnings(second);
    if (resumed.sessionId !== crashed.sessionId)
      throw new Error(`resume run ${i + 1}: resumed session ${resumed.sessionId}, not ${crashed.sessionId}`);
    if (!second.lines.some((l) => l.text.includes(`resumed session ${crashed.sessionId}`))) {
      findings.push(`resume run ${i + 1}: the fake claude did not report resuming session ${crashed.sessionId}`);
    }
    rows.push({
      fresh: crashed.timings,
      resumed: resumed.timings,
      transcript,
      freshWall: first.wall,
      resumeWall: second.wall,
    });
  }
  const ratios = rows.map((r) => r.resumed.execStart / r.fresh.execStart);
  const both = (label, name) => [
    label,
    format(stats(rows.map((r) => r.fresh[name])).median, "ms"),
    format(stats(rows.map((r) => r.resumed[name])).median, "ms"),
    `${format(stats(rows.map((r) => r.resumed[name])).min, "ms")} - ${format(stats(rows.map((r) => r.resumed[name])).max, "ms")}`,
  ];
  console.log(
    `resume: timings.execStart of \`node runner resume <identity>\` vs the fresh \`node runner start\` of the same bottle (which crashed after 40 turns), ${RUNS} pairs; transcript ${(stats(rows.map((r) => r.transcript)).median / 1024).toFixed(0)} KiB`,
  );
  console.log(
    table([
      ["medians", "fresh start", "resume", "resume min - max"],
      both("networks", "networks"),
      both("gate", "gate"),
      both("agent (create + start)", "agent"),
      both("copyIn (+ transcript on resume)", "copyIn"),
      both("execStart", "execStart"),
      [
        "whole process",
        format(stats(rows.map((r) => r.freshWall)).median, "ms"),
        format(stats(rows.map((r) => r.resumeWall)).median, "ms"),
        "",
      ],
      [
        "resume / fresh execStart, run by run",
        "",
        format(stats(ratios).median, "x"),
        `${format(stats(ratios).min, "x")} - ${format(stats(ratios).max, "x")}`,
      ],
    ]),
  );
  figure("resume", "resume execStart / fresh start execStart", "x", ratios, { op: "<=", value: 1.05 });
  return { runs: rows };
}

// ---------------------------------------------------------------- 4. gate

async function gate() {
  const dir = newDir("gate");
  const out = join(dir, "gate.json");
  const options = ["--runs", String(Math.max(RUNS, 5)), "--mb", "100", "--requests", "1000"];
  console.log(`gate: node bench/gate.mjs ${options.join(" ")} (direct vs through the gate, same client, interleaved)`);
  const run = await timed(NODE, [join(HERE, "gate.mjs"), ...options, "--json", out], {
    cwd: ROOT,
    timeoutMs: 15 * 60_000,
  });
  for (const line of run.stdout.split("\n")) if (line.trim() !== "" && !line.startsWith("{")) console.log(`  ${line}`);
  if (run.code !== 0 || !existsSync(out))
    throw new Error(`bench/gate.mjs exited with ${run.code ?? run.signal}: ${run.stderr.trim().slice(-1000)}`);
  const report = JSON.parse(readFileSync(out, "utf8"));
  const tp = report.throughputMBps;
  const pairs = tp.gate.runs.map((g, i) => g / tp.direct.runs[i]);
  const fresh = report.newConnectionMs;
  figure("gate", `download throughput (${options[3]} MB) gate / direct`, "%", pairs, { op: ">=", value: 0.9 });
  figure("gate", `new connection: p50 added by the gate (${options[5]} requests)`, "+ms", [fresh.addedP50], {
    op: "<",
    value: 1,
  });
  figure("gate", "new connection: p50 gate / direct", "x", [fresh.gate.p50 / fresh.direct.p50]);
  return report;
}

// ---------------------------------------------------------------- 5. memory

/** Finds this run's gate container once it exists and follows its memory until it is gone or `stop()`. */
function watchGate() {
  const seen = {
    id: undefined,
    pid: undefined,
    hwm: undefined,
    rss: undefined,
    anon: undefined,
    cgroupPeak: undefined,
    cgroupSource: undefined,
    stats: undefined,
    samples: 0,
  };
  let stopped = false;
  const done = (async () => {
    while (!stopped && seen.id === undefined) {
      const id = quietly(() =>
        docker([
          "ps",
          "-q",
          "--no-trunc",
          "--filter",
          `label=claude-bottle.agent=${AGENT}`,
          "--filter",
          "label=claude-bottle.role=gate",
        ]),
      );
      if (id) {
        const pid = Number(quietly(() => docker(["inspect", "--format", "{{.State.Pid}}", id])));
        if (pid > 0) Object.assign(seen, { id: id.split("\n")[0], pid });
      } else await sleep(50);
    }
    if (seen.id === undefined) return seen;
    const cgroupVisible = cgroupMemory(seen.id) !== undefined;
    const sampler = cgroupVisible ? undefined : statsSampler(seen.id);
    while (!stopped) {
      const proc = procMemory(seen.pid);
      if (proc === undefined) break;
      seen.samples += 1;
      seen.hwm = Math.max(seen.hwm ?? 0, proc.hwm ?? 0);
      seen.rss = Math.max(seen.rss ?? 0, proc.rss ?? 0);
      seen.anon = Math.max(seen.anon ?? 0, proc.anon ?? 0);
      const cg = cgroupMemory(seen.id);
      if (cg?.peak !== undefined) {
        seen.cgroupPeak = Math.max(seen.cgroupPeak ?? 0, cg.peak);
        seen.cgroupSource = cg.source;
      }
      await sleep(20);
    }
    if (sampler) {
      sampler.stop();
      seen.stats = sampler.peak;
    }
    return seen;
  })();
  return {
    async stop() {
      stopped = true;
      return done;
    },
    done,
  };
}

/** Starts a detached baseline container `name` (labelled for cleanup, on the baseline network) with `args`. */
function runBaseline(name, args) {
  docker(["run", "-d", "--name", name, "--label", BASELINE_LABEL, ...baseNet.args, ...args]);
}

/** A bare, idle node process in the gate's image, as the gate runs (user 65534, no capabilities): its peak RSS and cgroup peak. */
async function bareNodeInGateImage(i) {
  const name = `bench-${RUN_ID}-node-${i}`;
  runBaseline(name, [
    "--user",
    "65534:65534",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--memory",
    "256m",
    GATE_IMAGE,
    "node",
    "-e",
    "setInterval(() => {}, 1000)",
  ]);
  try {
    await sleep(1500);
    const [id, pid] = docker(["inspect", "--format", "{{.Id}} {{.State.Pid}}", name]).split(" ");
    const proc = procMemory(Number(pid));
    return { hwm: proc?.hwm, anon: proc?.anon, cgroupPeak: cgroupMemory(id)?.peak };
  } finally {
    quietly(() => docker(["rm", "-f", name]));
  }
}

/** A bare, idle node process on the host (the runner's node): its peak RSS. */
async function bareNodeOnHost() {
  const child = spawn(NODE, ["-e", "setTimeout(() => {}, 600)"], { stdio: "ignore" });
  const poller = memoryPoller(child.pid);
  await new Promise((done) => child.once("exit", done));
  return poller.stop().hwm;
}

async function memory() {
  const box = newBox("memory");
  // Traffic through the gate: 200 sequential and 50 concurrent 64 kB POSTs to the
  // anthropic route (its upstream refuses, so the gate answers each itself). The
  // statuses land in traffic.json in the work tree, which comes back on success.
  const traffic =
    'node -e \'const u = process.env.ANTHROPIC_BASE_URL + "/v1/messages"; const body = "x".repeat(65536); ' +
    'const one = () => fetch(u, { method: "POST", headers: { "content-type": "application/json" }, body }).then((r) => r.arrayBuffer().then(() => r.status)).catch((e) => "error"); ' +
    "(async () => { const seen = {}; for (let i = 0; i < 200; i++) { const s = await one(); seen[s] = (seen[s] ?? 0) + 1; } " +
    'for (const s of await Promise.all(Array.from({ length: 50 }, one))) seen[s] = (seen[s] ?? 0) + 1; require("fs").writeFileSync("traffic.json", JSON.stringify(seen)); })()\'';
  const prompt = fake({ steps: [{ run: traffic }, { sleep: 3000 }], end: "success" });
  const rows = [];
  for (let i = 0; i < RUNS; i++) {
    const hostNode = await bareNodeOnHost();
    const gateNode = await bareNodeInGateImage(i);
    const watch = watchGate();
    const workspace = box.workspace();
    const run = await runRunner(box, startArgs(box, prompt), { cwd: workspace, memory: true });
    const gateSeen = await watch.stop();
    expectOutcome(run, "success", `memory run ${i + 1}`);
    collectWarnings(run);
    if (gateSeen.id === undefined || gateSeen.hwm === undefined)
      throw new Error(`memory run ${i + 1}: the gate container was never seen`);
    const statuses = quietly(() => readFileSync(join(workspace, "traffic.json"), "utf8"));
    rows.push({
      runnerHwm: run.memory.hwm,
      runnerRss: run.memory.rss,
      runnerAnon: run.memory.anon,
      runnerSamples: run.memory.samples,
      gateHwm: gateSeen.hwm,
      gateRss: gateSeen.rss,
      gateAnon: gateSeen.anon,
      gateCgroupPeak: gateSeen.cgroupPeak,
      gateStatsPeak: gateSeen.stats,
      gateSamples: gateSeen.samples,
      hostNode,
      gateImageNode: gateNode.hwm,
      gateImageNodeAnon: gateNode.anon,
      gateImageNodeCgroup: gateNode.cgroupPeak,
      statuses: statuses ?? null,
      egress: run.lines.find((l) => /\]: egress:/.test(l.text))?.text.replace(/^.*\]: /, "") ?? null,
    });
  }
  const col = (key) => rows.map((r) => r[key]);
  const mibRow = (label, values) => {
    const s = stats(values);
    return [label, format(s.median, "MiB"), format(s.min, "MiB"), format(s.max, "MiB")];
  };
  const cg = cgroupVersion();
  console.log(
    `memory: peak RSS of the \`node runner start\` process (VmHWM, /proc polled every 20 ms) and of the gate's node process (VmHWM of its host pid) ` +
      `during a session that sent 250 64 kB requests through the gate then slept 3 s; vs a bare idle node on the host and in the gate's image; ${RUNS} runs; cgroup v${cg ?? "?"}`,
  );
  console.log(
    `traffic seen by the agent (HTTP status: count), first run: ${rows[0].statuses ?? "not reported"}; the runner's egress line: ${rows[0].egress ?? "-"}`,
  );
  console.log(
    table([
      ["", "median", "min", "max"],
      mibRow("runner: peak RSS (VmHWM)  <- compared with the target", col("runnerHwm")),
      mibRow("runner: largest VmRSS sample", col("runnerRss")),
      mibRow("runner: largest anonymous RSS sample (RssAnon: heap, stacks)", col("runnerAnon")),
      mibRow("bare idle node on the host: peak RSS", col("hostNode")),
      mibRow("gate node process: peak RSS (VmHWM)  <- compared with the target", col("gateHwm")),
      mibRow("gate node process: largest VmRSS sample", col("gateRss")),
      mibRow("gate node process: largest anonymous RSS sample (RssAnon)", col("gateAnon")),
      mibRow(
        `gate container: cgroup peak (${rows.find((r) => r.gateCgroupPeak !== undefined) ? "memory.max_usage_in_bytes / memory.peak, counts page cache" : "not visible"})`,
        col("gateCgroupPeak"),
      ),
      ...(rows.some((r) => r.gateStatsPeak !== undefined)
        ? [mibRow("gate container: docker stats peak", col("gateStatsPeak"))]
        : []),
      mibRow("bare idle node in the gate's image (same user/limits): peak RSS", col("gateImageNode")),
      mibRow("bare idle node in the gate's image: anonymous RSS", col("gateImageNodeAnon")),
      mibRow("bare idle node in the gate's image: cgroup peak", col("gateImageNodeCgroup")),
      [`samples per run: runner ${stats(col("runnerSamples")).median}, gate ${stats(col("gateSamples")).median}`],
    ]),
  );
  figure("memory", "gate node process peak RSS", "MiB", col("gateHwm"), { op: "<=", value: 40 }, "MiB = 2^20 bytes");
  figure(
    "memory",
    "gate peak RSS / bare idle node in its image",
    "x",
    rows.map((r) => r.gateHwm / r.gateImageNode),
  );
  figure("memory", "runner process peak RSS", "MiB", col("runnerHwm"), { op: "<=", value: 90 }, "MiB = 2^20 bytes");
  figure(
    "memory",
    "runner peak RSS / bare idle node",
    "x",
    rows.map((r) => r.runnerHwm / r.hostNode),
  );
  return { runs: rows, cgroupVersion: cg ?? null };
}

// ---------------------------------------------------------------- 6. scale

async function scale() {
  const box = newBox("scale");
  const prompt = fake({ steps: [{ sleep: 2000 }], end: "success" });
  const byN = Object.fromEntries(SCALE_SIZES.map((n) => [n, []]));
  const problems = [];
  for (let round = 0; round < SCALE_ROUNDS; round++) {
    for (const n of SCALE_SIZES) {
      // Container names while they exist: name -> identity, role.
      const names = new Map();
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          const text =
            quietly(() =>
              docker([
                "ps",
                "-a",
                "--filter",
                `label=claude-bottle.agent=${AGENT}`,
                "--format",
                `{{.Names}} {{.Label "${IDENTITY_LABEL}"}} {{.Label "claude-bottle.role"}}`,
              ]),
            ) ?? "";
          for (const line of text.split("\n").filter(Boolean)) {
            const [name, identity, role] = line.split(" ");
            names.set(name, { identity, role });
          }
          await sleep(200);
        }
      })();
      const t0 = performance.now();
      const runs = await Promise.all(
        Array.from({ length: n }, () => runRunner(box, startArgs(box, prompt), { cwd: box.workspace() })),
      );
      const total = performance.now() - t0;
      watching = false;
      await watcher;
      for (const run of runs) collectWarnings(run);
      const outcomes = runs.map((r) => r.result?.outcome ?? `no result (exit ${r.code})`);
      const identities = runs.map((r) => r.result?.identity).filter(Boolean);
      const agents = [...names].filter(([, v]) => v.role === "agent");
      const gates = [...names].filter(([, v]) => v.role === "gate");
      const check = [];
      if (outcomes.some((o) => o !== "success")) check.push(`outcomes ${outcomes.join(", ")}`);
      if (new Set(identities).size !== n) check.push(`${new Set(identities).size} distinct identities of ${n}`);
      if (agents.length !== n || new Set(agents.map(([, v]) => v.identity)).size !== n)
        check.push(`${agents.length} agent containers seen for ${n} bottles`);
      if (gates.length !== n || new Set(gates.map(([, v]) => v.identity)).size !== n)
        check.push(`${gates.length} gate containers seen for ${n} bottles`);
      if ([...names].some(([, v]) => !identities.includes(v.identity)))
        check.push("a container whose identity no run reported");
      if (check.length > 0) {
        problems.push(`round ${round + 1}, ${n} bottles: ${check.join("; ")}`);
        const failed = runs.find((r) => r.result?.outcome !== "success");
        if (failed)
          problems.push(
            `  ${failed.lines
              .slice(-5)
              .map((l) => l.text)
              .join("\n  ")}`,
          );
      }
      const ok = runs.filter((r) => r.result?.outcome === "success");
      byN[n].push({
        total,
        execStart: stats(ok.map((r) => r.result.timings.execStart)).median,
        wall: stats(ok.map((r) => r.wall)).median,
        maxExecStart: stats(ok.map((r) => r.result.timings.execStart)).max,
        ok: ok.length,
        containers: names.size,
      });
    }
  }
  const med = (n, key) => stats(byN[n].map((r) => r[key])).median;
  const one = med(1, "total");
  console.log(
    `scale: 1, 2, 4, 8 bottles started at once (separate \`node runner start\` processes, each a 2 s fake session), ${SCALE_ROUNDS} rounds, sizes interleaved; vs 1 bottle`,
  );
  console.log(
    table([
      [
        "bottles",
        "total wall (median)",
        "min - max",
        "per bottle: execStart",
        "slowest execStart",
        "per bottle: process",
        "extra bottle costs",
        "total / 1 bottle",
      ],
      ...SCALE_SIZES.map((n) => {
        const totals = stats(byN[n].map((r) => r.total));
        return [
          String(n),
          format(totals.median, "ms"),
          `${format(totals.min, "ms")} - ${format(totals.max, "ms")}`,
          format(med(n, "execStart"), "ms"),
          format(med(n, "maxExecStart"), "ms"),
          format(med(n, "wall"), "ms"),
          n === 1 ? "-" : format((totals.median - one) / (n - 1), "ms"),
          format(totals.median / one, "x"),
        ];
      }),
    ]),
  );
  console.log(
    problems.length === 0
      ? "checks: every run ended in success; identities and container names were distinct in every round"
      : `checks FAILED:\n  ${problems.join("\n  ")}`,
  );
  for (const p of problems) findings.push(`scale: ${p}`);
  const big = SCALE_SIZES.at(-1);
  figure(
    "scale",
    `${big} bottles at once: total wall / 1 bottle`,
    "x",
    byN[big].map((r, i) => r.total / byN[1][i].total),
  );
  figure(
    "scale",
    `cost per extra bottle (1 -> ${big})`,
    "ms",
    byN[big].map((r, i) => (r.total - byN[1][i].total) / (big - 1)),
  );
  figure(
    "scale",
    `per-bottle execStart at ${big} / at 1`,
    "x",
    byN[big].map((r, i) => r.execStart / byN[1][i].execStart),
  );
  return { rounds: SCALE_ROUNDS, byN, problems };
}

// ---------------------------------------------------------------- 7. action cold start

async function action() {
  const dir = newDir("action");
  const workspace = join(dir, "workspace");
  const temp = join(dir, "runner-temp");
  execFileSync("mkdir", ["-p", workspace, temp]);
  const manifest = join(dir, "claude-bottle.json");
  // An unknown key: the action stops at manifest loading, before any Docker work.
  writeFileSync(
    manifest,
    `${JSON.stringify({ bottles: { x: { image: FAKE_AGENT_IMAGE, bogus: true } }, agents: { a: { bottle: "x" } } })}\n`,
  );
  for (const file of ["output", "state", "summary", "env", "path"]) writeFileSync(join(dir, file), "");
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    INPUT_PROMPT: "x",
    INPUT_MANIFEST: manifest,
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: temp,
    GITHUB_OUTPUT: join(dir, "output"),
    GITHUB_STATE: join(dir, "state"),
    GITHUB_STEP_SUMMARY: join(dir, "summary"),
    GITHUB_ENV: join(dir, "env"),
    GITHUB_PATH: join(dir, "path"),
  };
  const entry = join(ROOT, "dist/main/index.js");
  const main = () => timed(NODE, [entry], { env, cwd: workspace, timeoutMs: 60_000 });
  const bare = () => timedOk(NODE, ["-e", "0"]);
  await main();
  await bare();
  const rows = [];
  for (let i = 0; i < RUNS; i++) {
    let run, base;
    if (i % 2 === 0) {
      run = await main();
      base = await bare();
    } else {
      base = await bare();
      run = await main();
    }
    if (run.firstStdout === undefined)
      throw new Error(`the action printed nothing on stdout (exit ${run.code}): ${run.stderr.slice(-500)}`);
    if (!/invalid manifest/.test(run.stdout + run.stderr))
      throw new Error(`the action did not stop at the bad manifest (exit ${run.code}):\n${run.stdout.slice(-800)}`);
    rows.push({ firstLine: run.firstStdout, exit: run.ms, bare: base.ms, first: run.stdout.split("\n")[0] });
  }
  const col = (key) => rows.map((r) => r[key]);
  const ratios = rows.map((r) => r.firstLine / r.bare);
  console.log(
    `action: \`node dist/main/index.js\` (a manifest it refuses, no Docker work) until its first stdout line (${JSON.stringify(rows[0].first)}) vs \`node -e 0\`, ${RUNS} runs each, alternating, after one warm-up`,
  );
  console.log(
    table([
      ["", "median", "min", "max"],
      msRow("action: first line on stdout", col("firstLine")),
      msRow("action: exit (after refusing the manifest)", col("exit")),
      msRow("baseline: node -e 0", col("bare")),
      ["first line / node -e 0, run by run", ...["median", "min", "max"].map((k) => format(stats(ratios)[k], "x"))],
    ]),
  );
  figure("action", "cold start to first stdout line", "ms", col("firstLine"), { op: "<", value: 200 });
  figure("action", "cold start first line / node -e 0", "x", ratios);
  return { runs: rows };
}

// ---------------------------------------------------------------- main

const context = () => ({
  RUNS,
  RUN_ID,
  AGENT,
  BASELINE_LABEL,
  baseNet,
  newBox,
  newDir,
  figure,
  collectWarnings,
  findings,
});
const IMPLEMENTATIONS = {
  launch,
  session: () => session(context()),
  teardown,
  resume,
  gate,
  memory,
  scale,
  action,
  image: () => imageReuse(context()),
};

function cleanupAll() {
  sweep(AGENT, BASELINE_LABEL);
  baseNet.remove();
  for (const box of boxes.splice(0)) box.remove();
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
}

let interrupted = false;
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
  ["SIGHUP", 129],
]) {
  process.once(signal, async () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\nbench/run: ${signal}; stopping the runs and removing what they made`);
    // A runner given SIGTERM tears its bottle down itself; whatever is left after 20 s is swept.
    const running = liveChildren();
    for (const child of running) quietly(() => child.kill("SIGTERM"));
    await Promise.race([
      Promise.all(
        running.map((child) => new Promise((done) => (child.exitCode !== null ? done() : child.once("exit", done)))),
      ),
      sleep(20_000),
    ]);
    for (const child of liveChildren()) quietly(() => child.kill("SIGKILL"));
    cleanupAll();
    process.exit(code);
  });
}

async function main() {
  const started = Date.now();
  if (!existsSync(join(ROOT, "dist/runner/index.js")) || !existsSync(join(ROOT, "dist/main/index.js"))) {
    throw new Error("dist/ is missing; build it first (npm run build)");
  }
  requireImages([FAKE_AGENT_IMAGE, GATE_IMAGE]);
  const engine = docker(["version", "--format", "{{.Server.Version}}"]);
  const info = JSON.parse(docker(["info", "--format", "{{json .}}"]));
  const machine = {
    node: process.version,
    engine,
    cores: info.NCPU ?? cpus().length,
    kernel: info.KernelVersion ?? null,
    cgroup: info.CgroupVersion ?? null,
    loadBefore: loadavg().map((v) => round(v, 2)),
  };
  console.log(
    `bottle benchmarks (run ${RUN_ID}, agent ${AGENT}): node ${machine.node}, Docker Engine ${engine}, ${machine.cores} cores, kernel ${machine.kernel ?? "?"}, ` +
      `cgroup v${machine.cgroup ?? "?"}, load average ${machine.loadBefore.join(" ")}; --runs ${RUNS}; ${ONLY.join(", ")}`,
  );
  baseNet = baselineNetwork(RUN_ID, BASELINE_LABEL);
  if (baseNet.note) {
    console.log(`note: ${baseNet.note}`);
    findings.push(baseNet.note);
  }
  console.log(
    `images: agent ${FAKE_AGENT_IMAGE}, gate ${GATE_IMAGE}; every figure is a ratio to a baseline run in the same process, median of the runs (min, max)`,
  );

  const results = {};
  const failed = [];
  for (const name of ONLY) {
    const benchStarted = Date.now();
    console.log(
      `\n== ${name} (load average ${loadavg()
        .map((v) => v.toFixed(2))
        .join(" ")})`,
    );
    try {
      results[name] = await IMPLEMENTATIONS[name]();
    } catch (error) {
      failed.push(name);
      results[name] = { error: error.message };
      console.log(`${name}: could not run: ${error.message}`);
    }
    // A runner's own resources must be gone once it has exited: anything left is a leak.
    const left = sweep(AGENT, BASELINE_LABEL);
    if (left.containers.length + left.networks.length > 0) {
      const text = `${name}: left behind after the runners exited: ${[...left.containers, ...left.networks].join(", ")} (removed)`;
      findings.push(text);
      console.log(text);
    }
    console.log(`(${name}: ${((Date.now() - benchStarted) / 1000).toFixed(0)} s)`);
  }

  console.log(
    `\n== summary (${((Date.now() - started) / 1000).toFixed(0)} s, load average now ${loadavg()
      .map((v) => v.toFixed(2))
      .join(" ")})`,
  );
  const rows = [["benchmark", "figure", "median", "min", "max", "target", "met?"]];
  for (const name of ONLY) {
    if (failed.includes(name)) {
      rows.push([name, "could not run", "-", "-", "-", "-", "-"]);
      continue;
    }
    for (const row of figures.filter((f) => f.bench === name)) {
      const single = row.n === 1;
      rows.push([
        row.bench,
        row.figure,
        format(row.median, row.unit),
        single ? "-" : format(row.min, row.unit),
        single ? "-" : format(row.max, row.unit),
        targetText(row),
        verdict(row),
      ]);
    }
  }
  console.log(table(rows));
  const missed = figures.filter((f) => f.met === false);
  console.log(
    missed.length === 0
      ? "every target met"
      : `${missed.length} target(s) missed: ${missed.map((f) => `${f.bench}: ${f.figure}`).join("; ")}`,
  );
  for (const name of failed) console.log(`${name} could not run: ${results[name].error.split("\n")[0]}`);
  const counted = new Map();
  for (const f of findings) counted.set(f, (counted.get(f) ?? 0) + 1);
  if (counted.size > 0) {
    console.log("\nnoticed while measuring:");
    for (const [text, count] of counted) console.log(`  ${text}${count > 1 ? ` (x${count})` : ""}`);
  }

  if (args.json !== undefined) {
    const clean = (row) => ({ ...row, median: round(row.median, 3), min: round(row.min, 3), max: round(row.max, 3) });
    writeFileSync(
      args.json,
      `${JSON.stringify(
        {
          bench: "run",
          date: new Date().toISOString(),
          run: RUN_ID,
          machine: { ...machine, loadAfter: loadavg().map((v) => round(v, 2)) },
          options: { runs: RUNS, only: ONLY, scaleRounds: SCALE_ROUNDS },
          images: { agent: FAKE_AGENT_IMAGE, gate: GATE_IMAGE },
          summary: figures.map(clean),
          failed,
          findings: [...counted.keys()],
          results,
          seconds: round((Date.now() - started) / 1000, 1),
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nfigures written to ${args.json}`);
  }
  return failed.length === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`bench/run: ${error.message}`);
  code = 1;
} finally {
  cleanupAll();
}
process.exit(code);
