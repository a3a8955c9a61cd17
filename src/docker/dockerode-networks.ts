/**
 * Networks through dockerode: bridge networks without IPv6, created with the
 * caller's labels, the subnets and gateways the engine gave them, emptying
 * them of containers, and their removal.
 */
import type Docker from "dockerode";
import { isNotFound, type NetworkRequest, type ResourceSummary } from "./client.js";
import { createdAt, labelFilters } from "./dockerode-fields.js";

export async function createNetwork(docker: Docker, request: NetworkRequest): Promise<string> {
  const network = await docker.createNetwork({
    Name: request.name,
    Internal: request.internal,
    Labels: request.labels,
    CheckDuplicate: true,
    EnableIPv6: false,
    Driver: "bridge",
    ...(request.options ? { Options: request.options } : {}),
  });
  return network.id;
}

export async function removeNetwork(docker: Docker, nameOrId: string): Promise<void> {
  try {
    await docker.getNetwork(nameOrId).remove();
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function emptyNetwork(docker: Docker, nameOrId: string): Promise<void> {
  const network = docker.getNetwork(nameOrId);
  let attached: string[];
  try {
    const info = (await network.inspect()) as { Containers?: Record<string, unknown> };
    attached = Object.keys(info.Containers ?? {});
  } catch (error) {
    if (isNotFound(error)) return;
    throw error;
  }
  await Promise.all(
    attached.map((container) =>
      network.disconnect({ Container: container, Force: true }).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      }),
    ),
  );
}

export async function listNetworks(docker: Docker, labels: string[]): Promise<ResourceSummary[]> {
  const networks = await docker.listNetworks({ filters: labelFilters(labels) });
  return networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {}, ...createdAt(n.Created) }));
}

type IpamConfig = { Subnet?: string; Gateway?: string };

async function ipamConfig(docker: Docker, nameOrId: string): Promise<IpamConfig[]> {
  const info = (await docker.getNetwork(nameOrId).inspect()) as { IPAM?: { Config?: IpamConfig[] } };
  return info.IPAM?.Config ?? [];
}

export async function networkSubnets(docker: Docker, nameOrId: string): Promise<string[]> {
  return (await ipamConfig(docker, nameOrId)).map((c) => c.Subnet).filter((s): s is string => Boolean(s));
}

export async function networkGateways(docker: Docker, nameOrId: string): Promise<string[]> {
  return (await ipamConfig(docker, nameOrId)).map((c) => c.Gateway).filter((s): s is string => Boolean(s));
}
