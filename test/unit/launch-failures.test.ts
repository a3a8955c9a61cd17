/**
 * A failure injected in each phase of a launch on the fake engine: teardown removes
 * exactly what this launch created (another bottle's resources stay), claude is not
 * exec'd after a failure before the session, a fresh start leaves no state, and a
 * resumed bottle's preserved state (its snapshots) is left as it was.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { runBottle } from "../../src/bottle/launch/run-bottle.js";
import { SNAPSHOT_SETTLE_MS } from "../../src/bottle/launch/snapshots.js";
import { IDENTITY_LABEL, ROLE_LABEL, ROLES } from "../../src/docker/client.js";
import { type FakeDocker, SESSION_ID } from "../support/fake-docker.js";
import {
  AGENT_IMAGE,
  archiveOf,
  IDENTITY,
  type LaunchWorld,
  launchWorld,
  testDeps,
  testPlan,
} from "../support/launch.js";

const name = (suffix: string) => `claude-bottle-${IDENTITY}-${suffix}`;
const isNamed = (suffix: string) => (args: unknown[]) => {
  const first = args[0];
  return (typeof first === "string" ? first : (first as { name?: string }).name) === name(suffix);
};
interface Phase {
  phase: string;
  supervise?: boolean;
  inject: (docker: FakeDocker) => void;
  /** Whether claude ran before the failure (then the outcome decides, not the error). */
  afterSession?: boolean;
}

const PHASES: Phase[] = [
  { phase: "image-build", inject: (d) => d.fail("imageExists", (a) => a[0] === AGENT_IMAGE) },
  { phase: "networks", inject: (d) => d.fail("createNetwork", isNamed("internal")) },
  {
    phase: "networks (the bottle's own way out, on an engine without a default bridge)",
    inject: (d) => (d.engineNetworks.clear(), d.fail("createNetwork", isNamed("egress"))),
  },
  { phase: "networks (the engine's default bridge cannot be read)", inject: (d) => d.fail("networkSubnets") },
  { phase: "gate-start (create)", inject: (d) => d.fail("createContainer", isNamed("gate")) },
  { phase: "gate-start (connect)", inject: (d) => d.fail("connectNetwork") },
  { phase: "gate-start (ready)", inject: (d) => d.lines.set(name("gate"), []) },
  { phase: "gate-start (log)", inject: (d) => d.fail("followLogs") },
  { phase: "supervise-start", supervise: true, inject: (d) => d.fail("createContainer", isNamed("supervise")) },
  { phase: "supervise-start (ready)", supervise: true, inject: (d) => d.lines.set(name("supervise"), []) },
  { phase: "agent-start (create)", inject: (d) => d.fail("createContainer", isNamed("agent")) },
  { phase: "copy-in", inject: (d) => d.fail("putArchive", (a) => d.container(name("agent"))?.id === a[0]) },
  {
    phase: "agent-start (start)",
    inject: (d) => d.fail("startContainer", (a) => d.container(name("agent"))?.id === a[0]),
  },
  { phase: "session (exec)", inject: (d) => d.fail("exec") },
];

/** Another bottle's resources on the same engine, which no launch here may touch. */
async function foreignBottle(docker: FakeDocker): Promise<void> {
  const labels = { [IDENTITY_LABEL]: "other-zzzzz", [ROLE_LABEL]: ROLES.agent };
  await docker.createNetwork({ name: "claude-bottle-other-zzzzz-internal", internal: true, labels });
  await docker.createContainer({
    name: "claude-bottle-other-zzzzz-agent",
    image: AGENT_IMAGE,
    cmd: [],
    user: "node",
    env: {},
    labels,
    network: "x",
    capDrop: [],
    securityOpt: [],
  });
}

function expectOnlyForeignLeft(docker: FakeDocker): void {
  expect([...docker.containers.values()].map((c) => c.name)).toEqual(["claude-bottle-other-zzzzz-agent"]);
  expect([...docker.networks.keys()]).toEqual(["claude-bottle-other-zzzzz-internal"]);
  expect(docker.calls.some((c) => String(c.args[0]).includes("other-zzzzz") && c.method.startsWith("remove"))).toBe(
    false,
  );
}

function claudeRan(docker: FakeDocker, from = 0): boolean {
  return docker.calls
    .slice(from)
    .some((c) => c.method === "exec" && (c.args[1] as { cmd: string[] }).cmd[0] === "claude");
}

/** Every file under `dir` with its content, for comparing a snapshot before and after. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const path = join(dir, entry);
    if (statSync(path).isFile()) out[entry] = readFileSync(path, "utf8");
  }
  return out;
}

/** A first launch whose claude crashes after its first event: the state is preserved with both snapshots. */
async function crashedBottle(world: LaunchWorld): Promise<void> {
  const { docker } = world;
  docker.archiveOf.set("/home/node/.claude", await archiveOf({ [`.claude/projects/p/${SESSION_ID}.jsonl`]: "{}\n" }));
  docker.archiveOf.set("/home/node/workspace", await archiveOf({ "workspace/README.md": "changed by the agent\n" }));
  docker.claude = async (run) => {
    run.stdout(JSON.stringify({ type: "system", subtype: "init", session_id: SESSION_ID }));
    return 1;
  };
  const crashed = await runBottle(testPlan(world), testDeps(world));
  expect(crashed.outcome).toBe("crashed");
  expect(crashed.preserved).toBe(true);
  docker.claude = async () => 0;
}

describe("a failure in each phase of a fresh start", () => {
  for (const { phase, supervise, inject } of PHASES) {
    test(`${phase}: the error reaches the caller, teardown removes exactly what was created, no state`, async () => {
      const world = launchWorld();
      await foreignBottle(world.docker);
      inject(world.docker);
      const error = await runBottle(testPlan(world, supervise ? { supervise: "preserve" } : {}), testDeps(world)).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      if (phase !== "session (exec)") expect(claudeRan(world.docker)).toBe(false);
      expectOnlyForeignLeft(world.docker);
      expect(world.state.exists(IDENTITY)).toBe(false);
    });
  }
});

describe("a failure in each phase of a resume", () => {
  for (const { phase, supervise, inject } of PHASES) {
    test(`${phase}: the preserved state stays as it was, marked preserved, outcome error`, async () => {
      const world = launchWorld();
      await foreignBottle(world.docker);
      await crashedBottle(world);
      const dir = world.state.dir(IDENTITY);
      const before = { transcript: tree(join(dir, "transcript")), workspace: tree(join(dir, "workspace")) };
      const from = world.docker.calls.length;
      inject(world.docker);
      const plan = testPlan(world, {
        mode: "resume",
        ...(supervise ? { supervise: "preserve" } : {}),
        request: { resumeSession: SESSION_ID },
      });
      const error = await runBottle(plan, testDeps(world)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      if (phase !== "session (exec)") expect(claudeRan(world.docker, from)).toBe(false);
      expectOnlyForeignLeft(world.docker);
      expect({ transcript: tree(join(dir, "transcript")), workspace: tree(join(dir, "workspace")) }).toEqual(before);
      expect(world.state.isPreserved(IDENTITY)).toBe(true);
      const metadata = await world.state.readMetadata(IDENTITY);
      expect(metadata).toMatchObject({ outcome: "error", sessionId: SESSION_ID });
    });
  }
});

describe("failures once claude has run", () => {
  test("a final snapshot that fails after a success: outcome error, state kept, nothing copied back", async () => {
    const world = launchWorld();
    await foreignBottle(world.docker);
    world.docker.fail("getArchive", (a) => a[1] === "/home/node/workspace");
    const result = await runBottle(testPlan(world), testDeps(world));
    expect(result).toMatchObject({ outcome: "error", preserved: true });
    expect(readFileSync(join(world.workspace, "README.md"), "utf8")).toBe("hello\n");
    expect(world.lines.some((l) => l.level === "warn" && /final snapshot failed/.test(l.line))).toBe(true);
    expectOnlyForeignLeft(world.docker);
  });

  test("a container that will not go at teardown is a warning; the rest goes, the outcome stands", async () => {
    const world = launchWorld();
    await foreignBottle(world.docker);
    world.docker.fail("removeContainer", isNamed("agent"));
    const result = await runBottle(testPlan(world), testDeps(world));
    expect(result.outcome).toBe("success");
    expect(
      world.lines.some((l) => l.level === "warn" && l.line.startsWith(`removing container ${name("agent")} failed`)),
    ).toBe(true);
    expect(world.docker.withLabel(IDENTITY_LABEL, IDENTITY).containers.map((c) => c.name)).toEqual([name("agent")]);
    expect(world.docker.withLabel(IDENTITY_LABEL, IDENTITY).networks).toEqual([]);
  });

  test("a network that cannot be released during the final snapshot goes at teardown; the outcome stands", async () => {
    const world = launchWorld();
    // An engine without a default bridge: the bottle has a way out of its own, so two networks to release.
    world.docker.engineNetworks.clear();
    await foreignBottle(world.docker);
    world.docker.fail("emptyNetwork", isNamed("internal"), new Error("engine busy"));
    const result = await runBottle(testPlan(world), testDeps(world));
    expect(result.outcome).toBe("success");
    expect(
      world.lines.some(
        (l) => l.level === "warn" && l.line === `removing network ${name("internal")} failed: engine busy`,
      ),
    ).toBe(true);
    // The other went at once; this one the ordinary way, once the containers were gone.
    expect(world.docker.callsOf("removeNetwork")).toEqual([[name("egress")], [name("internal")]]);
    expect(
      world.docker.calls.findIndex((c) => c.method === "removeNetwork" && c.args[0] === name("internal")),
    ).toBeGreaterThan(
      world.docker.calls.findIndex((c) => c.method === "removeContainer" && c.args[0] === name("agent")),
    );
    expectOnlyForeignLeft(world.docker);
  });

  test("a gate that will not stop or go when claude has ended goes at teardown; its networks go all the same", async () => {
    const world = launchWorld();
    world.docker.engineNetworks.clear();
    await foreignBottle(world.docker);
    world.docker.fail("stopContainer", isNamed("gate"), new Error("engine busy"));
    world.docker.fail("removeContainer", isNamed("gate"), new Error("engine busy"), true);
    const result = await runBottle(testPlan(world), testDeps(world));
    expect(result.outcome).toBe("success");
    // Tried once when claude ended and once more at teardown, where it went.
    expect(world.docker.callsOf("removeContainer").filter(([n]) => n === name("gate"))).toHaveLength(2);
    // Taken off them, it did not hold up either network.
    expect(
      world.docker
        .callsOf("removeNetwork")
        .map(([n]) => n)
        .sort(),
    ).toEqual([name("egress"), name("internal")]);
    expect(world.lines.filter((l) => l.level === "warn")).toEqual([]);
    expectOnlyForeignLeft(world.docker);
  });

  test("a transcript snapshot failing at a turn's end keeps the previous one; the session goes on", async () => {
    const world = launchWorld();
    world.docker.fail("getArchive", (a) => a[1] === "/home/node/.claude", new Error("archive refused"), true);
    // A turn ends, and the session goes on past the moment its snapshot starts.
    const answer = { type: "assistant", message: { content: [{ type: "text", text: "turn one" }] } };
    const ended = { type: "result", subtype: "success", is_error: false, session_id: SESSION_ID, num_turns: 1 };
    world.docker.claude = async (run) => {
      run.stdout(JSON.stringify({ type: "system", subtype: "init", session_id: SESSION_ID }));
      run.stdout(JSON.stringify(answer));
      await new Promise((resolve) => setTimeout(resolve, SNAPSHOT_SETTLE_MS * 3));
      run.stdout(JSON.stringify(ended));
      return 0;
    };
    const result = await runBottle(testPlan(world), testDeps(world));
    expect(result.outcome).toBe("success");
    expect(
      world.lines.some(
        (l) => l.level === "warn" && /snapshot failed \(the previous one is kept\): archive refused/.test(l.line),
      ),
    ).toBe(true);
  });
});
