/**
 * The Docker host's own addresses, which a bottle's gate must refuse like its own.
 *
 * From the gate's side the host answers at every address it owns: the gateway of
 * each network the gate is on, and, through the default route of a non-internal
 * egress network, every address of every interface of the host (a public address,
 * another bridge's gateway). The gate's private ranges cover most of them, but not a
 * host with a public or documentation address, nor a network with a public-looking
 * subnet; an allowed name that resolves there would reach the host's services.
 *
 * The runner may itself be a container talking to the engine through its socket, so
 * its own interfaces are not always the host's. When they are (the runner runs on the
 * Docker host, as on a CI runner without a job container), it sees the bridge the engine
 * has just made for the bottle's network, `br-<first 12 of its id>`, which nobody could
 * name before; then it reads the addresses itself. Otherwise (the engine names no host
 * addresses) a short-lived probe container on the host's network reads them: the kernel's
 * local addresses from /proc/net/fib_trie and /proc/net/if_inet6 (which list the
 * addresses of interfaces that are down too, such as an idle docker0), and Node's
 * view of the interfaces where those files are missing (gVisor). Added to those: the
 * gateways of the gate's networks as the engine reports them, and the runner's own
 * addresses (the host's, when it runs there). Addresses the gate refuses by range
 * anyway are left out, so the list is short and says what only it protects.
 *
 * It fails closed: a launch that cannot learn the host's addresses stops.
 */
import { existsSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { type ContainerRequest, type DockerClient, ROLE_LABEL, ROLES } from "../docker/client.js";
import { errorMessage } from "../errors.js";
import { parseIp, refusedAddressReason } from "../gate/address.js";

const PROBE_TIMEOUT_MS = 20_000;
const PROBE_EVENT = "host-addresses";

/**
 * The addresses the kernel calls local, from the text of /proc/net/fib_trie (IPv4:
 * a `|-- a.b.c.d` leaf followed by `/32 host LOCAL`) and /proc/net/if_inet6 (IPv6:
 * 32 hex digits at the start of each line). Self-contained: its source is also the
 * probe container's parser.
 */
export function localAddresses(fibTrie: string, ifInet6: string): string[] {
  const found = new Set<string>();
  let leaf = "";
  for (const line of fibTrie.split("\n")) {
    const at = /\|-- (\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (at) leaf = at[1] ?? "";
    else if (line.includes("+--")) leaf = "";
    else if (leaf !== "" && /^\s*\/32 host LOCAL\s*$/.test(line)) found.add(leaf);
  }
  for (const line of ifInet6.split("\n")) {
    const hex = /^([0-9a-f]{32})\s/i.exec(line)?.[1];
    if (hex)
      found.add(
        (hex.match(/.{4}/g) ?? [])
          .map((group) => group.replace(/^0{1,3}/, ""))
          .join(":")
          .toLowerCase(),
      );
  }
  return [...found];
}

/** The probe's program: one JSON line with every address it can find, for `node -e`. */
export const HOST_PROBE_PROGRAM = [
  'const fs = require("node:fs");',
  'const os = require("node:os");',
  'const read = (path) => { try { return fs.readFileSync(path, "utf8"); } catch { return ""; } };',
  `const localAddresses = ${localAddresses.toString()};`,
  "const seen = Object.values(os.networkInterfaces()).flat().map((i) => i.address);",
  `const addresses = [...localAddresses(read("/proc/net/fib_trie"), read("/proc/net/if_inet6")), ...seen];`,
  `process.stdout.write(JSON.stringify({ event: ${JSON.stringify(PROBE_EVENT)}, addresses }) + "\\n");`,
].join("\n");

/** Where Linux lists this network namespace's interfaces. */
const SYS_NET = "/sys/class/net";

/**
 * Whether this process shares the engine's network namespace: the bridge the engine made for the
 * network `networkId` is one of its interfaces.
 */
export function seesEngineBridge(networkId: string, sysNet = SYS_NET): boolean {
  return /^[0-9a-f]{12,64}$/.test(networkId) && existsSync(`${sysNet}/br-${networkId.slice(0, 12)}`);
}

/** The kernel's local addresses of this network namespace, as the probe's program reads them. */
function addressesHere(): string[] {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  return localAddresses(read("/proc/net/fib_trie"), read("/proc/net/if_inet6"));
}

/** `addresses` as the gate gets them: valid, without zone, unique, and not already refused by range. */
export function addressesToRefuse(addresses: Iterable<string>): string[] {
  const kept = new Set<string>();
  for (const raw of addresses) {
    const address = raw.replace(/%.*$/, "");
    if (parseIp(address) === undefined) continue;
    if (refusedAddressReason(address, { denied: [] }) === undefined) kept.add(address);
  }
  return [...kept].sort();
}

export interface HostProbe {
  /** The probe container's name and labels (the bottle's, so teardown and cleanup find it). */
  name: string;
  labels: Record<string, string>;
  /** An image with Node: the gate's. */
  image: string;
}

/**
 * The host's addresses the gate must refuse, for one launch. The probe starts as
 * soon as its image is there (`start`), so it runs alongside the creation of the
 * bottle's networks and gate; `addresses` adds the gateways of the gate's networks
 * once they exist. `create` makes the probe container (the caller tracks it for
 * teardown, which must await `settled` first so the container is never still being
 * made after it); its removal, once it has answered, is not waited for.
 */
export class HostAddressProbe {
  private probed: Promise<PromiseSettledResult<string[]>> | null = null;

  constructor(
    private readonly docker: DockerClient,
    private readonly probe: HostProbe,
    private readonly create: (request: ContainerRequest) => Promise<string>,
  ) {}

  start(): void {
    this.probed ??= Promise.allSettled([probeHost(this.docker, this.probe, this.create)]).then(([result]) => result);
  }

  /**
   * Once the bottle's network `networkId` exists: on the Docker host itself the addresses are read
   * here, with no probe container; anywhere else the probe starts.
   */
  startFor(networkId: string, sysNet = SYS_NET): void {
    if (!this.probed && seesEngineBridge(networkId, sysNet)) {
      this.probed = Promise.resolve({ status: "fulfilled", value: addressesHere() });
    }
    this.start();
  }

  /** Resolves once the probe has finished, if it ever started; never rejects. */
  async settled(): Promise<void> {
    await this.probed;
  }

  /**
   * The addresses, with the gateways of `networks` and the runner's own; a failed probe is an error naming
   * the cause.
   */
  async addresses(networks: string[]): Promise<string[]> {
    this.start();
    // Both settle before either failure is thrown.
    const [interfaces, gateways] = await Promise.all([
      this.probed!,
      Promise.allSettled([Promise.all(networks.map((network) => this.docker.networkGateways(network)))]).then(
        ([result]) => result,
      ),
    ]);
    if (interfaces.status === "rejected") throw interfaces.reason;
    if (gateways.status === "rejected")
      throw new Error(`could not read the gateways of the gate's networks: ${errorMessage(gateways.reason)}`);
    const runner = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
    return addressesToRefuse([...interfaces.value, ...gateways.value.flat(), ...runner]);
  }
}

class ProbeFailed extends Error {}

async function probeHost(
  docker: DockerClient,
  probe: HostProbe,
  create: (request: ContainerRequest) => Promise<string>,
): Promise<string[]> {
  const fail = (why: string) =>
    new ProbeFailed(
      `could not learn the Docker host's addresses, which the gate must refuse: ${why.trim()}; ` +
        `the runner reads them with a short container on the host network (image ${probe.image}), which the ` +
        `engine must allow`,
    );
  let addresses: string[] | null = null;
  try {
    const id = await create({
      name: probe.name,
      image: probe.image,
      cmd: ["node", "-e", HOST_PROBE_PROGRAM],
      user: "65534:65534",
      env: {},
      labels: { ...probe.labels, [ROLE_LABEL]: ROLES.hostProbe },
      network: "host",
      capDrop: ["ALL"],
      securityOpt: ["no-new-privileges"],
      memoryBytes: 64 * 1024 * 1024,
      pidsLimit: 16,
      readonlyRootfs: true,
    });
    await docker.startContainer(id);
    const how = await docker.waitForLogLine(
      id,
      (line) => {
        try {
          const event = JSON.parse(line) as { event?: string; addresses?: unknown };
          if (event.event !== PROBE_EVENT || !Array.isArray(event.addresses)) return false;
          addresses = event.addresses.filter((a): a is string => typeof a === "string");
          return true;
        } catch {
          return false;
        }
      },
      PROBE_TIMEOUT_MS,
    );
    if (addresses === null) {
      const tail = await docker.logsTail(id, 5).catch(() => "");
      throw fail(
        how === "timeout"
          ? `no answer within ${PROBE_TIMEOUT_MS / 1000}s`
          : `it exited without an answer ${JSON.stringify(tail.trim())}`,
      );
    }
    return addresses;
  } catch (error) {
    throw error instanceof ProbeFailed ? error : fail(errorMessage(error));
  } finally {
    void docker.removeContainer(probe.name).catch(() => undefined);
  }
}
