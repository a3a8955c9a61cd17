/**
 * A hostile agent against the bottle's limits: it tries to outlive
 * `limits.timeout` (rewriting the file the runner once took claude's pid from,
 * fork-bombing the bottle to its pid limit, freezing claude so no signal from
 * inside can end it) and to fill the runner's disk through the state directory.
 *
 * Each scenario runs the built `node runner` on the scriptable fake claude, whose
 * tool calls carry out the attack. A user sees the run end within the timeout
 * plus the stop grace (plus the final snapshot and teardown), with outcome
 * `timeout` and the state preserved, or a state directory that stays within
 * `limits.state` with the last snapshot that fitted; and no container or network
 * is left either way.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { cleanupOrphans } from "../../src/bottle/inventory.js";
import { rescueBottle } from "../../src/bottle/launch/rescue.js";
import { DockerodeClient } from "../../src/docker/dockerode.js";
import { StateStore } from "../../src/state/store.js";
import { GVISOR_RUNTIME } from "../../src/bottle/runtime.js";
import {
  FAKE_AGENT_IMAGE,
  type RunnerRun,
  engineRuntimes,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  sandbox,
  startRunner,
  waitFor,
  walk,
  writeManifest,
  jsonStart,
} from "../support/runner.js";

const TIMEOUT_S = 10;
/** How long the runner waits for claude to stop on its own before the engine kills the agent container. */
const GRACE_S = 5;
/** The final snapshot and the teardown after the stop, on a busy shared machine. */
const MARGIN_S = 15;
/** A runner still going this long after claude started has outlived its timeout for good: it is stopped by the test. */
const GIVE_UP_S = TIMEOUT_S + GRACE_S + MARGIN_S + 30;
const SESSION_STARTED = "claude: hostile agent at work";

const boxes: Sandbox[] = [];

function box(): Sandbox {
  const b = sandbox({ TEST_ANTHROPIC_KEY: "sk-ant-test-limits" });
  boxes.push(b);
  return b;
}

function manifest(b: Sandbox, limits: Record<string, unknown>): string {
  return writeManifest(b.dir, {
    bottles: {
      fake: {
        image: FAKE_AGENT_IMAGE,
        egress: {
          routes: [
            {
              name: "anthropic",
              upstream: "http://127.0.0.1:9",
              inject: { header: "x-api-key", fromEnv: "TEST_ANTHROPIC_KEY" },
              role: "anthropic",
            },
          ],
        },
        limits,
      },
    },
    agents: { hostile: { bottle: "fake" } },
  });
}

afterEach(() => {
  // Only this file's bottles: other runs may share the engine.
  for (const b of boxes) {
    const identity = identityOf(b);
    if (identity) expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  }
});

afterAll(() => {
  for (const b of boxes) rmSync(b.dir, { recursive: true, force: true });
});

interface Timed {
  run: RunnerRun;
  /** Seconds from claude's first line to the runner's exit, or null when the test had to stop the runner. */
  seconds: number | null;
  identity: string;
}

/** The bottle of a sandbox: its one state directory is named for its identity. */
function identityOf(b: Sandbox): string {
  const root = join(b.home, "state");
  return existsSync(root) ? (readdirSync(root)[0] ?? "") : "";
}

/** Removes what a runner the test had to kill left on the engine: only this bottle's resources, by its label. */
function removeBottle(identity: string): void {
  const filter = `label=claude-bottle.identity=${identity}`;
  const ids = (args: string[]) =>
    execFileSync("docker", [...args, "--filter", filter, "-q"], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
  const containers = ids(["ps", "-a"]);
  if (containers.length) execFileSync("docker", ["rm", "-f", ...containers], { stdio: "ignore" });
  const networks = ids(["network", "ls"]);
  if (networks.length) execFileSync("docker", ["network", "rm", ...networks], { stdio: "ignore" });
}

/** Runs the hostile session and times it from claude's first line; gives up (and cleans up) past GIVE_UP_S. */
async function timedRun(b: Sandbox, steps: unknown[]): Promise<Timed> {
  const prompt = fake({
    steps: [
      { say: "hostile agent at work" },
      { write: { path: "evidence.txt", content: "written before the timeout\n" } },
      ...steps,
    ],
    end: "hang",
  });
  const { child, done } = startRunner(
    [...jsonStart("hostile", manifest(b, { timeout: `${TIMEOUT_S}s`, pids: 64 })), prompt],
    b,
  );
  let started = 0;
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
    if (!started && stderr.includes(SESSION_STARTED)) started = Date.now();
  });
  let gaveUp = false;
  const watchdog = setInterval(() => {
    if (started && Date.now() - started > GIVE_UP_S * 1000) {
      gaveUp = true;
      child.kill("SIGKILL");
    }
  }, 250);
  const run = await done.finally(() => clearInterval(watchdog));
  const identity = identityOf(b);
  if (gaveUp) {
    removeBottle(identity);
    return { run, seconds: null, identity };
  }
  return { run, seconds: started ? (Date.now() - started) / 1000 : null, identity };
}

/**
 * Under gVisor a bottle that reaches its pid limit is ended by gVisor as a whole
 * (README, the gVisor item): the session ends there, before the timeout, as a crash.
 */
const GVISOR = engineRuntimes().includes(GVISOR_RUNTIME);

/**
 * What a user relies on after a timeout: on time, outcome timeout, the state kept with the work done so far, nothing
 * left running. Under gVisor a bottle at its pid limit may end sooner, as a crash, with the state kept just the same.
 */
function expectTimedOut(t: Timed, stateWasKilled: boolean, atPidLimit = false): void {
  const bound = TIMEOUT_S + GRACE_S + MARGIN_S;
  expect(
    t.seconds,
    `the runner was still running ${GIVE_UP_S} s after claude started (timeout ${TIMEOUT_S} s, grace ${GRACE_S} s); stopped by the test\n${t.run.stderr}`,
  ).not.toBeNull();
  expect(
    t.seconds!,
    `the runner ended ${t.seconds} s after claude started; the promise is within ${bound} s\n${t.run.stderr}`,
  ).toBeLessThanOrEqual(bound);
  const result = jsonResult(t.run);
  const endedByGvisor = GVISOR && atPidLimit && result.outcome === "crashed";
  if (endedByGvisor)
    expect(t.run.stderr).toMatch(/the agent container stopped \(exit code -?\d+\) while claude ran; under gVisor/);
  else expect(result, t.run.stderr).toMatchObject({ outcome: "timeout" });
  expect(result, t.run.stderr).toMatchObject({ preserved: true });
  const stateDir = String(result.stateDir);
  // The final snapshot was taken at the stop: the work tree (snapshotted only then) and the transcript are there.
  expect(readFileSync(join(stateDir, "workspace/evidence.txt"), "utf8")).toBe("written before the timeout\n");
  const transcripts = [...walk(join(stateDir, "transcript/.claude/projects"))].filter((f) => f.endsWith(".jsonl"));
  expect(transcripts.map((f) => readFileSync(f, "utf8")).join("")).toContain("hostile agent at work");
  if (stateWasKilled && !endedByGvisor) expect(t.run.stderr).toMatch(/the agent container was killed/);
  expect(labelled(t.identity)).toEqual({ containers: [], networks: [] });
}

/** Spawns sleepers until the bottle's pid limit is reached, and goes on trying so that any freed pid is taken again. */
const FORK_BOMB =
  `node -e 'const {spawn}=require("child_process");` +
  `setInterval(()=>{for(let i=0;i<20;i++)spawn("sleep",["100000"],{stdio:"ignore"}).on("error",()=>{})},10);` +
  // With CLAUDE set, claude is frozen once the bomb has filled the bottle: no signal from inside can end it then.
  `if(process.env.CLAUDE)setTimeout(()=>process.kill(Number(process.env.CLAUDE),"SIGSTOP"),2000)' >/dev/null 2>&1 &`;

describe("limits.timeout is enforced from outside the bottle", () => {
  test("the agent rewrites the pid file the runner used to stop claude", async () => {
    const b = box();
    const t = await timedRun(b, [
      { run: "sleep 100000 >/dev/null 2>&1 & echo $! > /tmp/claude-bottle.pid; echo rewrote" },
    ]);
    expectTimedOut(t, false);
  });

  test("the agent fork-bombs the bottle to its pid limit", async () => {
    const b = box();
    const t = await timedRun(b, [{ run: FORK_BOMB }, { sleep: 3000 }, { say: "the bottle is full" }]);
    expectTimedOut(t, false, true);
  });

  test("at the pid limit with claude frozen, nothing inside can stop it: the engine kills the container", async () => {
    const b = box();
    const t = await timedRun(b, [{ run: `CLAUDE=$PPID ${FORK_BOMB}` }]);
    expectTimedOut(t, true, true);
  });
});

describe("a dead runner's bottle", () => {
  test("cleanup's rescue stops claude without the runner: the engine says when its exec has ended", async () => {
    const b = box();
    const prompt = fake({
      steps: [
        { say: "hostile agent at work" },
        { write: { path: "evidence.txt", content: "written before the runner died\n" } },
        { say: "still going" },
      ],
      end: "hang",
    });
    const { child, done } = startRunner(["start", "hostile", "--manifest", manifest(b, {}), "--prompt", prompt], b);
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    await waitFor(() => stderr.includes("claude: still going"), 120_000, "claude to work");
    child.kill("SIGKILL");
    await done;
    const identity = identityOf(b);
    // What `node runner cleanup` does, for this bottle only: the engine is shared.
    const docker = new DockerodeClient();
    const state = new StateStore(b.home);
    const lines: string[] = [];
    const log = {
      info: (l: string) => lines.push(l),
      warn: (l: string) => lines.push(`warning: ${l}`),
      progress: () => {},
    };
    const started = Date.now();
    const report = await cleanupOrphans(docker, {
      identities: [identity],
      force: true,
      rescue: (id) => rescueBottle(id, { docker, state, clock: { now: () => new Date() }, log }),
    });
    const seconds = (Date.now() - started) / 1000;
    expect(report.failures).toEqual([]);
    // claude ended on SIGTERM, so the rescue did not wait out the grace.
    expect(seconds, lines.join("\n")).toBeLessThan(GRACE_S);
    expect(lines.join("\n")).not.toContain("the agent container was killed");
    const metadata = JSON.parse(readFileSync(join(state.dir(identity), "metadata.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(metadata.outcome).toBe("interrupted");
    expect(readFileSync(join(state.dir(identity), "workspace/evidence.txt"), "utf8")).toBe(
      "written before the runner died\n",
    );
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });
});

/** Bytes of the files below `dir` (what `du --apparent-size` counts). */
function bytesIn(dir: string): number {
  let total = 0;
  for (const file of walk(dir)) total += statSync(file).size;
  return total;
}

describe("limits.state bounds what a bottle writes into the state directory", () => {
  test("--dry-run shows the limit, in bytes and as the manifest says it", async () => {
    const b = box();
    const json = await startRunner(
      [
        "start",
        "hostile",
        "--manifest",
        manifest(b, { state: "8m" }),
        "--prompt",
        "x",
        "--dry-run",
        "--format",
        "json",
      ],
      b,
    ).done;
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      stateLimitBytes: 8 * 1024 * 1024,
      agentContainer: {
        command: [
          "claude",
          "-p",
          "x",
          "--output-format",
          "stream-json",
          "--verbose",
          "--append-system-prompt-file",
          "/opt/claude-bottle/system-prompt.md",
          "--dangerously-skip-permissions",
        ],
      },
    });
    const text = await startRunner(["start", "hostile", "--manifest", manifest(b, {}), "--prompt", "x", "--dry-run"], b)
      .done;
    expect(text.stdout).toMatch(/limits: .*, timeout 30m, state 2g\n/);
    expect(existsSync(join(b.home, "state"))).toBe(false);
  });

  test("tens of megabytes into the work tree, ~/.claude and claude's stdout, then a crash: the state stays within the limit", async () => {
    const b = box();
    const flood = [
      "head -c 25165824 /dev/zero > big-workspace.bin",
      "head -c 25165824 /dev/zero > ~/.claude/big-transcript.bin",
      // Straight into claude's own stdout, which the runner keeps as events.jsonl.
      "head -c 16777216 /dev/zero | tr '\\0' x | fold -w 1048576 > /proc/$PPID/fd/1",
      "echo flooded",
    ].join("; ");
    const prompt = fake({
      steps: [{ say: "before the flood" }, { sleep: 3000 }, { run: flood }, { say: "after the flood" }],
      end: "crash",
    });
    const { done } = startRunner(
      ["start", "hostile", "--manifest", manifest(b, { state: "8m" }), "--format", "json", "--prompt", prompt],
      b,
    );
    const run = await done;
    const result = jsonResult(run);
    const stateDir = String(result.stateDir);
    const bytes = bytesIn(stateDir);
    expect(bytes, `the state directory holds ${bytes} bytes; limits.state is 8m`).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(run.code).toBe(1);
    expect(result, run.stderr).toMatchObject({ outcome: "state-limit", preserved: true });
    // The last snapshot that fitted is kept: the transcript from before the flood.
    const transcripts = [...walk(join(stateDir, "transcript/.claude/projects"))].filter((f) => f.endsWith(".jsonl"));
    expect(transcripts.map((f) => readFileSync(f, "utf8")).join("")).toContain("before the flood");
    expect(existsSync(join(stateDir, "transcript/.claude/big-transcript.bin"))).toBe(false);
    expect(run.stderr).toMatch(/limits\.state \(8m\)/);
    expect(run.stderr).toMatch(/raise bottles\.fake\.limits\.state in .*claude-bottle\.json/);
    expect(run.stderr).toContain(`node runner resume ${String(result.identity)}`);
    expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
  });
});
