/**
 * The security tests' stand-in internet: a Docker network on 198.18.0.0/24 (a
 * benchmarking range, so nothing real lives there) with an origin serving
 * `allowed.test` and `evil.test`, a canary that logs every connection and
 * datagram, a DNS server that logs every query, and a fake model API that logs
 * every header (the programs and images are in test/world/). The gate joins it
 * as its way out (CLAUDE_BOTTLE_EGRESS_NETWORK) and asks its DNS server
 * (CLAUDE_BOTTLE_GATE_DNS). Also here: a canary that shares a running gate's
 * network namespace (its loopback, its own addresses and 169.254.169.254), and
 * a canary on the host, for what must never be reached from the inside.
 *
 * Every container and the network carry the `bottle-test.world` label; a world
 * left behind by a killed run is removed by the next `startWorld`.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type AddressInfo, type Socket, createServer } from "node:net";
import { hostname } from "node:os";
import { waitFor } from "./runner.js";

export const WORLD_IMAGE = "bottle-test/world:latest";
export const TOOLBOX_IMAGE = "bottle-test/toolbox:latest";
export const WORLD_LABEL = "bottle-test.world";

export const WORLD_SUBNET = "198.18.0.0/24";
/** Fixed addresses; the gate gets one from the upper half (the network's ip-range). */
export const WORLD_IP = {
  gateway: "198.18.0.1",
  origin: "198.18.0.10",
  canary: "198.18.0.11",
  api: "198.18.0.20",
  dns: "198.18.0.53",
} as const;
/** Ports the outside canary listens on. */
export const CANARY_TCP_PORTS = [22, 80, 443, 8080];
export const CANARY_UDP_PORTS = [53, 123, 443];
/** Ports the canary inside a gate's network namespace listens on; `ready` tells the agent it is up. */
export const INNER_CANARY_PORTS = { target: 443, ready: 9999 } as const;

export type Service = "origin" | "canary" | "dns" | "api";

/** One line a world program printed. */
export interface WorldEvent {
  svc: string;
  event: string;
  time: string;
  [field: string]: unknown;
}

function docker(args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function dockerQuiet(args: string[]): void {
  try {
    docker(args);
  } catch {
    // Removing what is already gone.
  }
}

function readEvents(container: string): WorldEvent[] {
  const text = execFileSync("docker", ["logs", container], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 64 * 1024 * 1024,
  });
  return text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as WorldEvent);
}

function listeningCount(container: string): number {
  try {
    return readEvents(container).filter((e) => e.event === "listening").length;
  } catch {
    return 0;
  }
}

/** Removes every container and network of any world, such as one a killed run left. */
export function removeWorlds(): void {
  const containers = docker(["ps", "-aq", "--filter", `label=${WORLD_LABEL}`])
    .split("\n")
    .filter(Boolean);
  if (containers.length > 0) dockerQuiet(["rm", "-f", ...containers]);
  for (const network of docker(["network", "ls", "-q", "--filter", `label=${WORLD_LABEL}`])
    .split("\n")
    .filter(Boolean)) {
    dockerQuiet(["network", "rm", network]);
  }
}

/** A canary container sharing a running gate's network namespace. */
export interface InnerCanary {
  container: string;
  events(): WorldEvent[];
}

export interface World {
  /** The network's name: what CLAUDE_BOTTLE_EGRESS_NETWORK is set to. */
  network: string;
  /** The runner environment that puts a bottle's gate on this world. */
  runnerEnv: Record<string, string>;
  events(service: Service): WorldEvent[];
  /** Every line every world container printed, inner canaries included. */
  allLogs(): string;
  /**
   * Starts a canary in the network namespace of the gate of the runner with
   * process id `runnerPid`, once that gate runs: it listens on the gate's
   * loopback and own addresses, and claims 169.254.169.254 there too.
   */
  innerCanary(runnerPid: number, timeoutMs?: number): Promise<InnerCanary>;
  stop(): void;
}

export async function startWorld(): Promise<World> {
  removeWorlds();
  const id = randomBytes(3).toString("hex");
  const network = `bottle-world-${id}`;
  const label = `${WORLD_LABEL}=${id}`;
  const containers: Record<Service, string> = {
    origin: `${network}-origin`,
    canary: `${network}-canary`,
    dns: `${network}-dns`,
    api: `${network}-api`,
  };
  const inner: string[] = [];
  const stop = (): void => {
    dockerQuiet(["rm", "-f", ...Object.values(containers), ...inner]);
    dockerQuiet(["network", "rm", network]);
  };
  try {
    // Internal: the stand-in internet must not lead to the real one.
    docker([
      "network",
      "create",
      "--internal",
      "--subnet",
      WORLD_SUBNET,
      "--gateway",
      WORLD_IP.gateway,
      "--ip-range",
      "198.18.0.128/25",
      "--label",
      label,
      network,
    ]);
    const run = (service: Service, ip: string, cmd: string[]): void => {
      docker([
        "run",
        "-d",
        "--name",
        containers[service],
        "--label",
        label,
        "--network",
        network,
        "--ip",
        ip,
        WORLD_IMAGE,
        "node",
        ...cmd,
      ]);
    };
    run("origin", WORLD_IP.origin, ["/world/origin.mjs", "/world/certs", "22", "80", "443", "8443"]);
    run("canary", WORLD_IP.canary, [
      "/world/canary.mjs",
      "outside",
      `tcp:${CANARY_TCP_PORTS.join(",")}`,
      `udp:${CANARY_UDP_PORTS.join(",")}`,
    ]);
    run("dns", WORLD_IP.dns, ["/world/dns.mjs", WORLD_IP.origin]);
    run("api", WORLD_IP.api, ["/world/model-api.mjs", "80"]);
    const expected: Record<Service, number> = {
      origin: 4,
      canary: CANARY_TCP_PORTS.length + CANARY_UDP_PORTS.length,
      dns: 1,
      api: 1,
    };
    await waitFor(
      () => (Object.keys(containers) as Service[]).every((s) => listeningCount(containers[s]) >= expected[s]),
      30_000,
      "the world's servers to listen",
    );
  } catch (error) {
    stop();
    throw error;
  }

  return {
    network,
    runnerEnv: { CLAUDE_BOTTLE_EGRESS_NETWORK: network, CLAUDE_BOTTLE_GATE_DNS: WORLD_IP.dns },
    events: (service) => readEvents(containers[service]),
    allLogs: () =>
      [...Object.values(containers), ...inner]
        .map((c) =>
          execFileSync("docker", ["logs", c], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            maxBuffer: 64 * 1024 * 1024,
          }),
        )
        .join("\n"),
    async innerCanary(runnerPid, timeoutMs = 60_000) {
      const runner = `claude-bottle.runner=${hostname()}/${runnerPid}`;
      let gate = "";
      await waitFor(
        () => {
          gate = docker([
            "ps",
            "-q",
            "--filter",
            `label=${runner}`,
            "--filter",
            "label=claude-bottle.role=gate",
            "--filter",
            "status=running",
          ]).trim();
          return gate !== "";
        },
        timeoutMs,
        `the gate of runner ${runnerPid} to run`,
      );
      const container = `${network}-inner-${inner.length}`;
      inner.push(container);
      // The canary needs NET_ADMIN to add the metadata address; the gate itself keeps none.
      docker([
        "run",
        "-d",
        "--name",
        container,
        "--label",
        label,
        "--network",
        `container:${gate}`,
        "--cap-add",
        "NET_ADMIN",
        WORLD_IMAGE,
        "sh",
        "-c",
        `ip addr add 169.254.169.254/32 dev lo && exec node /world/canary.mjs inside tcp:${INNER_CANARY_PORTS.target},${INNER_CANARY_PORTS.ready}`,
      ]);
      await waitFor(() => listeningCount(container) >= 2, 20_000, "the inner canary to listen");
      return { container, events: () => readEvents(container) };
    },
    stop,
  };
}

/** What the host canary saw: a connection, or data on one. */
export interface HostCanaryEvent {
  event: "tcp" | "tcp-data";
  from: string;
  data?: string;
}

export interface HostCanary {
  port: number;
  events: HostCanaryEvent[];
  close(): Promise<void>;
}

/**
 * A listener on every address of the host, for the addresses a bottle's
 * networks give the host (their gateways): an agent must reach none of them.
 */
export async function startHostCanary(): Promise<HostCanary> {
  const events: HostCanaryEvent[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const from = socket.remoteAddress ?? "";
    events.push({ event: "tcp", from });
    socket.on("data", (chunk: Buffer) => events.push({ event: "tcp-data", from, data: chunk.toString("latin1") }));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
