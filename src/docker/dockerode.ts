/**
 * The dockerode implementation of `DockerClient`.
 *
 * Connection settings come from dockerode's defaults (DOCKER_HOST or the local
 * socket). Exec and log streams are demultiplexed with the modem's own demuxer,
 * both sides are awaited to the end, and the raw stream is destroyed in `finally`
 * so a failed exec never leaves a socket open.
 */
import Docker from "dockerode";
import { PassThrough, type Readable } from "node:stream";
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
import { errorMessage } from "../errors.js";
import { lineSplitter } from "../stream/lines.js";
import { isNotFound } from "./client.js";
import { type PullEvent, PullProgress } from "./pull-progress.js";
import { checkEngineHost, engineUnreachable } from "./engine-host.js";

function envList(env: Record<string, string> | undefined): string[] {
  return Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);
}

function labelFilters(labels: string[]): string {
  return JSON.stringify({ label: labels });
}

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
    if (Number.isNaN(time.getTime())) throw new Error(`the engine's info has no readable SystemTime (${JSON.stringify(info.SystemTime)})`);
    return time;
  }

  async runtimes(): Promise<string[]> {
    const info = (await this.docker.info()) as { Runtimes?: Record<string, unknown> };
    return Object.keys(info.Runtimes ?? {});
  }

  async imageExists(ref: string): Promise<boolean> {
    try {
      await this.docker.getImage(ref).inspect();
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async buildImage(request: BuildRequest, onLog: (line: string) => void): Promise<void> {
    const stream = await this.docker.buildImage(request.context, {
      t: request.tag,
      dockerfile: request.dockerfile,
      buildargs: request.buildArgs,
      labels: request.labels,
      rm: true,
      forcerm: true,
      ...(request.networkMode ? { networkmode: request.networkMode } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (error: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
          if (error) return reject(error);
          const failed = output.find((o) => o.error);
          if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error));
          resolve();
        },
        (event: { stream?: string; status?: string }) => {
          const text = event.stream ?? event.status;
          if (text) for (const line of text.split("\n")) if (line.trim()) onLog(line);
        },
      );
    });
  }

  async pullImage(ref: string, onProgress?: (line: string) => void): Promise<void> {
    const stream = await this.docker.pull(ref);
    const progress = onProgress ? new PullProgress(ref, onProgress) : null;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(
        stream,
        (error: Error | null) => (error ? reject(error) : resolve()),
        (event: PullEvent) => progress?.event(event),
      );
    });
    progress?.end();
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.docker.getImage(ref).remove({ force: true });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async exportImage(ref: string): Promise<Readable> {
    return (await this.docker.getImage(ref).get()) as Readable;
  }

  async importImage(tar: Readable): Promise<void> {
    const response = (await this.docker.loadImage(tar, { quiet: true })) as Readable;
    // The engine answers with JSON lines; an error is one of them, not an HTTP status.
    const lines: string[] = [];
    const split = lineSplitter((line) => lines.push(line));
    for await (const chunk of response) split.push(chunk as Buffer);
    split.flush();
    for (const line of lines) {
      const message = (() => {
        try {
          return (JSON.parse(line) as { error?: string }).error;
        } catch {
          return undefined;
        }
      })();
      if (message) throw new Error(`loading the image failed: ${message}`);
    }
  }

  async listImages(labels: string[]): Promise<ResourceSummary[]> {
    const images = await this.docker.listImages({ filters: labelFilters(labels) });
    return images.map((i) => ({ id: i.Id, name: i.RepoTags?.find((t) => t !== "<none>:<none>") ?? i.Id, labels: i.Labels ?? {} }));
  }

  async createNetwork(request: NetworkRequest): Promise<string> {
    const network = await this.docker.createNetwork({
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

  async removeNetwork(nameOrId: string): Promise<void> {
    try {
      await this.docker.getNetwork(nameOrId).remove();
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async listNetworks(labels: string[]): Promise<ResourceSummary[]> {
    const networks = await this.docker.listNetworks({ filters: labelFilters(labels) });
    return networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {}, ...createdAt(n.Created) }));
  }

  async networkSubnets(nameOrId: string): Promise<string[]> {
    return (await this.ipamConfig(nameOrId)).map((c) => c.Subnet).filter((s): s is string => Boolean(s));
  }

  async networkGateways(nameOrId: string): Promise<string[]> {
    return (await this.ipamConfig(nameOrId)).map((c) => c.Gateway).filter((s): s is string => Boolean(s));
  }

  private async ipamConfig(nameOrId: string): Promise<{ Subnet?: string; Gateway?: string }[]> {
    const info = (await this.docker.getNetwork(nameOrId).inspect()) as { IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] } };
    return info.IPAM?.Config ?? [];
  }

  async createContainer(request: ContainerRequest): Promise<string> {
    const container = await this.docker.createContainer({
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
      },
      NetworkingConfig: {
        EndpointsConfig: { [request.network]: { Aliases: request.networkAliases ?? [] } },
      },
    });
    return container.id;
  }

  async connectNetwork(container: string, network: string, aliases: string[]): Promise<void> {
    await this.docker.getNetwork(network).connect({ Container: container, EndpointConfig: { Aliases: aliases } });
  }

  async startContainer(container: string): Promise<void> {
    await this.docker.getContainer(container).start();
  }

  async killContainer(container: string): Promise<void> {
    try {
      await this.docker.getContainer(container).kill({ signal: "SIGKILL" });
    } catch (error) {
      // 409: the container is not running, which is what a kill is for.
      const code = (error as { statusCode?: number }).statusCode;
      if (!isNotFound(error) && code !== 409) throw error;
    }
  }

  async removeContainer(container: string): Promise<void> {
    try {
      await this.docker.getContainer(container).remove({ force: true, v: true });
    } catch (error) {
      // 409: removal already in progress — the container is going away either way.
      const code = (error as { statusCode?: number }).statusCode;
      if (!isNotFound(error) && code !== 409) throw error;
    }
  }

  async listContainers(labels: string[]): Promise<ResourceSummary[]> {
    const containers = await this.docker.listContainers({ all: true, filters: labelFilters(labels) });
    return containers.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
      labels: c.Labels ?? {},
      running: c.State === "running",
      ...createdAt(c.Created),
    }));
  }

  async isRunning(container: string): Promise<boolean> {
    try {
      const info = await this.docker.getContainer(container).inspect();
      return info.State.Running;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async waitForLogLine(
    container: string,
    onLine: (line: string) => boolean,
    timeoutMs: number,
  ): Promise<"matched" | "exited" | "timeout"> {
    const raw = (await this.docker
      .getContainer(container)
      .logs({ follow: true, stdout: true, stderr: false })) as unknown as Readable;
    const stdout = new PassThrough();
    try {
      return await new Promise((resolve) => {
        const timer = setTimeout(() => resolve("timeout"), timeoutMs);
        const done = (how: "matched" | "exited") => {
          clearTimeout(timer);
          resolve(how);
        };
        const lines = lineSplitter((line) => {
          if (onLine(line)) done("matched");
        });
        stdout.on("data", (chunk: Buffer) => lines.push(chunk));
        raw.on("end", () => {
          lines.flush();
          done("exited");
        });
        raw.on("error", () => done("exited"));
        this.docker.modem.demuxStream(raw, stdout, new PassThrough());
      });
    } finally {
      raw.destroy();
    }
  }

  async followLogs(container: string, onLine: (line: string) => void): Promise<{ stop(): Promise<void> }> {
    const raw = (await this.docker
      .getContainer(container)
      .logs({ follow: true, stdout: true, stderr: false })) as unknown as Readable;
    const stdout = new PassThrough();
    const lines = lineSplitter(onLine);
    stdout.on("data", (chunk: Buffer) => lines.push(chunk));
    const ended = new Promise<void>((resolve) => {
      raw.on("end", resolve);
      raw.on("close", resolve);
      raw.on("error", () => resolve());
    });
    this.docker.modem.demuxStream(raw, stdout, new PassThrough());
    return {
      async stop() {
        // Give lines already on their way a moment to arrive before the stream is cut.
        await Promise.race([ended, new Promise((r) => setTimeout(r, 200))]);
        raw.destroy();
        lines.flush();
      },
    };
  }

  async logsTail(container: string, lines: number): Promise<string> {
    try {
      const buffer = (await this.docker
        .getContainer(container)
        .logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demuxBuffer(buffer);
    } catch (error) {
      if (isNotFound(error)) return "";
      throw error;
    }
  }

  async putArchive(container: string, path: string, tar: Readable | Buffer): Promise<void> {
    await this.docker.getContainer(container).putArchive(tar as unknown as string, { path });
  }

  async getArchive(container: string, path: string): Promise<Readable | null> {
    try {
      return (await this.docker.getContainer(container).getArchive({ path })) as unknown as Readable;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async exec(container: string, request: ExecRequest, handlers: ExecHandlers = {}): Promise<number> {
    const exec = await this.docker.getContainer(container).exec({
      Cmd: request.cmd,
      User: request.user,
      ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
      Env: envList(request.env),
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: false,
      Tty: false,
    });
    const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
    try {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      stdout.on("data", (c: Buffer) => handlers.stdout?.(c));
      stderr.on("data", (c: Buffer) => handlers.stderr?.(c));
      this.docker.modem.demuxStream(stream, stdout, stderr);
      await new Promise<void>((resolve) => {
        stream.on("end", resolve);
        stream.on("close", resolve);
        stream.on("error", () => resolve());
        if (handlers.signal?.aborted) resolve();
        handlers.signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    } finally {
      stream.destroy();
    }
    if (handlers.signal?.aborted) {
      const info = await exec.inspect().catch(() => null);
      return info && !info.Running ? (info.ExitCode ?? -1) : -1;
    }
    // The output stream can close a moment before the engine records the exit code.
    for (let i = 0; i < 100; i++) {
      const info = await exec.inspect();
      if (!info.Running) return info.ExitCode ?? -1;
      await new Promise((r) => setTimeout(r, 50));
    }
    return -1;
  }

  async waitStopped(container: string, signal: AbortSignal): Promise<number | null> {
    try {
      const result = (await this.docker.getContainer(container).wait({ abortSignal: signal })) as { StatusCode?: number };
      return result.StatusCode ?? -1;
    } catch (error) {
      if (signal.aborted) return null;
      if (isNotFound(error)) return -1;
      throw error;
    }
  }

  async runningExecs(container: string): Promise<RunningExec[]> {
    let ids: string[];
    try {
      ids = (await this.docker.getContainer(container).inspect()).ExecIDs ?? [];
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    const execs = await Promise.all(
      ids.map((id) =>
        this.docker
          .getExec(id)
          .inspect()
          // An exec the engine has already forgotten is not running.
          .catch((error: unknown) => (isNotFound(error) ? null : Promise.reject(error))),
      ),
    );
    const running: RunningExec[] = [];
    for (const e of execs) if (e?.Running) running.push({ id: e.ID, command: [e.ProcessConfig.entrypoint, ...e.ProcessConfig.arguments] });
    return running;
  }
}

/** `created` from the engine's timestamp (seconds for containers, RFC 3339 for networks), when it is readable. */
function createdAt(value: number | string | undefined): { created?: Date } {
  if (value === undefined) return {};
  const time = new Date(typeof value === "number" ? value * 1000 : value);
  return Number.isNaN(time.getTime()) ? {} : { created: time };
}

/** Decodes Docker's multiplexed log framing (8-byte headers) from a whole buffer. */
function demuxBuffer(buffer: Buffer): string {
  if (!Buffer.isBuffer(buffer)) return String(buffer);
  const parts: string[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
    offset += 8 + size;
  }
  return parts.join("");
}
