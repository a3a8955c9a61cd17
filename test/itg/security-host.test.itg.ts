/**
 * The bottle's edges toward the machine it runs on: `cleanup` on an engine shared
 * by runners on several hosts, and a gate asked for a name that resolves to the
 * Docker host itself.
 *
 * The runner "on another host" is the built runner in a container of its own that
 * shares this engine through the socket (test/support/foreign-runner.ts), as job
 * containers do. Every `cleanup` here names the bottle it is about, so no bottle
 * of anyone else on this engine is ever judged.
 *
 * The host-address attack puts the gate's way out on a network of the test's own:
 * a bridge with a benchmarking subnet whose gateway is the host, with a DNS server
 * that spells any address as a name (`x.a-b-c-d.ip.test`) and a canary standing in
 * for a public server. The host listens through a canary on all its addresses: the
 * gateway on the gate's network and the host's own interface addresses.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { refusedAddressReason } from "../../src/gate/address.js";
import {
  type ForeignRunner,
  runningAgentIdentity,
  runningGate,
  startForeignRunner,
} from "../support/foreign-runner.js";
import {
  FAKE_AGENT_IMAGE,
  ROOT,
  type RunnerRun,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  startRunner,
  waitFor,
  writeManifest,
  jsonStart,
} from "../support/runner.js";
import { type HostCanary, TOOLBOX_IMAGE, WORLD_IMAGE, startHostCanary } from "../support/world.js";

/** Where a runner keeps its bottle's lease: a file in the gate container that only the engine can write. */
const LEASE_PATH = "/opt/claude-bottle-gate/lease.json";

const boxes: Sandbox[] = [];
const runners: ForeignRunner[] = [];

afterAll(() => {
  for (const runner of runners) runner.stop();
  for (const box of boxes) rmSync(box.dir, { recursive: true, force: true });
});

function box(env: NodeJS.ProcessEnv = {}): Sandbox {
  const b = sandbox(env);
  boxes.push(b);
  return b;
}

function docker(args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function unique(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** A manifest whose one agent runs the fake claude, named so its bottle can be found by label. */
function busyManifest(b: Sandbox, agent: string): string {
  return writeManifest(b.dir, {
    bottles: { busy: { image: FAKE_AGENT_IMAGE, limits: { timeout: "5m" } } },
    agents: { [agent]: { bottle: "busy", prompt: "You wait." } },
  });
}

const BUSY = fake({ steps: [{ run: "sleep 240" }], end: "success" });

interface CleanupReport {
  removed: { identity: string; containers: string[]; networks: string[] }[];
  spared: { identity: string; runner: string; reason?: string }[];
  failures: string[];
}

/** `node runner cleanup <identity>` from this host, with a state home of its own (another host shares no state). */
async function cleanup(identity: string, ...flags: string[]): Promise<{ run: RunnerRun; report: CleanupReport }> {
  const run = await runRunner(["cleanup", identity, ...flags, "--format", "json"], box());
  expect(run.code, run.stderr).toBe(0);
  return { run, report: jsonResult(run) as unknown as CleanupReport };
}

function agentRunning(identity: string): boolean {
  return (
    docker([
      "ps",
      "-q",
      "--filter",
      `label=claude-bottle.identity=${identity}`,
      "--filter",
      "label=claude-bottle.role=agent",
      "--filter",
      "status=running",
    ]).trim() !== ""
  );
}

describe("cleanup on an engine shared by runners on several hosts", () => {
  test("a live bottle whose runner is on another host survives cleanup; --force naming it removes it", async () => {
    const agent = unique("far");
    const b = box({});
    const runner = startForeignRunner(b, [...jsonStart(agent, busyManifest(b, agent)), BUSY]);
    runners.push(runner);
    const identity = await runner.bottle(agent);

    const { report } = await cleanup(identity);
    expect(report.removed.map((r) => r.identity)).toEqual([]);
    expect(report.spared).toEqual([expect.objectContaining({ identity })]);
    expect(report.spared[0]?.reason).toMatch(/lease/);
    expect(agentRunning(identity)).toBe(true);
    expect(runner.running()).toBe(true);

    // The person who knows the bottle is dead says so by name.
    const forced = await cleanup(identity, "--force");
    expect(forced.report.removed).toEqual([expect.objectContaining({ identity })]);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
    // Its runner notices, ends with a failure of its own and leaves nothing behind.
    await waitFor(() => !runner.running(), 60_000, "the foreign runner to end");
    expect(runner.exitCode(), runner.logs()).not.toBe(0);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });

  test("a bottle whose runner on another host went silent is kept until its lease expires, then reaped", async () => {
    const agent = unique("far");
    const b = box({});
    const runner = startForeignRunner(b, [...jsonStart(agent, busyManifest(b, agent)), BUSY]);
    runners.push(runner);
    const identity = await runner.bottle(agent);
    // The runner's host is gone: nobody renews the lease, the bottle runs on.
    runner.kill();

    const early = await cleanup(identity);
    expect(early.report.removed).toEqual([]);
    expect(early.report.spared).toEqual([expect.objectContaining({ identity })]);
    expect(agentRunning(identity)).toBe(true);

    // Time passes: the lease the gate holds now says it expired ten minutes ago.
    const gate = runningGate(identity);
    const lease = JSON.parse(docker(["exec", gate, "cat", LEASE_PATH])) as { renewedAt: string; expiresAt: string };
    expect(Date.parse(lease.expiresAt)).toBeGreaterThan(Date.now());
    const back = (iso: string) => new Date(Date.parse(iso) - 10 * 60_000).toISOString();
    const file = join(b.dir, "lease.json");
    writeFileSync(
      file,
      JSON.stringify({ ...lease, renewedAt: back(lease.renewedAt), expiresAt: back(lease.expiresAt) }),
    );
    docker(["cp", file, `${gate}:${LEASE_PATH}`]);

    const late = await cleanup(identity);
    expect(late.report.removed).toEqual([expect.objectContaining({ identity })]);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });

  test("a runner on this host: its bottle is kept while it runs and reaped at once when it is killed", async () => {
    const agent = unique("near");
    const b = box({});
    const { child, done } = startRunner(
      ["start", agent, "--manifest", busyManifest(b, agent), "--format", "json", "--prompt", BUSY],
      b,
    );
    let identity = "";
    await waitFor(
      () => {
        identity = runningAgentIdentity(agent);
        return identity !== "" && runningGate(identity) !== "";
      },
      90_000,
      "the bottle of the runner on this host",
    );

    const alive = await cleanup(identity);
    expect(alive.report.removed).toEqual([]);
    expect(alive.report.spared).toEqual([expect.objectContaining({ identity })]);

    child.kill("SIGKILL");
    await done;
    const dead = await cleanup(identity);
    expect(dead.report.removed).toEqual([expect.objectContaining({ identity })]);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });
});

describe("the gate and the Docker host's own addresses", () => {
  let hostCanary: HostCanary;
  let network = "";
  let subnet = "";
  const containers: string[] = [];
  const at = (host: number) => subnet.replace(/\.0\/24$/, `.${host}`);
  const spelled = (address: string, marker: string) => `${marker}.${address.replaceAll(".", "-")}.ip.test`;

  beforeAll(async () => {
    hostCanary = await startHostCanary();
    network = unique("bottle-test-hostnet");
    // A benchmarking /24 nobody else uses; the gateway on it is the host.
    for (let tries = 0; network !== "" && subnet === ""; tries++) {
      const candidate = `198.19.${1 + Math.floor(Math.random() * 254)}.0/24`;
      try {
        docker(["network", "create", "--subnet", candidate, "--label", "bottle-test=1", network]);
        subnet = candidate;
      } catch (error) {
        if (tries > 10) throw error;
      }
    }
    const run = (name: string, ip: string, cmd: string[]) => {
      containers.push(name);
      docker(["run", "-d", "--name", name, "--label", "bottle-test=1", "--network", network, "--ip", ip, ...cmd]);
    };
    // The DNS program from this checkout, whatever version of it the image holds.
    run(`${network}-dns`, at(53), [
      "-v",
      `${ROOT}/test/world/dns.mjs:/world/dns.mjs:ro`,
      WORLD_IMAGE,
      "node",
      "/world/dns.mjs",
      at(11),
    ]);
    run(`${network}-canary`, at(11), [WORLD_IMAGE, "node", "/world/canary.mjs", "public", "tcp:443"]);
    await waitFor(
      () => containers.every((c) => docker(["logs", c]).includes('"listening"')),
      30_000,
      "the DNS server and the canary",
    );
  });

  afterAll(async () => {
    await hostCanary?.close();
    if (containers.length) docker(["rm", "-f", ...containers]);
    if (network) docker(["network", "rm", network]);
  });

  test("an allowed name that resolves to one of the host's addresses reaches nothing; a public one still works", async () => {
    // The host as the gate can reach it: its address on the gate's network, and every
    // address of its own that the gate's private-range rules would not refuse anyway.
    const own = Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .filter((i) => i.family === "IPv4" && refusedAddressReason(i.address, { denied: [] }) === undefined)
      .map((i) => i.address);
    const targets = [at(1), ...own.filter((a) => !a.startsWith("198.19."))];
    const marker = (i: number) => `host${i}x${randomBytes(4).toString("hex")}`;
    const markers = targets.map((_, i) => marker(i));
    const control = `public${randomBytes(4).toString("hex")}`;
    const port = hostCanary.port;
    const b = box({ CLAUDE_BOTTLE_EGRESS_NETWORK: network, CLAUDE_BOTTLE_GATE_DNS: at(53) });
    const manifest = writeManifest(b.dir, {
      bottles: {
        toolbox: {
          image: TOOLBOX_IMAGE,
          egress: { allow: [`*.ip.test:${port}`, "*.ip.test"] },
          limits: { timeout: "3m" },
        },
      },
      agents: { attacker: { bottle: "toolbox", prompt: "You test the sandbox you run in." } },
    });
    const tries = targets.flatMap((address, i) => [
      `curl -sS -m 8 -k -o /dev/null -w 'https ${address} %{http_code}\\n' https://${spelled(address, markers[i]!)}:${port}/${markers[i]} &`,
      `curl -sS -m 8 -o /dev/null -w 'http ${address} %{http_code}\\n' http://${spelled(address, markers[i]!)}:${port}/${markers[i]} &`,
    ]);
    const steps = [
      {
        run: [
          ...tries,
          `curl -sS -m 8 -k -o /dev/null -w 'public %{http_code}\\n' https://${spelled(at(11), control)}/ &`,
          "wait",
        ].join("\n"),
      },
    ];
    const run = await startRunner([...jsonStart("attacker", manifest), fake({ steps, end: "error-result" })], b).done;
    const result = jsonResult(run);
    expect(result.outcome, run.stderr).toBe("error");
    expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });

    // The host heard nothing: not a connection, not a byte.
    expect(hostCanary.events).toEqual([]);
    // The gate refused every one of them as the host's, after resolving the name.
    const egressPath = join(String(result.stateDir), "egress.jsonl");
    const egress = existsSync(egressPath)
      ? readFileSync(egressPath, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as { host: string; decision: string; reason?: string; address?: string })
      : [];
    for (const [i, address] of targets.entries()) {
      const tried = egress.filter((e) => e.host.startsWith(markers[i]!));
      expect(tried.length, `${address}: ${JSON.stringify(egress)}`).toBe(2);
      for (const event of tried)
        expect(event, address).toMatchObject({ decision: "refuse", reason: expect.stringContaining("Docker host") });
    }
    // The same way out works for a public address: the path itself is open.
    const publicCanary = docker(["logs", `${network}-canary`]);
    expect(publicCanary).toContain(`"event":"tcp"`);
    expect(publicCanary).toContain(control);
  });
});
