/**
 * Containers through dockerode: created from a `ContainerRequest` (limits,
 * capabilities and the first network with its aliases), joined to more networks,
 * started, killed, removed, listed, and files moved in and out through the
 * archive API. Killing or removing one that is already gone is not an error.
 */
import type Docker from "dockerode";
import type { Readable } from "node:stream";
import { type ContainerRequest, isNotFound, type ResourceSummary } from "./client.js";
import { createdAt, envList, labelFilters, statusOf } from "./dockerode-fields.js";

export async function createContainer(docker: Docker, request: ContainerRequest): Promise<string> {
  const container = await docker.createContainer({
    name: request.name,
    Image: request.image,
    Cmd: request.cmd,
    User: request.user,
    ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
    Env: envList(request.env),
    Labels: request.labels,
    HostConfig: {
      NetworkMode: request.network,
      CapDrop: request.capDrop,
      SecurityOpt: request.securityOpt,
      ...(request.memoryBytes ? { Memory: request.memoryBytes, MemorySwap: request.memoryBytes } : {}),
      ...(request.nanoCpus ? { NanoCpus: request.nanoCpus } : {}),
      ...(request.pidsLimit ? { PidsLimit: request.pidsLimit } : {}),
      ...(request.runtime ? { Runtime: request.runtime } : {}),
      ...(request.readonlyRootfs ? { ReadonlyRootfs: true } : {}),
      ...(request.dns?.length ? { Dns: request.dns } : {}),
      ...(request.sysctls ? { Sysctls: request.sysctls } : {}),
    },
    NetworkingConfig: {
      EndpointsConfig: { [request.network]: { Aliases: request.networkAliases ?? [] } },
    },
  });
  return container.id;
}

export async function connectNetwork(
  docker: Docker,
  container: string,
  network: string,
  aliases: string[],
): Promise<void> {
  await docker.getNetwork(network).connect({ Container: container, EndpointConfig: { Aliases: aliases } });
}

export async function startContainer(docker: Docker, container: string): Promise<void> {
  await docker.getContainer(container).start();
}

export async function killContainer(docker: Docker, container: string): Promise<void> {
  try {
    await docker.getContainer(container).kill({ signal: "SIGKILL" });
  } catch (error) {
    // 409: the container is not running, which is what a kill is for.
    if (!isNotFound(error) && statusOf(error) !== 409) throw error;
  }
}

export async function stopContainer(docker: Docker, container: string, graceSeconds: number): Promise<void> {
  try {
    await docker.getContainer(container).stop({ t: graceSeconds });
  } catch (error) {
    // 304: it was not running.
    if (!isNotFound(error) && statusOf(error) !== 304) throw error;
  }
}

export async function waitStopped(docker: Docker, container: string, signal: AbortSignal): Promise<number | null> {
  try {
    const result = (await docker.getContainer(container).wait({ abortSignal: signal })) as { StatusCode?: number };
    return result.StatusCode ?? -1;
  } catch (error) {
    if (signal.aborted) return null;
    if (isNotFound(error)) return -1;
    throw error;
  }
}

export async function removeContainer(docker: Docker, container: string): Promise<void> {
  try {
    await docker.getContainer(container).remove({ force: true, v: true });
  } catch (error) {
    // 409: removal already in progress — the container is going away either way.
    if (!isNotFound(error) && statusOf(error) !== 409) throw error;
  }
}

export async function listContainers(docker: Docker, labels: string[]): Promise<ResourceSummary[]> {
  const containers = await docker.listContainers({ all: true, filters: labelFilters(labels) });
  return containers.map((c) => ({
    id: c.Id,
    name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
    labels: c.Labels ?? {},
    running: c.State === "running",
    ...createdAt(c.Created),
  }));
}

export async function putArchive(
  docker: Docker,
  container: string,
  path: string,
  tar: Readable | Buffer,
): Promise<void> {
  await docker.getContainer(container).putArchive(tar as unknown as string, { path });
}

export async function getArchive(docker: Docker, container: string, path: string): Promise<Readable | null> {
  try {
    return (await docker.getContainer(container).getArchive({ path })) as unknown as Readable;
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}
