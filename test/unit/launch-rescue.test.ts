/**
 * Rescuing a bottle whose runner died, on the fake engine: claude is stopped, the
 * final snapshots are taken, and the state is kept (or removed when claude never ran).
 */
import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { rescueBottle } from "../../src/bottle/launch/rescue.js";
import { IDENTITY_LABEL, ROLE_LABEL } from "../../src/docker/client.js";
import { PROPOSALS_DIR } from "../../src/supervise/config.js";
import { SESSION_ID } from "../support/fake-docker.js";
import { AGENT_IMAGE, archiveOf, IDENTITY, type LaunchWorld, launchWorld, testDeps } from "../support/launch.js";

async function deadRunnersBottle(world: LaunchWorld, roles: string[]): Promise<void> {
  await world.state.writeMetadata({
    version: 1,
    identity: IDENTITY,
    agent: "fixer",
    manifestPath: "/m.json",
    workspace: world.workspace,
    sessionId: null,
    outcome: "running",
    exitCode: null,
    startedAt: "2026-01-02T03:04:05.000Z",
    endedAt: null,
    launches: 1,
    numTurns: null,
    costUsd: null,
    image: AGENT_IMAGE,
    origin: null,
    history: [],
  });
  for (const role of roles) {
    const id = await world.docker.createContainer({
      name: `claude-bottle-${IDENTITY}-${role}`,
      image: AGENT_IMAGE,
      cmd: [],
      user: "node",
      env: {},
      labels: { [IDENTITY_LABEL]: IDENTITY, [ROLE_LABEL]: role },
      network: "n",
      capDrop: [],
      securityOpt: [],
    });
    await world.docker.startContainer(id);
  }
}

describe("rescuing a dead runner's bottle", () => {
  test("claude is stopped, snapshots taken, the session id read from the transcript, the state kept", async () => {
    const world = launchWorld();
    await deadRunnersBottle(world, ["gate", "agent"]);
    world.docker.archiveOf.set(
      "/home/node/.claude",
      await archiveOf({ [`.claude/projects/p/${SESSION_ID}.jsonl`]: "{}\n" }),
    );
    world.docker.archiveOf.set("/home/node/workspace", await archiveOf({ "workspace/README.md": "changed\n" }));
    expect(await rescueBottle(IDENTITY, testDeps(world))).toBe(true);
    expect(await world.state.readMetadata(IDENTITY)).toMatchObject({ sessionId: SESSION_ID, outcome: "interrupted" });
    expect(world.state.isPreserved(IDENTITY)).toBe(true);
    expect(readFileSync(`${world.state.path(IDENTITY, "workspace")}/README.md`, "utf8")).toBe("changed\n");
    expect(world.docker.callsOf("exec").map((a) => (a[1] as { cmd: string[] }).cmd[0])).toEqual(["sh"]);
  });

  test("claude never started in a fresh bottle: the state is removed", async () => {
    const world = launchWorld();
    await deadRunnersBottle(world, ["gate", "agent"]);
    expect(await rescueBottle(IDENTITY, testDeps(world))).toBe(false);
    expect(world.state.exists(IDENTITY)).toBe(false);
  });

  test("a proposal the dead runner had not settled is kept, as preserve would", async () => {
    const world = launchWorld();
    await deadRunnersBottle(world, ["gate", "agent", "supervise"]);
    const proposal = {
      version: 1,
      id: 1,
      dockerfile: "FROM agent:test\nRUN true\n",
      reason: "needs true",
      at: "2026-01-02T03:04:05Z",
    };
    world.docker.archiveOf.set(
      "/home/node/.claude",
      await archiveOf({ [`.claude/projects/p/${SESSION_ID}.jsonl`]: "{}\n" }),
    );
    world.docker.archiveOf.set(
      PROPOSALS_DIR,
      await archiveOf({ "claude-bottle-proposals/1.json": JSON.stringify(proposal) }),
    );
    expect(await rescueBottle(IDENTITY, testDeps(world))).toBe(true);
    expect(await world.state.readMetadata(IDENTITY)).toMatchObject({ outcome: "capability-block" });
    expect(await world.state.readDockerfile(IDENTITY)).toBe(proposal.dockerfile);
    expect(JSON.parse(readFileSync(world.state.path(IDENTITY, "capabilityBlock"), "utf8"))).toMatchObject({
      policy: "preserve",
      reason: "needs true",
    });
  });
});
