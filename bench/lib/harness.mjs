// Plumbing for bench/run.mjs: the docker CLI, timed child processes, `node runner`
// runs in a state home of their own, readings from /proc and the containers'
// cgroups, small statistics and plain-text tables.
//
// Everything a benchmark starts through the runner carries the runner's labels
// (claude-bottle.identity=<agent>-<5 chars>); the benchmark's agent name is unique
// to one bench run, so `sweep()` removes exactly what this run made and nothing
// another user of the engine owns. Containers the benchmarks start themselves (the
// baselines) carry bottle-bench.run=<run> instead, so no `node runner cleanup`
// elsewhere on the machine mistakes them for an orphaned bottle.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const RUNNER = join(ROOT, "runner");
export const NODE = process.execPath;
export const FAKE_AGENT_IMAGE = process.env.BENCH_AGENT_IMAGE ?? "bottle-test/fake-agent:latest";
export const GATE_IMAGE = process.env.CLAUDE_BOTTLE_GATE_IMAGE ?? "bottle-test/node:24";
export const IDENTITY_LABEL = "claude-bottle.identity";

export const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
export const quietly = (fn) => {
  try {
    return fn();
  } catch {
    return undefined;
  }
};

// ---------------------------------------------------------------- docker

export function docker(args, input) {
  try {
    return execFileSync("docker", args, {
      encoding: "utf8",
      input,
      stdio: ["pipe", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    }).trim();
  } catch (error) {
    const detail = (error.stderr ?? "").toString().trim() || error.message;
    throw new Error(`docker ${args.slice(0, 2).join(" ")}: ${detail}`);
  }
}

export function requireImages(images) {
  for (const image of new Set(images)) {
    if (quietly(() => docker(["image", "inspect", "--format", "{{.Id}}", image])) === undefined) {
      throw new Error(
        `the image ${image} is not on this machine (nothing is pulled); build it with test/images/build.sh`,
      );
    }
  }
}

/**
 * The network the baselines' containers run on, as `docker run` arguments: Docker's
 * default bridge (none), or, when the engine's default bridge has lost its interface
 * (then every `docker run` without `--network` fails with "could not find bridge"),
 * a bridge network of this bench run's own, labelled and removed by `remove()`.
 * `gateway` is the host's address on it, where containers reach servers of the bench.
 */
export function baselineNetwork(runId, label) {
  const bridge = docker([
    "network",
    "inspect",
    "bridge",
    "--format",
    '{{index .Options "com.docker.network.bridge.name"}} {{(index .IPAM.Config 0).Gateway}}',
  ]);
  const [iface, listed] = bridge.split(" ");
  if (iface && existsSync(`/sys/class/net/${iface}`)) {
    // A fresh engine may list the default bridge's subnet without its gateway: the bridge's own address is
    // it (read with `ip`: Node lists no interface that is down, as docker0 is while nothing runs on it).
    const gateway = /^\d+\.\d+\.\d+\.\d+$/.test(listed ?? "")
      ? listed
      : /inet (\d+\.\d+\.\d+\.\d+)\//.exec(
          quietly(() => execFileSync("ip", ["-4", "-o", "addr", "show", "dev", iface], { encoding: "utf8" })) ?? "",
        )?.[1];
    return { args: [], gateway, note: null, remove() {} };
  }
  const name = `bottle-bench-${runId}`;
  docker(["network", "create", "--label", label, name]);
  const own = docker(["network", "inspect", name, "--format", "{{(index .IPAM.Config 0).Gateway}}"]);
  return {
    args: ["--network", name],
    gateway: own,
    note: `the default bridge's interface ${iface || "(unnamed)"} is missing on this engine, so the baselines run on the bench's own bridge network ${name}`,
    remove: () => quietly(() => docker(["network", "rm", name])),
  };
}

// ---------------------------------------------------------------- child processes

const children = new Set();

/** Child processes still running: the signal handler stops them before sweeping. */
export function liveChildren() {
  return [...children];
}

/**
 * Runs a command and times it from just before the spawn to its exit, in ms.
 * `firstStdout` is when the first stdout bytes arrived (undefined if none).
 */
export function timed(command, argv, { env = process.env, cwd, input, timeoutMs = 10 * 60_000 } = {}) {
  return new Promise((resolveRun, rejectRun) => {
    const t0 = performance.now();
    const child = spawn(command, argv, { env, cwd, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    let firstStdout;
    child.stdout.on("data", (chunk) => {
      firstStdout ??= performance.now() - t0;
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-64_000)));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    let exited;
    child.once("exit", (code, signal) => (exited = { ms: performance.now() - t0, code, signal }));
    child.once("error", (error) => {
      clearTimeout(timer);
      children.delete(child);
      rejectRun(new Error(`${command}: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      exited ??= { ms: performance.now() - t0, code, signal };
      resolveRun({ ...exited, firstStdout, stdout, stderr });
    });
  });
}

/** Like `timed`, but fails unless the command exits 0. */
export async function timedOk(command, argv, options) {
  const run = await timed(command, argv, options);
  if (run.code !== 0) {
    throw new Error(
      `${command} ${argv.join(" ").slice(0, 120)} exited with ${run.code ?? run.signal}: ${run.stderr.trim().slice(-600)}`,
    );
  }
  return run;
}

// ---------------------------------------------------------------- /proc and cgroups

/**
 * A process's peak and current resident set in MiB (undefined once it is gone), and
 * the current one split into anonymous memory (heap, stacks) and file pages (the
 * mapped node binary and libraries, shared with every other node process).
 */
export function procMemory(pid) {
  const text = quietly(() => readFileSync(`/proc/${pid}/status`, "utf8"));
  if (text === undefined) return undefined;
  const field = (name) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
    return match ? Number(match[1]) / 1024 : undefined;
  };
  return { hwm: field("VmHWM"), rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
}

/**
 * Follows a process's memory every `everyMs` until `stop()`: the largest VmHWM,
 * VmRSS and RssAnon seen. The last reading before the process exits is its peak (VmHWM).
 */
export function memoryPoller(pid, everyMs = 20) {
  const seen = { hwm: undefined, rss: undefined, anon: undefined, samples: 0 };
  const tick = () => {
    const reading = procMemory(pid);
    if (reading === undefined) return;
    seen.samples += 1;
    if (reading.hwm !== undefined) seen.hwm = Math.max(seen.hwm ?? 0, reading.hwm);
    if (reading.rss !== undefined) seen.rss = Math.max(seen.rss ?? 0, reading.rss);
    if (reading.anon !== undefined) seen.anon = Math.max(seen.anon ?? 0, reading.anon);
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    seen,
    stop() {
      clearInterval(timer);
      return seen;
    },
  };
}

export function cgroupVersion() {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return 2;
  if (existsSync("/sys/fs/cgroup/memory")) return 1;
  return undefined;
}

/** The host path of a container's memory cgroup file (v1 or v2, cgroupfs or systemd driver). */
function cgroupFile(id, file) {
  const candidates = [
    `/sys/fs/cgroup/memory/docker/${id}/${file}`,
    `/sys/fs/cgroup/memory/system.slice/docker-${id}.scope/${file}`,
    `/sys/fs/cgroup/system.slice/docker-${id}.scope/${file}`,
    `/sys/fs/cgroup/docker/${id}/${file}`,
  ];
  return candidates.find((path) => existsSync(path));
}

/**
 * A container's cgroup memory: `peak` (v1 memory.max_usage_in_bytes, v2
 * memory.peak) and `current`, in MiB; both count page cache with the process.
 */
export function cgroupMemory(id) {
  const read = (file) => {
    const path = cgroupFile(id, file);
    const text = path === undefined ? undefined : quietly(() => readFileSync(path, "utf8").trim());
    return text === undefined || !/^\d+$/.test(text) ? undefined : Number(text) / (1 << 20);
  };
  const peak = read("memory.max_usage_in_bytes") ?? read("memory.peak");
  const current = read("memory.usage_in_bytes") ?? read("memory.current");
  return peak === undefined && current === undefined
    ? undefined
    : {
        peak,
        current,
        source: cgroupFile(id, "memory.max_usage_in_bytes") ? "memory.max_usage_in_bytes" : "memory.peak",
      };
}

/** `docker stats` samples of one container (the fallback when its cgroup is not visible): peak MiB. */
export function statsSampler(name) {
  const child = spawn("docker", ["stats", "--format", "{{.MemUsage}}", name], { stdio: ["ignore", "pipe", "ignore"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const unit = { B: 1 / 1048576, KiB: 1 / 1024, kB: 1 / 1024, KB: 1 / 1024, MiB: 1, MB: 1, GiB: 1024, GB: 1024 };
  const sampler = { peak: undefined, samples: 0, stop: () => child.kill("SIGKILL") };
  child.stdout.setEncoding("utf8").on("data", (text) => {
    for (const match of text.matchAll(/([\d.]+)\s*(B|KiB|MiB|GiB|kB|KB|MB|GB)\s*\//g)) {
      sampler.samples += 1;
      sampler.peak = Math.max(sampler.peak ?? 0, Number(match[1]) * unit[match[2]]);
    }
  });
  return sampler;
}

// ---------------------------------------------------------------- the runner

/** The bench's anthropic route: its credential comes from BENCH_KEY; `upstream` is where the gate sends it. */
export const anthropicRoute = (upstream = "http://127.0.0.1:9") => ({
  name: "anthropic",
  upstream,
  inject: { header: "x-api-key", fromEnv: "BENCH_KEY" },
  role: "anthropic",
});

/**
 * A state home, a manifest and work trees of one benchmark's own, under one temp
 * directory. The manifest has one bottle, `bench` (by default on the fake agent
 * image with an anthropic route that goes nowhere), and one agent named `agent`.
 */
export function sandbox(name, agent, bottle = { image: FAKE_AGENT_IMAGE, egress: { routes: [anthropicRoute()] } }) {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const home = join(dir, "home");
  mkdirSync(home);
  const manifest = join(dir, "claude-bottle.json");
  writeFileSync(
    manifest,
    `${JSON.stringify(
      {
        bottles: { bench: bottle },
        agents: { [agent]: { bottle: "bench", prompt: "You are being measured." } },
      },
      null,
      2,
    )}\n`,
  );
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    CLAUDE_BOTTLE_HOME: home,
    CLAUDE_BOTTLE_GATE_IMAGE: GATE_IMAGE,
    BENCH_KEY: "sk-ant-bench-not-a-real-key",
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
  };
  let workspaces = 0;
  return {
    dir,
    home,
    manifest,
    agent,
    env,
    /** A fresh, empty work tree. */
    workspace() {
      const path = join(dir, `workspace-${++workspaces}`);
      mkdirSync(path);
      return path;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fake-claude scenario as a prompt (test/fake-claude/claude.mjs). */
export const fake = (scenario) => `FAKE:${JSON.stringify(scenario)}`;

/**
 * Runs `node runner <args>` with `--format json` in the sandbox. Returns the exit,
 * the whole-process wall time (`wall`, spawn to exit), the parsed result, every
 * stderr line with the ms since the spawn it arrived at, and with `memory: true`
 * the peak VmHWM/VmRSS of the runner's process (polled every 20 ms).
 */
export function runRunner(box, args, { cwd, memory = false, timeoutMs = 5 * 60_000, onLine } = {}) {
  const killGraceMs = 15_000;
  return new Promise((resolveRun, rejectRun) => {
    const t0 = performance.now();
    const child = spawn(NODE, [RUNNER, ...args], {
      cwd: cwd ?? box.dir,
      env: box.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    const poller = memory ? memoryPoller(child.pid) : undefined;
    let stdout = "";
    const lines = [];
    let rest = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (text) => {
      const at = performance.now() - t0;
      rest += text;
      for (let end = rest.indexOf("\n"); end !== -1; end = rest.indexOf("\n")) {
        const line = { at, text: rest.slice(0, end) };
        lines.push(line);
        onLine?.(line);
        rest = rest.slice(end + 1);
      }
    });
    // A run that outlives its time: note which of its containers the engine no longer
    // answers for, then SIGTERM (the runner stops claude and tears down), then SIGKILL.
    let hung;
    let killer;
    const timer = setTimeout(() => {
      hung = {
        afterMs: timeoutMs,
        lastLine: lines.at(-1)?.text ?? null,
        unresponsive: unresponsiveContainers(child.pid),
      };
      child.kill("SIGTERM");
      killer = setTimeout(() => {
        hung.killed = true;
        child.kill("SIGKILL");
      }, killGraceMs);
    }, timeoutMs);
    let exit;
    child.once("exit", (code, signal) => {
      exit = { code, signal, wall: performance.now() - t0 };
      poller?.stop();
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      clearTimeout(killer);
      children.delete(child);
      rejectRun(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      children.delete(child);
      exit ??= { code, signal, wall: performance.now() - t0 };
      // One JSON object: a line at the end of a run, pretty-printed for --dry-run.
      const last = stdout.trim().split("\n").filter(Boolean).at(-1);
      const result = quietly(() => JSON.parse(last ?? "")) ?? quietly(() => JSON.parse(stdout));
      resolveRun({ ...exit, pid: child.pid, stdout, lines, result, memory: poller?.seen, hung });
    });
  });
}

/**
 * The containers of the runner with this pid (by its claude-bottle.runner label)
 * that `docker inspect` gets no answer for within 5 s: the engine is holding them.
 */
function unresponsiveContainers(pid) {
  const names = (
    quietly(() =>
      docker(["ps", "-a", "--filter", `label=claude-bottle.runner=${hostname()}/${pid}`, "--format", "{{.Names}}"]),
    ) ?? ""
  )
    .split("\n")
    .filter(Boolean);
  return names.filter(
    (name) =>
      quietly(() =>
        execFileSync("docker", ["inspect", "--format", "{{.State.Status}}", name], { stdio: "ignore", timeout: 5_000 }),
      ) === undefined,
  );
}

/** Why a run that did not finish in time stopped, for an error message. */
export function hangReport(run) {
  if (run.hung === undefined) return "";
  const { afterMs, lastLine, unresponsive, killed } = run.hung;
  return (
    `the runner had not finished after ${afterMs / 1000} s (last line: ${JSON.stringify(lastLine)}); ` +
    (unresponsive.length > 0
      ? `the engine did not answer \`docker inspect\` for ${unresponsive.join(", ")} within 5 s; `
      : "") +
    (killed ? "it did not exit on SIGTERM and was killed" : "it exited on SIGTERM")
  );
}

/** The stderr of a run, for an error message. */
export const tail = (run, n = 15) =>
  run.lines
    .slice(-n)
    .map((l) => `    ${l.text}`)
    .join("\n");

/** Fails unless the run printed a result with the expected outcome. */
export function expectOutcome(run, outcome, what) {
  if (run.hung !== undefined) throw new Error(`${what}: ${hangReport(run)}\n${tail(run)}`);
  if (run.result?.outcome !== outcome) {
    throw new Error(
      `${what}: expected outcome ${outcome}, got ${run.result?.outcome ?? `no result (exit ${run.code ?? run.signal})`}\n${tail(run)}`,
    );
  }
  if (typeof run.result.timings?.execStart !== "number")
    throw new Error(`${what}: the result has no timings.execStart (is dist/ current?)`);
  return run.result;
}

// ---------------------------------------------------------------- cleanup

/**
 * Removes every container and network whose identity label belongs to `agent`
 * (`<agent>-…`) and every container carrying `baselineLabel`. Returns what it
 * found of the runner's own, so a benchmark can tell a leak from its baselines.
 */
export function sweep(agent, baselineLabel) {
  const ours = (text) =>
    text
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" "))
      .filter(([, identity]) => identity?.startsWith(`${agent}-`));
  const containers = ours(
    quietly(() =>
      docker([
        "ps",
        "-a",
        "--filter",
        `label=${IDENTITY_LABEL}`,
        "--format",
        `{{.Names}} {{.Label "${IDENTITY_LABEL}"}}`,
      ]),
    ) ?? "",
  );
  const baselines = (quietly(() => docker(["ps", "-aq", "--filter", `label=${baselineLabel}`])) ?? "")
    .split("\n")
    .filter(Boolean);
  const toRemove = [...containers.map(([name]) => name), ...baselines];
  if (toRemove.length > 0) quietly(() => docker(["rm", "-f", "-v", ...toRemove]));
  const networks = ours(
    quietly(() =>
      docker([
        "network",
        "ls",
        "--filter",
        `label=${IDENTITY_LABEL}`,
        "--format",
        `{{.Name}} {{.Label "${IDENTITY_LABEL}"}}`,
      ]),
    ) ?? "",
  );
  for (const [name] of networks) quietly(() => docker(["network", "rm", name]));
  return { containers: containers.map(([name]) => name), networks: networks.map(([name]) => name) };
}

// ---------------------------------------------------------------- numbers and tables

export function stats(values) {
  const sorted = values.filter((v) => typeof v === "number" && Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: undefined, min: undefined, max: undefined, n: 0 };
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted.at(-1), n: sorted.length };
}

export const round = (value, digits = 1) =>
  value === undefined || Number.isNaN(value) ? null : Number(value.toFixed(digits));

/** Formats a value of a unit: "x" (a ratio), "ms", "MiB", "%". */
export function format(value, unit) {
  if (value === undefined || value === null || Number.isNaN(value)) return "n/a";
  switch (unit) {
    case "x":
      return `${value.toFixed(2)}x`;
    case "ms":
      return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ms`;
    case "+ms":
      return `${value >= 0 ? "+" : ""}${value.toFixed(2)} ms`;
    case "MiB":
      return `${value.toFixed(1)} MiB`;
    case "%":
      return `${(value * 100).toFixed(1)} %`;
    default:
      return String(value);
  }
}

/** Plain-text table: the first column left-aligned, the rest right-aligned; a one-cell row is printed as is. */
export function table(rows) {
  const widths = [];
  for (const row of rows) {
    if (row.length === 1) continue;
    row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, String(cell ?? "").length)));
  }
  return rows
    .map((row) =>
      row.length === 1
        ? row[0]
        : row
            .map((cell, column) =>
              column === 0 ? String(cell ?? "").padEnd(widths[0]) : String(cell ?? "").padStart(widths[column]),
            )
            .join("   ")
            .trimEnd(),
    )
    .join("\n");
}
