/**
 * The Docker resources of one launch: its networks and containers, each labelled
 * with the bottle's labels and its role. What this launch created is tracked so
 * teardown removes exactly that (and whatever else carries the bottle's identity),
 * whatever happened.
 */
import {
  type ContainerRequest,
  type DockerClient,
  IDENTITY_LABEL,
  isNotFound,
  ROLE_LABEL,
  type Role,
  ROLES,
} from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import type { Log } from "../../log/log.js";
import type { BottlePlan } from "../plan.js";
import { LaunchError } from "./types.js";

/** The bottle's labels plus the role of one of its resources. */
export function roleLabels(plan: BottlePlan, role: Role): Record<string, string> {
  return { ...plan.labels, [ROLE_LABEL]: role };
}

/** Leftovers with this identity mean another runner owns it, or an earlier one died: never share them. */
export async function refuseOrphans(plan: BottlePlan, docker: DockerClient): Promise<void> {
  const label = `${IDENTITY_LABEL}=${plan.identity}`;
  const [containers, networks] = await Promise.all([docker.listContainers([label]), docker.listNetworks([label])]);
  const names = [...containers.map((c) => c.name), ...networks.map((n) => n.name)];
  if (names.length > 0) {
    throw new LaunchError(
      `bottle ${plan.identity} already has Docker resources (${names.join(", ")}): another runner owns it or ` +
        "an earlier one died; run `node runner cleanup` and retry",
    );
  }
}

/** How long a gate has to end its connections, and log them, once claude has ended. */
const GATE_STOP_GRACE_S = 2;

export class BottleResources {
  private readonly containers: string[] = [];
  private readonly gates: string[] = [];
  private readonly networks: string[] = [];
  private release: { emptied: Promise<void>; removed: Promise<void> } | null = null;
  private readonly releasedNetworks = new Set<string>();
  /** Each container's last removal begun: whoever asks again waits for it. */
  private readonly removals = new Map<string, Promise<void>>();
  private egressKnown: Promise<string> | undefined;
  private readonly knownSubnets = new Map<string, Promise<string[]>>();

  constructor(
    private readonly docker: DockerClient,
    private readonly plan: BottlePlan,
    private readonly log: Log,
  ) {}

  /**
   * Creates the bottle's internal network while its way out is settled (`wayOut`); `onInternal` hears the
   * internal network's id as soon as it exists.
   */
  async createNetworks(onInternal: (id: string) => void = () => {}): Promise<void> {
    const internal = this.createNetwork(ROLES.internalNetwork, this.plan.networks.internal, true).then(onInternal);
    // All settled before the first failure is thrown, so teardown never races a creation.
    const created = await Promise.allSettled([internal, this.wayOut()]);
    const failed = created.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /**
   * The network the gate goes out through, once it is known: a user's network is only joined (the gate's
   * creation says if it is missing); the engine's default bridge when it has one, else a network of the
   * bottle's own (`ownEgress`), made now. Asked for once, by whoever asks first.
   */
  wayOut(): Promise<string> {
    this.egressKnown ??= (async () => {
      const { egress, ownEgress } = this.plan.networks;
      if (ownEgress === undefined || (await this.engineHas(egress))) return egress;
      this.log.info(`the engine has no ${egress} network; the gate goes out through ${ownEgress}`);
      await this.createNetwork(ROLES.egressNetwork, ownEgress, false);
      return ownEgress;
    })();
    return this.egressKnown;
  }

  private async engineHas(network: string): Promise<boolean> {
    return this.subnetsOf(network).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
  }

  private async createNetwork(role: Role, name: string, isInternal: boolean): Promise<string> {
    this.networks.push(name);
    return this.docker.createNetwork({
      name,
      internal: isInternal,
      labels: roleLabels(this.plan, role),
      // Even an --internal bridge gives the host an address on it, which the agent could
      // reach directly; with no address on the bridge the host is out of its reach.
      ...(isInternal ? { options: { "com.docker.network.bridge.inhibit_ipv4": "true" } } : {}),
    });
  }

  /**
   * The bottle's subnets as the gate needs them: `internal`, where its clients are, and `denied`, which it
   * must never connect to: the bottle's own networks and the engine's default bridge (the host and other
   * containers live there). A user's network is the user's to judge.
   */
  async subnets(): Promise<{ internal: string[]; denied: string[] }> {
    const egress = await this.wayOut();
    const shared = this.plan.networks.ownEgress !== undefined && !this.networks.includes(egress);
    const [internal, ...others] = await Promise.all(
      [this.plan.networks.internal, ...this.networks, ...(shared ? [egress] : [])].map((n) => this.subnetsOf(n)),
    );
    return { internal: internal ?? [], denied: [...new Set(others.flat())] };
  }

  /** A network's subnets, asked of the engine once: they do not change while the bottle runs. */
  private subnetsOf(network: string): Promise<string[]> {
    let subnets = this.knownSubnets.get(network);
    if (!subnets) this.knownSubnets.set(network, (subnets = this.docker.networkSubnets(network)));
    return subnets;
  }

  async createContainer(request: ContainerRequest): Promise<string> {
    this.containers.push(request.name);
    if (request.labels[ROLE_LABEL] === ROLES.gate) this.gates.push(request.name);
    return this.docker.createContainer(request);
  }

  /**
   * Once claude has ended nothing in the bottle needs the gate or a network. Every container is taken
   * off the bottle's own networks and each network removed once it is empty; meanwhile the gate is
   * stopped (it ends the connections still open and logs them, `shutdown`) and removed, and the agent
   * and a supervise sidecar stay (their files are read yet). All of it while the final snapshot reads
   * the agent through the engine. A network not the bottle's own (the default bridge, a user's) is left
   * alone. Never rejects.
   */
  releaseNetworks(): void {
    if (this.release) return;
    // Removed once stopped, or once it would not stop; a gate that would not go is tried again at teardown.
    const gates = this.gates.map((name) =>
      this.docker
        .stopContainer(name, GATE_STOP_GRACE_S)
        .catch(() => {})
        .then(() => this.removeContainer(name))
        .catch(() => {}),
    );
    const each = this.networks.map((name) => {
      const emptied = this.docker.emptyNetwork(name);
      const removed = emptied.then(async () => {
        await this.docker.removeNetwork(name);
        this.releasedNetworks.add(name);
      });
      return { emptied: emptied.catch(() => {}), removed: this.logged("network", name, removed) };
    });
    this.release = {
      emptied: Promise.all(each.map((n) => n.emptied)).then(() => {}),
      removed: Promise.all([...each.map((n) => n.removed), ...gates]).then(() => {}),
    };
  }

  /**
   * Removes the containers, then whatever network is left; a failure is a log line, never an error.
   * The containers this launch made are removed at once, all together, while the list of whatever
   * else carries the bottle's identity is read; what it adds is removed as soon as it answers. When
   * the networks were released, the containers go once they are off them, while the networks go.
   */
  async teardown(): Promise<void> {
    await this.release?.emptied;
    const label = `${IDENTITY_LABEL}=${this.plan.identity}`;
    const { docker } = this;
    const listed = (kind: string, list: Promise<{ name: string }[]>) =>
      list.then(
        (found) => found.map((r) => r.name),
        (error: unknown) => {
          this.log.warn(`listing ${kind}s for teardown failed: ${errorMessage(error)}`);
          return [];
        },
      );
    const containers = listed("container", docker.listContainers([label]));
    const removeContainers = (names: string[]) =>
      this.removeAll("container", names, (name) => this.removeContainer(name));
    const known = [...new Set(this.containers)];
    await Promise.all([
      removeContainers(known),
      containers.then((found) => removeContainers(found.filter((n) => !known.includes(n)))),
      this.release?.removed,
    ]);
    const networks = await listed("network", docker.listNetworks([label]));
    const left = [...new Set([...this.networks, ...networks])].filter((n) => !this.releasedNetworks.has(n));
    await this.removeAll("network", left, (n) => docker.removeNetwork(n));
  }

  /** Removes a container; a removal begun earlier (the gate's, at release) is waited for, and retried if it failed. */
  private async removeContainer(name: string): Promise<void> {
    const went = await this.removals.get(name)?.then(
      () => true,
      () => false,
    );
    if (went) return;
    const removal = this.docker.removeContainer(name);
    this.removals.set(name, removal);
    await removal;
  }

  private async removeAll(kind: string, names: string[], remove: (name: string) => Promise<void>): Promise<void> {
    await Promise.all(names.map((name) => this.logged(kind, name, remove(name))));
  }

  /** `removal`, whose failure is a log line. */
  private async logged(kind: string, name: string, removal: Promise<void>): Promise<void> {
    await removal.catch((error: unknown) => this.log.warn(`removing ${kind} ${name} failed: ${errorMessage(error)}`));
  }
}
