/**
 * Kills, restarts and full disks: faults that come from outside the runner's own
 * code, each followed by what a person (or the next job) does next.
 *
 * - The action's main step SIGKILLed at `cache-save` (the run has ended, its state is
 *   about to go to the cache), then the post step: the state must reach the cache all
 *   the same, and a resume job must continue the session.
 * - The Docker daemon restarted while claude works (SIGTERM to dockerd, started again
 *   with the same command line): the runner must end by itself with a clear outcome,
 *   keep the turns snapshotted before the restart, and `cleanup` must leave nothing.
 * - The state directory on a small tmpfs that fills up, once because something else
 *   filled the disk and once because claude's `~/.claude` outgrew it: a clear ENOSPC
 *   line, no stack trace, the last snapshot intact and resumable, nothing
 *   half-written, nothing left on the engine.
 *
 * SIGKILL of `node runner start` at each launch phase is test/faults/phases.test.faults.ts.
 * A test whose runner hangs kills it after a limit and removes what it left, so one
 * stuck bottle never stalls the rest of the suite.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { newJob, runStep, startStep } from "../support/action.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import {
  type RunnerRun,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  sandbox,
  startRunner,
  waitFor,
} from "../support/runner.js";
import { printTableAfterAll, record } from "./report.js";
import { stackTrace } from "./support.js";
import {
  canMount,
  fakeBottle,
  fillDisk,
  forceRemove,
  localDaemon,
  mountTmpfs,
  restartDaemon,
  snapshotLeftovers,
  statesIn,
  transcriptMentions,
  transcriptTurns,
  waitForQuietEngine,
} from "./support-kill.js";

const KEY = `sk-ant-faults-${Math.random().toString(36).slice(2)}`;

/** The resumed session writes down which turns it finds in its transcript. */
const RESUME = fake({
  steps: [{ run: "grep -ho 'turn [a-z]*' ~/.claude/projects/*/*.jsonl | sort -u | tr '\\n' ' ' > seen.txt" }],
});

/** Collects what went wrong without stopping at the first miss, so the table and the cleanup see the whole picture. */
class Findings {
  readonly misses: string[] = [];
  readonly notes: string[] = [];

  check(ok: boolean, what: string): boolean {
    if (!ok) this.misses.push(what);
    expect.soft(ok, what).toBe(true);
    return ok;
  }

  note(text: string): void {
    this.notes.push(text);
  }

  result(): string {
    const happened = this.notes.join("; ");
    return this.misses.length === 0
      ? `pass${happened ? ` (${happened})` : ""}`
      : `FAIL: ${this.misses.join("; ")}${happened ? ` (${happened})` : ""}`;
  }
}

interface Fault {
  /** The row's name in the table, and the test's. */
  fault: string;
  /** What must hold, as the table says it. */
  checked: string;
  /** Why this machine cannot inject the fault: the test fails saying so (CI must be able to). */
  cannot?: string | null;
  timeout?: number;
}

/** One fault: a test that runs `body` and records its row, what was checked and what happened, pass or not. */
function faultTest(spec: Fault, body: (f: Findings) => Promise<void>): void {
  const run = async () => {
    const f = new Findings();
    try {
      if (spec.cannot) throw new Error(`this machine cannot inject the fault: ${spec.cannot}`);
      await body(f);
    } catch (error) {
      f.misses.push(`stopped: ${String((error as Error).message ?? error).split("\n")[0]}`);
      throw error;
    } finally {
      record(spec.fault, spec.checked, f.result().replaceAll("|", "\\|").replaceAll("\n", " "));
    }
  };
  test(spec.fault, run, spec.timeout);
}

type Started = ReturnType<typeof startRunner>;
type Ended = RunnerRun & { hung: boolean };

/** Runner processes of the current test, killed after it whatever happened. */
const children: Started[] = [];

function start(args: string[], box: Sandbox): Started {
  const run = startRunner(args, box);
  children.push(run);
  return run;
}

/** The run once it ends, or SIGKILLed after `ms` with `hung` set: a runner that hangs is a finding, not a stuck suite. */
async function within(run: Started, ms: number): Promise<Ended> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((r) => (timer = setTimeout(() => r(null), Math.max(ms, 1_000))));
  const ended = await Promise.race([run.done, late]);
  clearTimeout(timer);
  if (ended !== null) return { ...ended, hung: false };
  run.child.kill("SIGKILL");
  return { ...(await run.done), hung: true };
}

/** `node runner <args>` with no pause point, at most `ms`. */
function runner(args: string[], box: Sandbox, ms = 90_000): Promise<Ended> {
  return within(start(args, { ...box, env: { ...box.env, CLAUDE_BOTTLE_PAUSE_AT: "" } }), ms);
}

function tail(text: string, lines = 3): string {
  return text.trim().split("\n").slice(-lines).join(" / ");
}

/** The JSON result, when the runner printed one. */
function resultOf(run: RunnerRun): Record<string, unknown> | null {
  try {
    return jsonResult(run);
  } catch {
    return null;
  }
}

/** Lines of the runner's stderr that name a problem: warnings and errors. */
function problemLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /warning:|^claude-bottle: /.test(l) && !/paused at/.test(l));
}

function noResources(f: Findings, identity: string, when: string): void {
  const left = labelled(identity);
  f.check(
    left.containers.length === 0 && left.networks.length === 0,
    `0 containers/networks ${when} (left: ${[...left.containers, ...left.networks].join(", ")})`,
  );
}

/** `node runner cleanup`, then nothing of `identity` may be left; a cleanup that hangs is killed and the leftovers removed by hand. */
async function cleanupLeavesNothing(f: Findings, box: Sandbox, identity: string): Promise<void> {
  const cleanup = await runner(["cleanup"], box, 45_000);
  f.check(
    !cleanup.hung,
    `cleanup ends by itself (it hung and was killed after 45 s; its stderr ends: ${tail(cleanup.stderr)})`,
  );
  f.check(cleanup.hung || cleanup.code === 0, `cleanup exits 0 (${cleanup.code}: ${tail(cleanup.stderr)})`);
  noResources(f, identity, "after cleanup");
  // What a person does next when cleanup could not: remove them by hand, so resume can be tried.
  const removed = forceRemove(identity);
  if (removed.length) f.note(`removed by hand after cleanup: ${removed.join(", ")}`);
}

/** The state of `identity` as `resume` will find it: metadata naming the session, the transcript with `turns`, no half-made snapshot. */
function checkWhole(
  f: Findings,
  box: Sandbox,
  identity: string,
  turns: string[],
): { dir: string; metadata: Record<string, unknown> | null } | null {
  const dir = join(box.home, "state", identity);
  if (!f.check(existsSync(dir), `the state ${identity} is kept (states: ${statesIn(box.home).join(", ") || "none"})`))
    return null;
  let metadata: Record<string, unknown> | null = null;
  try {
    metadata = JSON.parse(readFileSync(join(dir, "metadata.json"), "utf8")) as Record<string, unknown>;
  } catch (error) {
    f.check(false, `metadata.json parses (${(error as Error).message})`);
  }
  if (metadata)
    f.check(
      /^[0-9a-f-]{36}$/.test(String(metadata.sessionId)),
      `metadata names the session (${String(metadata.sessionId)})`,
    );
  let kept: string[] = [];
  try {
    kept = transcriptTurns(dir);
  } catch (error) {
    f.check(false, (error as Error).message);
  }
  for (const turn of turns)
    f.check(kept.includes(turn), `the kept transcript has "${turn}" (it has: ${kept.join(", ") || "nothing"})`);
  f.check(snapshotLeftovers(dir).length === 0, `no half-made snapshot is left (${snapshotLeftovers(dir).join(", ")})`);
  return { dir, metadata };
}

/** The preserved state of `identity`: whole, marked preserved, with one of `outcomes`. */
function checkPreserved(
  f: Findings,
  box: Sandbox,
  identity: string,
  outcomes: string[],
  turns: string[],
): Record<string, unknown> | null {
  const whole = checkWhole(f, box, identity, turns);
  if (!whole) return null;
  f.check(existsSync(join(whole.dir, ".preserve")), "the state is marked preserved (.preserve)");
  const outcome = String(whole.metadata?.outcome);
  if (whole.metadata)
    f.check(outcomes.includes(outcome), `metadata outcome is ${outcomes.join(" or ")} (it is ${outcome})`);
  return whole.metadata;
}

/** `node runner resume` with the RESUME scenario: it must succeed in the same session and see `turns`. */
async function checkResume(
  f: Findings,
  box: Sandbox,
  identity: string,
  sessionId: unknown,
  turns: string[],
): Promise<void> {
  const resumed = await runner(["resume", identity, "--format", "json", "--prompt", RESUME], box);
  const result = resultOf(resumed);
  const ok = f.check(
    result?.outcome === "success" && result.sessionId === sessionId,
    `resume ends success in session ${String(sessionId)} (got ${JSON.stringify(result)}; ${tail(resumed.stderr)})`,
  );
  if (!ok) return;
  const seenFile = join(box.workspace, "seen.txt");
  const seen = existsSync(seenFile) ? readFileSync(seenFile, "utf8") : "";
  for (const turn of turns)
    f.check(seen.includes(turn), `the resumed session sees "${turn}" (it saw: ${seen.trim() || "nothing"})`);
  noResources(f, identity, "after the resumed run");
  f.note(`resume sees ${turns.join(", ")}`);
}

/** Identities a test met, removed by force after it if anything of them is still on the engine. */
const met = new Set<string>();

afterEach(async () => {
  for (const run of children.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill("SIGKILL");
      await run.done;
    }
  }
  for (const identity of met) {
    const removed = forceRemove(identity);
    if (removed.length) console.warn(`removed by force what ${identity} left: ${removed.join(", ")}`);
  }
  met.clear();
});

printTableAfterAll("Kills, restarts and full disks");

describe("the action killed at cache-save", () => {
  let server: CacheServer | null = null;
  afterAll(async () => {
    await server?.close();
  });

  faultTest(
    {
      fault: "action main SIGKILLed at cache-save, then post",
      checked:
        "0 containers/networks; post saves the state to the cache; a resume job continues the session, sees every turn and gets the work tree back",
    },
    async (f) => {
      server = await startCacheServer({ protocol: "v1", flavour: "gitea" });
      const checkout = () => {
        const dir = mkdtempSync(join(tmpdir(), "bottle-checkout-"));
        fakeBottle(dir, "fixer", "ANTHROPIC_API_KEY");
        writeFileSync(join(dir, "README.md"), "a project\n");
        return dir;
      };
      const job = newJob({
        workspace: checkout(),
        runId: "1201",
        attempt: 1,
        cacheEnv: server.env,
        env: { CLAUDE_BOTTLE_PAUSE_AT: "cache-save" },
      });
      const task = fake({
        steps: [{ say: "turn one" }, { write: { path: "half.txt", content: "half\n" } }, { say: "turn two" }],
        end: "crash",
      });
      const main = startStep(job, "main", {
        agent: "fixer",
        prompt: task,
        "anthropic-api-key": KEY,
        "save-state": "cache",
      });
      let out = "";
      main.child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
      try {
        await waitFor(() => out.includes("paused at cache-save"), 120_000, "main to reach cache-save");
      } finally {
        main.child.kill("SIGKILL");
      }
      const killed = await main.done;
      const identity = killed.outputs.identity as string;
      met.add(identity);
      const key = `bottle-state-${identity}-1201-1`;
      f.check(!server.entries().some((e) => e.key === key), "nothing was in the cache before post ran");
      const stateDir = join(job.runnerTemp, "claude-bottle", "state", identity);
      f.check(existsSync(join(stateDir, ".preserve")), "main had preserved the crashed bottle before it was killed");
      const sessionId = (JSON.parse(readFileSync(join(stateDir, "metadata.json"), "utf8")) as { sessionId?: string })
        .sessionId;

      job.env.CLAUDE_BOTTLE_PAUSE_AT = "";
      const post = await runStep(job, "post");
      f.check(post.code === 0, `post exits 0 (${post.code})`);
      f.check(
        post.stdout.includes(`the bottle's state is saved to the cache as ${key}`),
        `post says it saved ${key} (${tail(post.stdout, 2)})`,
      );
      f.check(
        server.entries().some((e) => e.key === key),
        `the cache holds ${key}`,
      );
      f.check(stackTrace(post.stdout) === null, `post prints no stack trace (${stackTrace(post.stdout)})`);
      noResources(f, identity, "after post");

      const resumeJob = newJob({ workspace: checkout(), runId: "1202", attempt: 1, cacheEnv: server.env });
      const resume = await runStep(resumeJob, "main", {
        mode: "resume",
        identity,
        "anthropic-api-key": KEY,
        "resume-prompt": RESUME,
      });
      f.check(
        resume.code === 0 && resume.outputs.outcome === "success",
        `the resume job ends success (exit ${resume.code}, outcome ${resume.outputs.outcome}; ${tail(resume.stdout)})`,
      );
      f.check(
        resume.outputs["session-id"] === sessionId,
        `the resume job continues session ${sessionId} (it ran ${resume.outputs["session-id"]})`,
      );
      // A resumed bottle's work lands in the resume job's own checkout, not in the directory the first job had.
      const seen = existsSync(join(resumeJob.workspace, "seen.txt"))
        ? readFileSync(join(resumeJob.workspace, "seen.txt"), "utf8")
        : "";
      for (const turn of ["turn one", "turn two"])
        f.check(seen.includes(turn), `the resumed session sees "${turn}" (it saw: ${seen.trim() || "nothing"})`);
      f.check(
        existsSync(join(resumeJob.workspace, "half.txt")),
        "the work tree from before the kill came back into the resume job's checkout",
      );
      noResources(f, identity, "after the resume job");
      f.note(`post saved ${key}; the resume job sees turn one, turn two`);
    },
  );
});

describe("the Docker daemon restarted mid-session", () => {
  const daemon = localDaemon();

  faultTest(
    {
      fault: "dockerd restarted mid-session",
      checked:
        "the runner ends by itself (≤ 120 s), exit 1, outcome crashed or error, no stack trace; state preserved with the turns before the restart; after cleanup 0 containers/networks; resumable",
      cannot: typeof daemon === "string" ? daemon : null,
      timeout: 480_000,
    },
    async (f) => {
      if (typeof daemon === "string") return;
      const agent = "restarted";
      const ours = (name: string) => name.startsWith(`claude-bottle-${agent}-`);
      // Restarting the daemon stops every container on it: wait for an engine this suite has to itself.
      await waitForQuietEngine(ours, 300_000);
      const box = sandbox({ TEST_ANTHROPIC_KEY: KEY });
      const manifest = fakeBottle(box.dir, agent, "TEST_ANTHROPIC_KEY");
      const task = fake({
        steps: [
          { say: "turn one" },
          { write: { path: "progress.txt", content: "half" } },
          { say: "turn two" },
          { sleep: 60_000 },
        ],
        end: "success",
      });
      const run = start(
        ["start", agent, "--manifest", manifest, "--format", "json", "--snapshot-interval", "1s", "--prompt", task],
        box,
      );
      await waitFor(
        () => statesIn(box.home).some((id) => transcriptMentions(join(box.home, "state", id), "turn two")),
        90_000,
        "the second turn on disk",
      );
      const identity = statesIn(box.home)[0] as string;
      met.add(identity);

      await waitForQuietEngine(ours, 30_000);
      const restarted = Date.now();
      const timing = await restartDaemon(daemon);
      f.note(
        `dockerd stopped in ${(timing.stopMs / 1000).toFixed(1)} s and answered ${(timing.startMs / 1000).toFixed(1)} s after its start`,
      );
      const ended = await within(run, 120_000 - (Date.now() - restarted));
      if (
        f.check(
          !ended.hung,
          `the runner ends by itself within 120 s of the restart (it hung and was killed; its stderr ends: ${tail(ended.stderr)})`,
        )
      ) {
        f.note(`the runner ended ${((Date.now() - restarted) / 1000).toFixed(0)} s after the restart began`);
      }
      f.check(ended.hung || ended.code === 1, `exit code 1 (it was ${ended.code})`);
      f.check(stackTrace(ended.stderr) === null, `no stack trace (${stackTrace(ended.stderr)})`);
      const result = resultOf(ended);
      const outcome = result ? String(result.outcome) : "none (no result printed)";
      f.check(["crashed", "error"].includes(outcome), `outcome crashed or error (it was ${outcome})`);
      f.note(`outcome ${outcome}; it said: ${problemLines(ended.stderr).slice(-2).join(" / ")}`);

      const metadata = checkPreserved(f, box, identity, ["crashed", "error"], ["turn one", "turn two"]);
      await cleanupLeavesNothing(f, box, identity);
      if (metadata) await checkResume(f, box, identity, metadata.sessionId, ["turn one", "turn two"]);
    },
  );
});

describe("a full disk under the state directory", () => {
  const cannot = canMount();
  const unmounts: (() => void)[] = [];
  afterAll(() => {
    for (const unmount of unmounts.splice(0)) unmount();
  });

  /** A sandbox whose state home is a tmpfs of `size`. */
  function smallDisk(size: string): { box: Sandbox; unmount: () => void } {
    const box = sandbox({ TEST_ANTHROPIC_KEY: KEY });
    const unmount = mountTmpfs(box.home, size);
    unmounts.push(unmount);
    return {
      box,
      unmount: () => {
        unmounts.splice(unmounts.indexOf(unmount), 1);
        unmount();
      },
    };
  }

  /** What every full-disk run must show: it ends by itself with exit 1, a line says ENOSPC, no stack trace. */
  function checkRun(f: Findings, ended: Ended, limitS: number): void {
    f.check(
      !ended.hung,
      `the runner ends within ${limitS} s (it hung and was killed; its stderr ends: ${tail(ended.stderr)})`,
    );
    f.check(ended.hung || ended.code === 1, `exit code 1 (it was ${ended.code})`);
    const result = resultOf(ended);
    f.note(result ? `outcome ${String(result.outcome)}` : "no result printed");
    const disk = problemLines(ended.stderr).filter((l) => /ENOSPC|no space left/i.test(l));
    f.check(
      disk.length > 0,
      `a line names the full disk (ENOSPC); the problem lines were: ${problemLines(ended.stderr).join(" / ") || "none"}`,
    );
    f.check(stackTrace(ended.stderr) === null, `no stack trace (${stackTrace(ended.stderr)})`);
    if (disk.length) f.note(`it said: ${disk[0]}`);
  }

  /**
   * A disk that stays full: nothing more can be written, so the state stays as the
   * last snapshot left it. It must be whole (metadata and transcript parse, no
   * half-made snapshot) and resumable once space is freed.
   */
  function checkIntact(f: Findings, box: Sandbox, identity: string, turns: string[]): Record<string, unknown> | null {
    const whole = checkWhole(f, box, identity, turns);
    if (!whole) return null;
    const partial = readdirSync(whole.dir).filter((n) => n.includes(".tmp-"));
    f.check(partial.length === 0, `no half-written file is left (${partial.join(", ")})`);
    f.note(
      `the state says ${String(whole.metadata?.outcome)}, ${existsSync(join(whole.dir, ".preserve")) ? "marked" : "not marked"} preserved`,
    );
    return whole.metadata;
  }

  faultTest(
    {
      fault: "state dir full: the disk (8 MiB tmpfs) filled up mid-session",
      checked:
        "the runner ends (≤ 60 s), exit 1, a clear ENOSPC line and a last line saying the outcome could not be recorded and what to do, no stack trace; the last snapshot intact (metadata and transcript parse, has turn one); no half-written snapshot or file; 0 containers/networks; once space is freed, resume continues",
      cannot,
    },
    async (f) => {
      const { box, unmount } = smallDisk("8m");
      try {
        const manifest = fakeBottle(box.dir, "filler", "TEST_ANTHROPIC_KEY");
        const task = fake({
          steps: [
            { say: "turn one" },
            { write: { path: "progress.txt", content: "written before the disk filled\n" } },
            { sleep: 6_000 },
            { say: "turn two" },
            { sleep: 1_000 },
          ],
          end: "crash",
        });
        const run = start(["start", "filler", "--manifest", manifest, "--format", "json", "--prompt", task], box);
        await waitFor(
          () => statesIn(box.home).some((id) => transcriptMentions(join(box.home, "state", id), "progress.txt")),
          60_000,
          "the first turn on disk",
        );
        const identity = statesIn(box.home)[0] as string;
        met.add(identity);
        // Something else on the machine takes the rest of the disk.
        const ballast = fillDisk(box.home);
        f.note(`filled the disk with ${Math.round(ballast.bytes / 1024)} KiB`);
        const ended = await within(run, 60_000);
        checkRun(f, ended, 60);
        f.check(
          /could not record the outcome crashed in .*: ENOSPC.*free some space, then resume/.test(ended.stderr),
          `the last line says the outcome could not be recorded and what to do (${tail(ended.stderr, 1)})`,
        );
        if (ended.hung) await cleanupLeavesNothing(f, box, identity);
        else noResources(f, identity, "after the run");
        const metadata = checkIntact(f, box, identity, ["turn one"]);
        rmSync(ballast.file);
        if (metadata) await checkResume(f, box, identity, metadata.sessionId, ["turn one"]);
      } finally {
        unmount();
      }
    },
  );

  faultTest(
    {
      fault: "state dir full: a 20 MB file in ~/.claude, 8 MiB tmpfs",
      checked:
        "the runner ends (≤ 45 s), a clear ENOSPC line, no stack trace, outcome crashed; the last snapshot intact (has turn one); the work tree kept; no half-written snapshot; after cleanup 0 containers/networks; resumable",
      cannot,
    },
    async (f) => {
      const { box, unmount } = smallDisk("8m");
      try {
        const manifest = fakeBottle(box.dir, "outgrown", "TEST_ANTHROPIC_KEY");
        const task = fake({
          steps: [
            { say: "turn one" },
            { write: { path: "progress.txt", content: "written before the disk filled\n" } },
            { sleep: 1_500 },
            { run: 'head -c 20000000 /dev/zero > "$HOME/.claude/ballast.bin"' },
            { say: "turn two" },
            { sleep: 1_000 },
          ],
          end: "crash",
        });
        const run = start(["start", "outgrown", "--manifest", manifest, "--format", "json", "--prompt", task], box);
        const ended = await within(run, 45_000);
        const identity = String(resultOf(ended)?.identity ?? statesIn(box.home)[0]);
        met.add(identity);
        checkRun(f, ended, 45);
        f.check(
          ended.hung || resultOf(ended)?.outcome === "crashed",
          `outcome crashed (${String(resultOf(ended)?.outcome ?? "no result")})`,
        );
        if (ended.hung) await cleanupLeavesNothing(f, box, identity);
        else noResources(f, identity, "after the run");
        // Once the big file is left behind, the disk has room again: the state must be settled as any crash is.
        const metadata = checkPreserved(f, box, identity, ["crashed"], ["turn one"]);
        const work = join(box.home, "state", identity, "workspace", "progress.txt");
        f.check(existsSync(work), "the work tree is kept in the state (workspace/progress.txt)");
        if (metadata) await checkResume(f, box, identity, metadata.sessionId, ["turn one"]);
      } finally {
        forceRemoveQuietly(met);
        unmount();
      }
    },
  );
});

/** Before a tmpfs goes away nothing may still write to it: a hung runner's containers go first. */
function forceRemoveQuietly(identities: Set<string>): void {
  for (const identity of identities) forceRemove(identity);
}
