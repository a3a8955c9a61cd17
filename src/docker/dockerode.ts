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
} from "./client.js";
import { isNotFound } from "./client.js";
import { checkEngineHost } from "./engine-host.js";

function envList(env: Record<string, string> | undefined): string[] {
  return Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);
}

function labelFilters(labels: string[]): string {
  return JSON.stringify({ label: labels });
}

/** Splits a byte stream into lines, handing each complete line to `onLine`. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer): void; flush(): void } {
  let pending = "";
  return {
    push(chunk) {
      pending += chunk.toString("utf8");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, nl).replace(/\r$/, ""));
        pending = pending.slice(nl + 1);
      }
    },
    flush() {
      if (pending.length > 0) onLine(pending);
      pending = "";
    },
  };
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

  async pullImage(ref: string): Promise<void> {
    const stream = await this.docker.pull(ref);
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (error: Error | null) => (error ? reject(error) : resolve()));
    });
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.docker.getImage(ref).remove({ force: true });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
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
    return networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
  }

  async networkSubnets(nameOrId: string): Promise<string[]> {
    const info = (await this.docker.getNetwork(nameOrId).inspect()) as { IPAM?: { Config?: { Subnet?: string }[] } };
    return (info.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => Boolean(s));
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
        ...(request.tmpfs ? { Tmpfs: request.tmpfs } : {}),
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
      });
    } finally {
      stream.destroy();
    }
    // The output stream can close a moment before the engine records the exit code.
    for (let i = 0; i < 100; i++) {
      const info = await exec.inspect();
      if (!info.Running) return info.ExitCode ?? -1;
      await new Promise((r) => setTimeout(r, 50));
    }
    return -1;
  }
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
