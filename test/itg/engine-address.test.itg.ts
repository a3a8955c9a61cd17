/**
 * The engine addresses the built runner reaches. The bundles carry no ssh client
 * (stubs/README.md), so DOCKER_HOST=tcp:// and the unix socket must work as they
 * always did, and ssh:// must be refused by name before anything is created.
 */
import { readFileSync } from "node:fs";
import { type Socket, connect, createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  FAKE_AGENT_IMAGE,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  writeManifest,
  jsonStart,
} from "../support/runner.js";

const SOCKET = "/var/run/docker.sock";
const AGENT = "addresser";

/** A tcp:// engine address: every connection is piped to the local socket, and counted. */
let port = 0;
let connections = 0;
const server = createServer((client: Socket) => {
  connections++;
  const engine = connect(SOCKET);
  client.pipe(engine).pipe(client);
  const close = () => {
    client.destroy();
    engine.destroy();
  };
  client.on("error", close).on("close", close);
  engine.on("error", close).on("close", close);
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function fakeBottle(box: Sandbox): string {
  return writeManifest(box.dir, {
    bottles: { fake: { image: FAKE_AGENT_IMAGE, egress: { routes: [] } } },
    agents: { [AGENT]: { bottle: "fake", prompt: "You fix things." } },
  });
}

/** This file's bottles on the shared engine: their names carry the agent. */
function mine(): string[] {
  const { containers, networks } = labelled();
  return [...containers, ...networks].filter((name) => name.includes(`-${AGENT}-`));
}

describe("DOCKER_HOST", () => {
  test("tcp://: a bottle runs end to end through the address, and nothing is left", async () => {
    const box = sandbox({ DOCKER_HOST: `tcp://127.0.0.1:${port}` });
    const run = await runRunner(
      [
        ...jsonStart(AGENT, fakeBottle(box)),
        fake({ steps: [{ run: "echo through tcp > out.txt" }, { say: "done" }], end: "success" }),
      ],
      box,
    );
    const result = jsonResult(run);
    expect(run.code, run.stderr).toBe(0);
    expect(result).toMatchObject({ outcome: "success", exitCode: 0, preserved: false });
    expect(readFileSync(join(box.workspace, "out.txt"), "utf8")).toBe("through tcp\n");
    expect(connections).toBeGreaterThan(0);
    expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
  });

  test("ssh://: refused by name with the fix, before any container or network is made", async () => {
    const box = sandbox({ DOCKER_HOST: "ssh://builder:hunter2@ci.example:2222" });
    const before = connections;
    const run = await runRunner(
      ["start", AGENT, "--manifest", fakeBottle(box), "--prompt", fake({ end: "success" })],
      box,
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      `DOCKER_HOST: "ssh://builder@ci.example:2222" is an ssh:// address, which bottle-action does not speak; forward the engine's socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock -p 2222 builder@ci.example) and set DOCKER_HOST=unix:///tmp/docker.sock, or give a unix:// or tcp:// address`,
    );
    expect(run.stderr + run.stdout).not.toContain("hunter2");
    expect(connections).toBe(before);
    expect(mine()).toEqual([]);
  });
});
