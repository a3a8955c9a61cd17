/**
 * The dockerode implementation of `DockerClient`: each method hands the one
 * dockerode instance to the function that does the work, by what it works on
 * (`dockerode-images.ts`, `-networks.ts`, `-containers.ts`, `-logs.ts`,
 * `-exec.ts`).
 *
 * Connection settings come from dockerode's defaults (DOCKER_HOST or the local
 * socket).
 */
import Docker from "dockerode";
import type { Readable } from "node:stream";
import { errorMessage } from "../errors.js";
import type {
  BuildRequest,
  ContainerRequest,
  DockerClient,
  ExecHandlers,
  ExecRequest,
  NetworkRequest,
  ResourceSummary,
  RunningExec,
} from "./client.js";
import * as containers from "./dockerode-containers.js";
import * as execs from "./dockerode-exec.js";
import * as images from "./dockerode-images.js";
import * as logs from "./dockerode-logs.js";
import * as networks from "./dockerode-networks.js";
import { checkEngineHost, engineUnreachable } from "./engine-host.js";

/**
 * A client for the engine DOCKER_HOST (or the local socket) names, checked to answer:
 * the CLI and the action say the same thing when there is none.
 */
export async function connectDocker(): Promise<DockerodeClient> {
  const client = new DockerodeClient();
  await client.ping().catch((error: unknown) => {
    throw new Error(engineUnreachable(errorMessage(error), process.env));
  });
  return client;
}

export class DockerodeClient implements DockerClient {
  private readonly docker: Docker;

  /** Without `docker`, the engine DOCKER_HOST names (an ssh:// one is refused) or the local socket. */
  constructor(docker?: Docker) {
    if (!docker) checkEngineHost(process.env);
    this.docker = docker ?? new Docker();
  }

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async engineTime(): Promise<Date> {
    const info = (await this.docker.info()) as { SystemTime?: string };
    const time = new Date(info.SystemTime ?? "");
    if (Number.isNaN(time.getTime())) {
      throw new Error(`the engine's info has no readable SystemTime (${JSON.stringify(info.SystemTime)})`);
    }
    return time;
  }

  async runtimes(): Promise<string[]> {
    const info = (await this.docker.info()) as { Runtimes?: Record<string, unknown> };
    return Object.keys(info.Runtimes ?? {});
  }

  imageExists(ref: string): Promise<boolean> {
    return images.imageExists(this.docker, ref);
  }

  buildImage(request: BuildRequest, onLog: (line: string) => void): Promise<void> {
    return images.buildImage(this.docker, request, onLog);
  }

  pullImage(ref: string, onProgress?: (line: string) => void): Promise<void> {
    return images.pullImage(this.docker, ref, onProgress);
  }

  removeImage(ref: string): Promise<void> {
    return images.removeImage(this.docker, ref);
  }

  exportImage(ref: string): Promise<Readable> {
    return images.exportImage(this.docker, ref);
  }

  importImage(tar: Readable): Promise<void> {
    return images.importImage(this.docker, tar);
  }

  listImages(labels: string[]): Promise<ResourceSummary[]> {
    return images.listImages(this.docker, labels);
  }

  createNetwork(request: NetworkRequest): Promise<string> {
    return networks.createNetwork(this.docker, request);
  }

  removeNetwork(nameOrId: string): Promise<void> {
    return networks.removeNetwork(this.docker, nameOrId);
  }

  listNetworks(labels: string[]): Promise<ResourceSummary[]> {
    return networks.listNetworks(this.docker, labels);
  }

  networkSubnets(nameOrId: string): Promise<string[]> {
    return networks.networkSubnets(this.docker, nameOrId);
  }

  networkGateways(nameOrId: string): Promise<string[]> {
    return networks.networkGateways(this.docker, nameOrId);
  }

  createContainer(request: ContainerRequest): Promise<string> {
    return containers.createContainer(this.docker, request);
  }

  connectNetwork(container: string, network: string, aliases: string[]): Promise<void> {
    return containers.connectNetwork(this.docker, container, network, aliases);
  }

  startContainer(container: string): Promise<void> {
    return containers.startContainer(this.docker, container);
  }

  killContainer(container: string): Promise<void> {
    return containers.killContainer(this.docker, container);
  }

  waitStopped(container: string, signal: AbortSignal): Promise<number | null> {
    return containers.waitStopped(this.docker, container, signal);
  }

  removeContainer(container: string): Promise<void> {
    return containers.removeContainer(this.docker, container);
  }

  listContainers(labels: string[]): Promise<ResourceSummary[]> {
    return containers.listContainers(this.docker, labels);
  }

  putArchive(container: string, path: string, tar: Readable | Buffer): Promise<void> {
    return containers.putArchive(this.docker, container, path, tar);
  }

  getArchive(container: string, path: string): Promise<Readable | null> {
    return containers.getArchive(this.docker, container, path);
  }

  waitForLogLine(
    container: string,
    onLine: (line: string) => boolean,
    timeoutMs: number,
  ): Promise<"matched" | "exited" | "timeout"> {
    return logs.waitForLogLine(this.docker, container, onLine, timeoutMs);
  }

  followLogs(container: string, onLine: (line: string) => void): Promise<{ stop(): Promise<void> }> {
    return logs.followLogs(this.docker, container, onLine);
  }

  logsTail(container: string, lines: number): Promise<string> {
    return logs.logsTail(this.docker, container, lines);
  }

  exec(container: string, request: ExecRequest, handlers: ExecHandlers = {}): Promise<number> {
    return execs.exec(this.docker, container, request, handlers);
  }

  runningExecs(container: string): Promise<RunningExec[]> {
    return execs.runningExecs(this.docker, container);
  }
}
