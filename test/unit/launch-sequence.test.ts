/**
 * The launch sequence on a fake engine: the order of its steps (the agent container
 * is made ready while the gate starts), and fail-closed: claude is never exec'd
 * unless the gate (and the supervise sidecar) said ready, and an agent container made
 * alongside a gate that failed is removed.
 */
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tarStream from "tar-stream";
import { describe, expect, test } from "vitest";
import { runBottle } from "../../src/bottle/launch/run-bottle.js";
import { LaunchError } from "../../src/bottle/launch/types.js";
import { IDENTITY_LABEL, ROLE_LABEL } from "../../src/docker/client.js";
import type { GateConfig } from "../../src/gate/config.js";
import type { FakeDocker } from "../support/fake-docker.js";
import { archiveOf, IDENTITY, launchWorld, testDeps, testPlan } from "../support/launch.js";

const named = (suffix: string) => (args: unknown[]) => {
  const first = args[0];
  const name = typeof first === "string" ? first : (first as { name?: string }).name;
  return name === `claude-bottle-${IDENTITY}-${suffix}`;
};

/** The index of the first call of `method` whose arguments `when` accepts; -1 when there is none. */
function at(docker: FakeDocker, method: string, when: (args: unknown[]) => boolean = () => true): number {
  return docker.calls.findIndex((c) => c.method === method && when(c.args));
}

function claudeExecs(docker: FakeDocker): unknown[][] {
  return docker.callsOf("exec").filter((args) => (args[1] as { cmd: string[] }).cmd[0] === "claude");
}

/** The id the fake engine gave the container named with `suffix` (ids count up from id1 as containers are created). */
function idOf(docker: FakeDocker, suffix: string): string {
  const created = docker.callsOf("createContainer").map((a) => (a[0] as { name: string }).name);
  return `id${created.indexOf(`claude-bottle-${IDENTITY}-${suffix}`) + 1}`;
}

/** The index of the first call that exec'd claude. */
function claudeExec(docker: FakeDocker): number {
  return docker.calls.findIndex((c) => c.method === "exec" && (c.args[1] as { cmd: string[] }).cmd[0] === "claude");
}

/** Keeps every archive put into a container, by container id, as it goes in (containers are gone after a run). */
function keepArchives(docker: FakeDocker): Map<string, Buffer[]> {
  const kept = new Map<string, Buffer[]>();
  const putArchive = docker.putArchive.bind(docker);
  docker.putArchive = async (container, path, tar) => {
    kept.set(container, [...(kept.get(container) ?? []), tar as Buffer]);
    return putArchive(container, path, tar);
  };
  return kept;
}

/** The content of `path` in one of `archives`. */
async function fileIn(archives: Buffer[], path: string): Promise<string> {
  for (const tar of archives) {
    const extract = tarStream.extract();
    let found: string | undefined;
    extract.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: unknown) => chunks.push(chunk as Buffer));
      stream.on("end", () => {
        if (header.name === path) found = Buffer.concat(chunks).toString("utf8");
        next();
      });
    });
    await pipeline(Readable.from([tar]), extract);
    if (found !== undefined) return found;
  }
  throw new Error(`no ${path} in the archives`);
}

function ownedResources(docker: FakeDocker) {
  const { containers, networks } = docker.withLabel(IDENTITY_LABEL, IDENTITY);
  return [...containers.map((c) => c.name), ...networks.map((n) => n.name)];
}

describe("the launch sequence", () => {
  test("networks, then the gate until ready while the agent is made ready, then claude, the snapshots and teardown", async () => {
    const world = launchWorld();
    const { docker } = world;
    const result = await runBottle(testPlan(world), testDeps(world));
    expect(result.outcome).toBe("success");

    const created = docker.callsOf("createContainer").map((a) => (a[0] as { name: string }).name);
    expect([...created].sort()).toEqual(
      [
        `claude-bottle-${IDENTITY}-agent`,
        `claude-bottle-${IDENTITY}-gate`,
        `claude-bottle-${IDENTITY}-gate-host-probe`,
      ].sort(),
    );
    const gate = idOf(docker, "gate");
    const agent = idOf(docker, "agent");

    const inOrder = (steps: number[]) => {
      expect(steps.every((i) => i >= 0)).toBe(true);
      expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    };
    const exec = at(docker, "exec", (a) => a[0] === agent);
    // The gate up, then claude.
    inOrder([
      at(docker, "listContainers"),
      at(docker, "createNetwork", named("internal")),
      at(docker, "createContainer", named("gate")),
      at(docker, "putArchive", (a) => a[0] === gate),
      at(docker, "startContainer", (a) => a[0] === gate),
      // It joins the internal network while its program starts, and claude runs only after both.
      at(docker, "connectNetwork", (a) => a[1] === `claude-bottle-${IDENTITY}-internal`),
      at(docker, "waitForLogLine", (a) => a[0] === gate),
      at(docker, "followLogs", (a) => a[0] === gate),
      exec,
    ]);
    // The agent made ready (started, then filled: the engine's copy does not compete with the two starts),
    // then claude, the snapshots and teardown.
    inOrder([
      at(docker, "createNetwork", named("internal")),
      at(docker, "createContainer", named("agent")),
      at(docker, "startContainer", (a) => a[0] === agent),
      at(docker, "putArchive", (a) => a[0] === agent && a[1] === "/"),
      exec,
      // claude has ended: the gate removed, both networks emptied and removed while the final snapshot reads.
      at(docker, "emptyNetwork", named("internal")),
      at(docker, "getArchive", (a) => a[1] === "/home/node/workspace"),
      at(docker, "removeContainer", named("agent")),
    ]);
    // Its way out is the engine's default bridge, which is never made, emptied or removed.
    expect(docker.callsOf("createNetwork").map(([r]) => (r as { name: string }).name)).toEqual([
      `claude-bottle-${IDENTITY}-internal`,
    ]);
    expect(docker.callsOf("emptyNetwork").map(([n]) => n)).toEqual([`claude-bottle-${IDENTITY}-internal`]);
    const finalTranscript = docker.calls.findLastIndex(
      (c) => c.method === "getArchive" && c.args[1] === "/home/node/.claude",
    );
    expect(at(docker, "emptyNetwork", named("internal"))).toBeLessThan(finalTranscript);
    // The gate goes as soon as claude has ended: stopped (it logs the connections still open), then removed, once.
    const gateStopped = at(docker, "stopContainer", named("gate"));
    const gateRemoved = at(docker, "removeContainer", named("gate"));
    expect(gateStopped).toBeGreaterThan(exec);
    expect(gateStopped).toBeLessThan(finalTranscript);
    expect(gateRemoved).toBeGreaterThan(gateStopped);
    expect(docker.callsOf("removeContainer").filter(named("gate"))).toHaveLength(1);
    // Each network removed once, as soon as it was empty, before the agent container goes.
    expect(docker.callsOf("removeNetwork").map(([n]) => n)).toEqual([`claude-bottle-${IDENTITY}-internal`]);
    expect(at(docker, "removeNetwork", named("internal"))).toBeGreaterThan(
      at(docker, "emptyNetwork", named("internal")),
    );
    // The system prompt and the work tree go in as one archive.
    expect(docker.callsOf("putArchive").filter((a) => a[0] === agent)).toHaveLength(1);
    // The two overlap: the agent container is created before the gate has said ready.
    expect(at(docker, "createContainer", named("agent"))).toBeLessThan(
      at(docker, "waitForLogLine", (a) => a[0] === gate),
    );
    expect(world.paused).toEqual([
      "image-build",
      "networks",
      "gate-start",
      "agent-start",
      "copy-in",
      "session",
      "teardown",
    ]);
    expect(ownedResources(docker)).toEqual([]);
  });

  test("the agent is made ready once its internal network exists, while the egress network is still being made", async () => {
    const world = launchWorld();
    const { docker } = world;
    // An engine without a default bridge: the bottle makes a way out of its own.
    docker.engineNetworks.clear();
    const events: string[] = [];
    let agentStarted = () => {};
    const agentUp = new Promise<void>((resolve) => (agentStarted = resolve));
    const createNetwork = docker.createNetwork.bind(docker);
    docker.createNetwork = async (request) => {
      const id = await createNetwork(request);
      // The egress network is made for as long as the agent takes to start (2 s if the agent waits for it).
      if (!request.internal) await Promise.race([agentUp, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      events.push(`network ${request.internal ? "internal" : "egress"}`);
      return id;
    };
    const startContainer = docker.startContainer.bind(docker);
    docker.startContainer = async (id) => {
      await startContainer(id);
      const name = docker.container(id)?.name.replace(`claude-bottle-${IDENTITY}-`, "");
      events.push(`started ${name}`);
      if (name === "agent") agentStarted();
    };
    expect((await runBottle(testPlan(world), testDeps(world))).outcome).toBe("success");
    expect(events.filter((e) => !e.endsWith("host-probe"))).toEqual([
      "network internal",
      "started agent",
      "network egress",
      "started gate",
    ]);
  });

  test("the gate is created on its way out while the internal network is made, and configured once it exists", async () => {
    const world = launchWorld();
    const { docker } = world;
    const events: string[] = [];
    let gateCreated = () => {};
    const gateUp = new Promise<void>((resolve) => (gateCreated = resolve));
    const createNetwork = docker.createNetwork.bind(docker);
    docker.createNetwork = async (request) => {
      // The internal network is made for as long as the gate takes to be created (2 s if the gate waits for it).
      await Promise.race([gateUp, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      const id = await createNetwork(request);
      events.push("network internal");
      return id;
    };
    const createContainer = docker.createContainer.bind(docker);
    docker.createContainer = async (request) => {
      const id = await createContainer(request);
      if (request.name.endsWith("-gate")) (events.push("created gate"), gateCreated());
      return id;
    };
    const putArchive = docker.putArchive.bind(docker);
    docker.putArchive = async (id, path, tar) => {
      if (docker.container(id)?.name.endsWith("-gate")) events.push("configured gate");
      return putArchive(id, path, tar);
    };
    expect((await runBottle(testPlan(world), testDeps(world))).outcome).toBe("success");
    expect(events).toEqual(["created gate", "network internal", "configured gate"]);
  });

  test("the final snapshot never waits on an archive it has not begun: the engine serves one at a time", async () => {
    const world = launchWorld();
    const { docker } = world;
    docker.archiveOf.set("/home/node/.claude", await archiveOf({ ".claude/settings.json": "{}\n" }));
    docker.archiveOf.set("/home/node/workspace", await archiveOf({ "workspace/README.md": "changed\n" }));
    // As the engine: one archive of a container at a time, held until it has been read to its end or closed;
    // of the requests waiting, the last one asked is served first (nothing promises the order).
    const waiting: (() => void)[] = [];
    let busy = false;
    const serve = () => {
      if (busy || waiting.length === 0) return;
      busy = true;
      waiting.pop()!();
    };
    const getArchive = docker.getArchive.bind(docker);
    docker.getArchive = async (container, path) => {
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        setTimeout(serve, 10);
      });
      const tar = await getArchive(container, path);
      const release = () => {
        busy = false;
        serve();
      };
      if (tar) tar.once("close", release);
      else release();
      return tar;
    };
    const ended = await Promise.race([
      runBottle(testPlan(world), testDeps(world)),
      new Promise((resolve) => setTimeout(() => resolve("stuck"), 5_000)),
    ]);
    expect(ended).toMatchObject({ outcome: "success" });
    // The final snapshot read both, the transcript first.
    expect(
      docker
        .callsOf("getArchive")
        .slice(-2)
        .map(([, path]) => path),
    ).toEqual(["/home/node/.claude", "/home/node/workspace"]);
  });

  test("a hardened gate (no capabilities, no new privileges, uid nobody); the agent is internal only", async () => {
    const world = launchWorld();
    await runBottle(testPlan(world), testDeps(world));
    const requests = world.docker.callsOf("createContainer").map(
      (a) =>
        a[0] as {
          name: string;
          user: string;
          capDrop: string[];
          securityOpt: string[];
          network: string;
          labels: Record<string, string>;
          sysctls?: Record<string, string>;
        },
    );
    const gate = requests.find((r) => r.name.endsWith("-gate"))!;
    expect(gate).toMatchObject({
      user: "65534:65534",
      capDrop: ["ALL"],
      securityOpt: ["no-new-privileges"],
      network: "bridge",
      // On two networks, one of them shared: it routes nothing between them.
      sysctls: { "net.ipv4.ip_forward": "0" },
    });
    expect(gate.labels[ROLE_LABEL]).toBe("gate");
    const agent = requests.find((r) => r.name.endsWith("-agent"))!;
    expect(agent).toMatchObject({
      capDrop: ["ALL"],
      securityOpt: ["no-new-privileges"],
      network: `claude-bottle-${IDENTITY}-internal`,
    });
    expect(world.docker.callsOf("connectNetwork").map((a) => a[1])).toEqual([`claude-bottle-${IDENTITY}-internal`]);
  });

  test("the gate takes clients from the internal network only, and refuses the bottle's subnets and the default bridge's", async () => {
    const world = launchWorld();
    const archives = keepArchives(world.docker);
    await runBottle(testPlan(world), testDeps(world));
    const gate = idOf(world.docker, "gate");
    const config = JSON.parse(await fileIn(archives.get(gate)!, "opt/claude-bottle-gate/config.json")) as GateConfig;
    // The fake engine's subnets: the bottle's first network 10.200.0.0/24, its default bridge 172.17.0.0/24.
    const internal = "10.200.0.0/24";
    expect(config.listen?.clients).toEqual([internal]);
    expect(config.proxy?.deniedCidrs).toEqual(expect.arrayContaining([internal, "172.17.0.0/24"]));
  });

  test("on an engine without a default bridge the gate goes out through a network of the bottle's own", async () => {
    const world = launchWorld();
    world.docker.engineNetworks.clear();
    const result = await runBottle(testPlan(world), testDeps(world));
    expect(result.outcome).toBe("success");
    const gate = world.docker.callsOf("createContainer").find(named("gate"))![0] as { network: string };
    expect(gate.network).toBe(`claude-bottle-${IDENTITY}-egress`);
    expect(world.lines).toContainEqual({
      level: "info",
      line: `the engine has no bridge network; the gate goes out through claude-bottle-${IDENTITY}-egress`,
    });
    expect(
      world.docker
        .callsOf("removeNetwork")
        .map(([n]) => n)
        .sort(),
    ).toEqual([`claude-bottle-${IDENTITY}-egress`, `claude-bottle-${IDENTITY}-internal`]);
    expect(ownedResources(world.docker)).toEqual([]);
  });

  test("a supervised bottle starts the supervise sidecar after the gate, and claude only once it is ready", async () => {
    const world = launchWorld();
    const { docker } = world;
    const result = await runBottle(testPlan(world, { supervise: "preserve" }), testDeps(world));
    expect(result.outcome).toBe("success");
    const gateReady = at(docker, "waitForLogLine", (a) => a[0] === idOf(docker, "gate"));
    const superviseCreate = at(docker, "createContainer", named("supervise"));
    const superviseReady = at(docker, "waitForLogLine", (a) => a[0] === idOf(docker, "supervise"));
    const exec = claudeExec(docker);
    expect(gateReady).toBeLessThan(superviseCreate);
    expect(superviseCreate).toBeLessThan(superviseReady);
    expect(superviseReady).toBeLessThan(exec);
  });
});

describe("fail closed: claude is never exec'd without a ready gate", () => {
  const cases: { what: string; supervise?: boolean; arrange: (docker: FakeDocker) => void; message: RegExp }[] = [
    {
      what: "the gate prints fatal",
      arrange: (d) =>
        d.lines.set(`claude-bottle-${IDENTITY}-gate`, [JSON.stringify({ event: "fatal", reason: "bad config" })]),
      message: /the gate did not come up \(it exited\): bad config/,
    },
    {
      what: "the gate exits silently",
      arrange: (d) => d.lines.set(`claude-bottle-${IDENTITY}-gate`, ["not json"]),
      message: /the gate did not come up \(it exited\)/,
    },
    {
      what: "the gate's container is not created",
      arrange: (d) => d.fail("createContainer", named("gate")),
      message: /createContainer failed/,
    },
    {
      what: "the gate does not start",
      arrange: (d) => d.fail("startContainer", (a) => a[0] === d.container(`claude-bottle-${IDENTITY}-gate`)?.id),
      message: /the gate did not come up/,
    },
    {
      what: "the gate's program cannot be copied in",
      arrange: (d) => d.fail("putArchive", (a) => a[0] === d.container(`claude-bottle-${IDENTITY}-gate`)?.id),
      message: /putArchive failed/,
    },
    {
      what: "the host probe fails",
      arrange: (d) => d.lines.set(`claude-bottle-${IDENTITY}-gate-host-probe`, []),
      message: /the gate did not come up \(could not learn the Docker host's addresses/,
    },
    {
      what: "the engine's clock cannot be read",
      arrange: (d) => d.fail("engineTime"),
      message: /reading the engine's clock .* failed/,
    },
    {
      what: "the supervise sidecar prints fatal",
      supervise: true,
      arrange: (d) =>
        d.lines.set(`claude-bottle-${IDENTITY}-supervise`, [JSON.stringify({ event: "fatal", reason: "no" })]),
      message: /the supervise server did not come up/,
    },
  ];
  for (const { what, supervise, arrange, message } of cases) {
    test(`${what}: a launch error, claude never exec'd, nothing left`, async () => {
      const world = launchWorld();
      arrange(world.docker);
      const plan = testPlan(world, supervise ? { supervise: "preserve" } : {});
      const error = await runBottle(plan, testDeps(world)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(message);
      expect(claudeExecs(world.docker)).toEqual([]);
      // The agent container may have been made ready alongside the gate: then it was removed.
      if (at(world.docker, "createContainer", named("agent")) >= 0) {
        expect(at(world.docker, "removeContainer", named("agent"))).toBeGreaterThan(-1);
      }
      expect(ownedResources(world.docker)).toEqual([]);
      expect(world.state.exists(IDENTITY)).toBe(false);
    });
  }

  test("a gate that fails while the agent container is made ready: the gate's error, the agent removed", async () => {
    const world = launchWorld();
    const { docker } = world;
    docker.lines.set(`claude-bottle-${IDENTITY}-gate`, [JSON.stringify({ event: "fatal", reason: "bad config" })]);
    const error = await runBottle(testPlan(world), testDeps(world)).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/the gate did not come up \(it exited\): bad config/);
    const made = at(docker, "createContainer", named("agent"));
    expect(made).toBeGreaterThan(-1);
    expect(made).toBeLessThan(at(docker, "waitForLogLine", (a) => a[0] === idOf(docker, "gate")));
    expect(at(docker, "removeContainer", named("agent"))).toBeGreaterThan(made);
    expect(claudeExecs(docker)).toEqual([]);
    expect(ownedResources(docker)).toEqual([]);
  });

  test("a missing credential fails before the gate exists", async () => {
    const world = launchWorld();
    const error = await runBottle(testPlan(world), testDeps(world, {})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaunchError);
    expect((error as Error).message).toMatch(/ANTHROPIC_API_KEY, which is not set in the runner's environment/);
    expect(at(world.docker, "createContainer", named("gate"))).toBe(-1);
    expect(claudeExecs(world.docker)).toEqual([]);
    expect(ownedResources(world.docker)).toEqual([]);
  });

  test("leftovers of the same identity: refused before anything is created", async () => {
    const world = launchWorld();
    await world.docker.createNetwork({ name: "left-over", internal: true, labels: { [IDENTITY_LABEL]: IDENTITY } });
    const error = await runBottle(testPlan(world), testDeps(world)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LaunchError);
    expect((error as Error).message).toMatch(/already has Docker resources \(left-over\)/);
    expect(world.docker.callsOf("createContainer")).toEqual([]);
    expect(world.docker.networks.has("left-over")).toBe(true);
  });
});
