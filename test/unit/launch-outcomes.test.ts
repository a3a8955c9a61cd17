/**
 * The outcome matrix on the fake engine: how claude's session ended decides the
 * outcome (outcome.ts), and the outcome whether the state is kept or the work tree
 * copied back and the state removed.
 */
import { existsSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { describe, expect, test } from "vitest";
import { readTarFiles } from "../../src/bottle/archive.js";
import { runBottle } from "../../src/bottle/launch/run-bottle.js";
import { preserves } from "../../src/state/outcome.js";
import { PROPOSALS_DIR } from "../../src/supervise/config.js";
import { type ClaudeRun, SESSION_ID } from "../support/fake-docker.js";
import { archiveOf, IDENTITY, type LaunchWorld, launchWorld, testDeps, testPlan } from "../support/launch.js";

const init = (run: ClaudeRun) =>
  run.stdout(JSON.stringify({ type: "system", subtype: "init", session_id: SESSION_ID }));
const result = (run: ClaudeRun, isError: boolean) =>
  run.stdout(
    JSON.stringify({
      type: "result",
      subtype: isError ? "error_during_execution" : "success",
      is_error: isError,
      session_id: SESSION_ID,
      num_turns: 3,
      total_cost_usd: 0.5,
    }),
  );

/** claude as each case has it end; `arrange` may also change the plan's limits or the engine. */
const CASES: {
  outcome: string;
  claude: (run: ClaudeRun, world: LaunchWorld) => Promise<number>;
  supervise?: boolean;
  timeoutMs?: number;
  stateLimitBytes?: number;
}[] = [
  { outcome: "success", claude: async (run) => (init(run), result(run, false), 0) },
  { outcome: "error", claude: async (run) => (init(run), result(run, true), 0) },
  { outcome: "crashed", claude: async (run) => (init(run), 137) },
  {
    outcome: "timeout",
    timeoutMs: 20,
    claude: async (run) => {
      init(run);
      await run.stopped;
      return 143;
    },
  },
  {
    outcome: "interrupted",
    claude: async (run, world) => {
      init(run);
      world.controller.abort();
      await run.stopped;
      return 143;
    },
  },
  { outcome: "capability-block", supervise: true, claude: async (run) => (init(run), result(run, false), 0) },
  { outcome: "state-limit", stateLimitBytes: 64, claude: async (run) => (init(run), result(run, false), 0) },
];

const PROPOSAL = {
  version: 1,
  id: 1,
  dockerfile: "FROM agent:test\nRUN apt-get install -y jq\n",
  reason: "needs jq",
  at: "2026-01-02T03:04:05Z",
};

describe("the outcome decides what is kept", () => {
  for (const c of CASES) {
    const what = preserves(c.outcome as never) ? "the state is kept" : "the work tree comes back, the state goes";
    test(`${c.outcome}: ${what}`, async () => {
      const world = launchWorld();
      const { docker, state } = world;
      docker.archiveOf.set(
        "/home/node/.claude",
        await archiveOf({ [`.claude/projects/p/${SESSION_ID}.jsonl`]: "{}\n" }),
      );
      docker.archiveOf.set(
        "/home/node/workspace",
        await archiveOf({ "workspace/README.md": "changed by the agent\n" }),
      );
      if (c.supervise)
        docker.archiveOf.set(
          PROPOSALS_DIR,
          await archiveOf({ "claude-bottle-proposals/1.json": JSON.stringify(PROPOSAL) }),
        );
      docker.claude = (run) => c.claude(run, world);
      const plan = testPlan(world, c.supervise ? { supervise: "preserve" } : {});
      if (c.timeoutMs) plan.timeoutMs = c.timeoutMs;
      if (c.stateLimitBytes) plan.stateLimitBytes = c.stateLimitBytes;

      const run = await runBottle(plan, testDeps(world));

      expect(run.outcome).toBe(c.outcome);
      const keep = preserves(run.outcome);
      expect(run.preserved).toBe(keep);
      expect(run.sessionId).toBe(SESSION_ID);
      expect(state.exists(IDENTITY)).toBe(keep);
      expect(state.isPreserved(IDENTITY)).toBe(keep);
      expect(docker.containers.size + docker.networks.size).toBe(0);
      if (keep) {
        expect(await state.readMetadata(IDENTITY)).toMatchObject({ outcome: c.outcome, sessionId: SESSION_ID });
        expect(readFileSync(join(world.workspace, "README.md"), "utf8")).toBe("hello\n");
      } else {
        expect(readFileSync(join(world.workspace, "README.md"), "utf8")).toBe("changed by the agent\n");
      }
      if (c.outcome === "timeout" || c.outcome === "interrupted") {
        // Asked to stop through exec (SIGTERM), and it did within the grace: no kill.
        expect(docker.callsOf("exec").length).toBe(2);
        expect(docker.callsOf("killContainer")).toEqual([]);
      }
      if (c.outcome === "capability-block") {
        expect(run.capabilityBlocks).toMatchObject([
          { version: 1, policy: "preserve", reason: "needs jq", proposed: PROPOSAL.dockerfile },
        ]);
        expect(JSON.parse(readFileSync(state.path(IDENTITY, "capabilityBlock"), "utf8"))).toEqual(
          run.capabilityBlocks[0],
        );
        expect(await state.readDockerfile(IDENTITY)).toBe(PROPOSAL.dockerfile);
      }
      if (c.outcome === "state-limit") expect(existsSync(state.path(IDENTITY, "workspace"))).toBe(false);
    });
  }

  test("interrupted before claude started: nothing is exec'd and a fresh start keeps nothing", async () => {
    const world = launchWorld();
    const deps = {
      ...testDeps(world),
      pauseAt: async (phase: string) => void (phase === "agent-start" && world.controller.abort()),
    };
    const run = await runBottle(testPlan(world), deps);
    expect(run).toMatchObject({ outcome: "interrupted", preserved: false, exitCode: null });
    expect(world.docker.callsOf("exec")).toEqual([]);
    expect(world.state.exists(IDENTITY)).toBe(false);
    expect(world.docker.containers.size + world.docker.networks.size).toBe(0);
  });

  test("a crash with resumes left is resumed at once, in a new launch of the same session", async () => {
    const world = launchWorld();
    let launches = 0;
    world.docker.claude = async (run) => {
      launches++;
      init(run);
      if (launches === 1) return 1;
      result(run, false);
      return 0;
    };
    const plan = testPlan(world, { request: { maxResumes: 1 } });
    const run = await runBottle(plan, testDeps(world));
    expect(run.outcome).toBe("success");
    const claudeCommands = world.docker.callsOf("exec").map((a) => (a[1] as { cmd: string[] }).cmd);
    expect(claudeCommands).toHaveLength(2);
    expect(claudeCommands[1]).toContain("--resume");
    expect(claudeCommands[1]).toContain(SESSION_ID);
    expect(run.history.map((h) => h.outcome)).toEqual(["crashed", "success"]);
  });

  test("the timings name each phase, and execStart is measured", async () => {
    const world = launchWorld();
    const run = await runBottle(testPlan(world, { supervise: "preserve" }), testDeps(world));
    expect(Object.keys(run.timings).sort()).toEqual([
      "agent",
      "copyIn",
      "execStart",
      "finalSnapshot",
      "gate",
      "image",
      "networks",
      "session",
      "supervise",
      "teardown",
    ]);
  });

  describe("capability-block with the rebuild policy", () => {
    /** The first supervise sidecar hands out the proposal; the rebuilt bottle's has none. */
    async function proposing(world: LaunchWorld): Promise<void> {
      const proposal = await archiveOf({ "claude-bottle-proposals/1.json": JSON.stringify(PROPOSAL) });
      let first: string | null = null;
      world.docker.archiveOf.set(PROPOSALS_DIR, (container) => {
        first ??= container.id;
        return container.id === first ? proposal() : null;
      });
      world.docker.claude = async (run) => (init(run), result(run, false), 0);
    }

    test("the proposal builds behind the gate, becomes the Dockerfile, the session goes on in it", async () => {
      const world = launchWorld();
      await proposing(world);
      const run = await runBottle(testPlan(world, { supervise: "rebuild" }), testDeps(world));
      expect(run.outcome).toBe("success");
      expect(run.capabilityBlocks).toMatchObject([
        { policy: "rebuild", result: "rebuilt", proposed: PROPOSAL.dockerfile },
      ]);
      const builds = world.docker.callsOf("buildImage").map((a) => a[0] as { tag: string; networkMode?: string });
      expect(builds).toMatchObject([{ networkMode: `claude-bottle-${IDENTITY}-internal` }]);
      // The build runs once the rebuilt bottle's gate is up, and before its agent exists.
      const calls = world.docker.calls;
      const build = calls.findIndex((c) => c.method === "buildImage");
      const gates = calls.flatMap((c, i) =>
        c.method === "createContainer" && (c.args[0] as { name: string }).name.endsWith("-gate") ? [i] : [],
      );
      const agents = calls.flatMap((c, i) =>
        c.method === "createContainer" && (c.args[0] as { name: string }).name.endsWith("-agent") ? [i] : [],
      );
      expect(gates[1]).toBeLessThan(build);
      expect(build).toBeLessThan(agents[1] as number);
      const execs = world.docker.callsOf("exec").map((a) => a[0]);
      expect(
        world.docker
          .callsOf("createContainer")
          .find(
            (a) =>
              (a[0] as { name: string }).name.endsWith("-agent") &&
              (a[0] as { image: string }).image === builds[0]?.tag,
          ),
      ).toBeTruthy();
      expect(execs).toHaveLength(2);
    });

    test("a proposal that does not build: build-failed, log and proposal kept, Dockerfile unchanged", async () => {
      const world = launchWorld();
      await proposing(world);
      world.docker.fail("buildImage", () => true, new Error("RUN apt-get: exit 100"));
      const run = await runBottle(testPlan(world, { supervise: "rebuild" }), testDeps(world));
      expect(run).toMatchObject({
        outcome: "build-failed",
        preserved: true,
        buildLog: world.state.path(IDENTITY, "buildLog"),
      });
      expect(run.capabilityBlocks).toMatchObject([{ policy: "rebuild", result: "build-failed" }]);
      expect(JSON.parse(readFileSync(world.state.path(IDENTITY, "capabilityBlock"), "utf8"))).toMatchObject({
        result: "build-failed",
      });
      expect(readFileSync(world.state.path(IDENTITY, "buildLog"), "utf8")).toContain("RUN apt-get: exit 100");
      expect(readFileSync(world.state.path(IDENTITY, "proposedDockerfile"), "utf8")).toBe(PROPOSAL.dockerfile);
      expect(await world.state.readDockerfile(IDENTITY)).toBeNull();
      expect(world.state.isPreserved(IDENTITY)).toBe(true);
      expect(world.docker.containers.size + world.docker.networks.size).toBe(0);
    });
  });
});

describe("a resumed transcript goes back where claude reads it", () => {
  /** Crashes a bottle whose ~/.claude holds `files`, then resumes it; the names under ~/.claude it gets back. */
  async function resumedHome(files: Record<string, string>, beforeResume: (transcript: string) => void) {
    const world = launchWorld();
    world.docker.archiveOf.set("/home/node/.claude", await archiveOf(files));
    world.docker.claude = async (run) => (init(run), 137);
    expect((await runBottle(testPlan(world), testDeps(world))).preserved).toBe(true);
    beforeResume(join(world.state.dir(IDENTITY), "transcript"));
    const put: (Readable | Buffer)[] = [];
    const putArchive = world.docker.putArchive.bind(world.docker);
    world.docker.putArchive = async (container, path, tar) => {
      if (path === "/" && world.docker.container(container)?.name.endsWith("-agent")) put.push(tar);
      return putArchive(container, path, tar);
    };
    world.docker.claude = async (run) => (init(run), result(run, false), 0);
    const plan = testPlan(world, { mode: "resume", request: { resumeSession: SESSION_ID } });
    expect((await runBottle(plan, testDeps(world))).outcome).toBe("success");
    // One archive for the agent; tar-fs's own stream (streamx) reads as a Node stream.
    expect(put).toHaveLength(1);
    const archive = put[0];
    if (!archive || Buffer.isBuffer(archive)) throw new Error("the agent's archive was not a stream");
    const names = [...(await readTarFiles(archive, 1_000_000)).keys()];
    expect(names).toContain("opt/claude-bottle/system-prompt.md");
    return names.filter((n) => n.startsWith("home/node/.claude/")).sort();
  }

  test("claude's settings, saved inside its config directory, go back as they were", async () => {
    const names = await resumedHome(
      { ".claude/projects/p/s.jsonl": "{}\n", ".claude/.claude.json": '{"userID":"u"}' },
      () => {},
    );
    expect(names).toEqual(["home/node/.claude/.claude.json", "home/node/.claude/projects/p/s.jsonl"]);
  });

  test("a restored state whose config directory is a link: its settings stay beside it, nothing goes through the link", async () => {
    const names = await resumedHome({ ".claude/projects/p/s.jsonl": "{}\n" }, (transcript) => {
      renameSync(join(transcript, ".claude"), join(transcript, "elsewhere"));
      symlinkSync("elsewhere", join(transcript, ".claude"));
      writeFileSync(join(transcript, ".claude.json"), '{"userID":"u"}');
    });
    expect(names).toEqual([]);
  });

  test("settings saved beside the config directory, as earlier versions did, move into it", async () => {
    const names = await resumedHome({ ".claude/projects/p/s.jsonl": "{}\n" }, (transcript) =>
      writeFileSync(join(transcript, ".claude.json"), '{"userID":"u"}'),
    );
    expect(names).toEqual(["home/node/.claude/.claude.json", "home/node/.claude/projects/p/s.jsonl"]);
  });
});
