/**
 * The agent container stops while claude runs and claude's exec never returns — as
 * under gVisor, where the sandbox ends as a whole at the bottle's pid limit and the
 * engine's exec stream stays open. The session still ends, with the state kept.
 */
import { describe, expect, test } from "vitest";
import { EXEC_DRAIN_MS } from "../../src/bottle/launch/agent-watch.js";
import { runBottle } from "../../src/bottle/launch/run-bottle.js";
import { GVISOR_RUNTIME } from "../../src/bottle/runtime.js";
import { type ClaudeRun, SESSION_ID } from "../support/fake-docker.js";
import { IDENTITY, launchWorld, testDeps, testPlan } from "../support/launch.js";

const init = (run: ClaudeRun) =>
  run.stdout(JSON.stringify({ type: "system", subtype: "init", session_id: SESSION_ID }));
const never = () => new Promise<number>(() => {});

describe("the agent container stops under claude", () => {
  test("on its own: the session ends as crashed, the state is kept, and the log says what happened and why", async () => {
    const world = launchWorld();
    world.docker.claude = async (run) => {
      init(run);
      setTimeout(() => world.docker.die(run.container.id, 128), 10);
      return never();
    };
    const plan = testPlan(world, { request: { runtimes: ["runc", GVISOR_RUNTIME] } });
    const started = Date.now();
    const run = await runBottle(plan, testDeps(world));
    expect(run).toMatchObject({ outcome: "crashed", preserved: true, sessionId: SESSION_ID });
    expect(Date.now() - started).toBeGreaterThanOrEqual(EXEC_DRAIN_MS);
    expect(world.state.exists(IDENTITY)).toBe(true);
    const warned = world.lines.filter((l) => l.level === "warn").map((l) => l.line);
    expect(warned).toContainEqual(
      expect.stringMatching(
        /^the agent container stopped \(exit code 128\) while claude ran; under gVisor .* limits\.pids \(512\)$/,
      ),
    );
    // Nothing is left: the stopped container and the networks are removed as after any session.
    expect(world.docker.containers.size + world.docker.networks.size).toBe(0);
  });

  test("killed by a timeout's stop while its exec stays open: the session ends as a timeout, with no extra warning", async () => {
    const world = launchWorld();
    world.docker.claude = async (run) => (init(run), never());
    const plan = { ...testPlan(world), timeoutMs: 20 };
    const run = await runBottle(plan, testDeps(world));
    expect(run).toMatchObject({ outcome: "timeout", preserved: true });
    expect(world.docker.callsOf("killContainer").length).toBeGreaterThan(0);
    expect(world.lines.map((l) => l.line).filter((l) => l.startsWith("the agent container stopped"))).toEqual([]);
    expect(world.docker.containers.size + world.docker.networks.size).toBe(0);
  });
});
