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

export class BottleResources {
  private readonly containers: string[] = [];
  private readonly networks: string[] = [];
  private released: Promise<void> | null = null;
  private readonly releasedNetworks = new Set<string>();

  constructor(
    private readonly docker: DockerClient,
    private readonly plan: BottlePlan,
    private readonly log: Log,
  ) {}

  /** Creates the bottle's networks at once; `onInternal` hears the internal network's id as soon as it exists. */
  async createNetworks(onInternal: (id: string) => void = () => {}): Promise<void> {
    const { internal, egress, egressExternal } = this.plan.networks;
    const wanted: [Role, string, boolean][] = [[ROLES.internalNetwork, internal, true]];
    if (!egressExternal) wanted.push([ROLES.egressNetwork, egress, false]);
    // Both at once: they do not depend on each other, and each is a round trip to the engine.
    this.networks.push(...wanted.map(([, name]) => name));
    const created = await Promise.allSettled(
      wanted.map(async ([role, name, isInternal]) => {
        const id = await this.docker.createNetwork({
          name,
          internal: isInternal,
          labels: roleLabels(this.plan, role),
          // Even an --internal bridge gives the host an address on it, which the agent could
          // reach directly; with no address on the bridge the host is out of its reach.
          ...(isInternal ? { options: { "com.docker.network.bridge.inhibit_ipv4": "true" } } : {}),
        });
        if (isInternal) onInternal(id);
      }),
    );
    // Both settled before the first failure is thrown, so teardown never races a creation.
    const failed = created.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** The bottle's own subnets, which the gate must never connect to (the host and the gate live there). */
  async ownSubnets(): Promise<string[]> {
    const subnets = await Promise.all(this.networks.map((n) => this.docker.networkSubnets(n)));
    return subnets.flat();
  }

  async createContainer(request: ContainerRequest): Promise<string> {
    this.containers.push(request.name);
    return this.docker.createContainer(request);
  }

  /**
   * Once claude has ended nothing in the bottle needs a network: each of the bottle's own
   * networks is emptied and removed, while the final snapshot reads the agent through the
   * engine, so teardown after it is only the containers. A user's external egress network
   * is left alone (the gate leaves it with the gate). Never rejects; idempotent.
   */
  releaseNetworks(): Promise<void> {
    this.released ??= this.removeAll("network", [...this.networks], async (n) => {
      await this.docker.releaseNetwork(n);
      this.releasedNetworks.add(n);
    });
    return this.released;
  }

  /**
   * Removes the containers, then the networks; a failure is a log line, never an error.
   * The containers this launch made are removed at once, all together, while both lists
   * of whatever else carries the bottle's identity are read; what those add is removed
   * as soon as they answer. The networks go once every container is gone.
   */
  async teardown(): Promise<void> {
    await this.released;
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
    const networks = listed("network", docker.listNetworks([label]));
    const removeContainers = (names: string[]) => this.removeAll("container", names, (n) => docker.removeContainer(n));
    const known = [...new Set(this.containers)];
    await Promise.all([
      removeContainers(known),
      containers.then((found) => removeContainers(found.filter((n) => !known.includes(n)))),
    ]);
    const allNetworks = [...new Set([...this.networks, ...(await networks)])].filter(
      (n) => !this.releasedNetworks.has(n),
    );
    await this.removeAll("network", allNetworks, (n) => docker.removeNetwork(n));
  }

  private async removeAll(kind: string, names: string[], remove: (name: string) => Promise<void>): Promise<void> {
    const warn = (name: string) => (error: unknown) =>
      this.log.warn(`removing ${kind} ${name} failed: ${errorMessage(error)}`);
    await Promise.all(names.map((name) => remove(name).catch(warn(name))));
  }
}
