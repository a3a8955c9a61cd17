/**
 * The one interface the rest of the code uses to talk to a Docker Engine.
 *
 * It is deliberately small: only what a bottle needs (images, networks, containers,
 * the archive API, exec). Files move through the archive API, never bind mounts,
 * because the runner may itself be a container sharing the host's daemon, where a
 * bind-mounted path would silently be empty. The dockerode implementation lives in
 * `dockerode.ts` and the `dockerode-*.ts` files it calls; nothing else imports dockerode.
 */
import type { Readable } from "node:stream";

/** The label every resource carries; list, clean up and detect orphans by it. */
export const IDENTITY_LABEL = "claude-bottle.identity";
/** Who created the resource (`<hostname>/<pid>`), for people and for finding a runner's bottles. */
export const RUNNER_LABEL = "claude-bottle.runner";
/**
 * Where that runner's process lives (`<boot id>/<pid namespace>/<pid>/<start time>`),
 * so `cleanup` can tell a runner that is gone from one it cannot see (src/bottle/runner-process.ts).
 */
export const RUNNER_PROCESS_LABEL = "claude-bottle.runner-process";
/** What the resource is for: one of ROLES. */
export const ROLE_LABEL = "claude-bottle.role";
/** The values of ROLE_LABEL. */
export const ROLES = {
  agent: "agent",
  gate: "gate",
  supervise: "supervise",
  hostProbe: "host-probe",
  internalNetwork: "internal",
  egressNetwork: "egress",
  image: "image",
  bottleImage: "bottle-image",
} as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

/** The network the engine makes for itself, which every container without another joins. */
export const DEFAULT_BRIDGE = "bridge";

export interface BuildRequest {
  /** A tar stream of the build context (the Dockerfile included). */
  context: Readable;
  /** Path of the Dockerfile inside the context. */
  dockerfile: string;
  tag: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** The network the build's RUN steps join (else the engine's default bridge). */
  networkMode?: string;
}

export interface NetworkRequest {
  name: string;
  internal: boolean;
  labels: Record<string, string>;
  /** Driver options, e.g. `com.docker.network.bridge.inhibit_ipv4`. */
  options?: Record<string, string>;
}

export interface ContainerRequest {
  name: string;
  image: string;
  cmd: string[];
  user: string;
  workingDir?: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  /** The first network the container joins (its only one unless `connect` is called). */
  network: string;
  networkAliases?: string[];
  capDrop: string[];
  securityOpt: string[];
  memoryBytes?: number;
  nanoCpus?: number;
  pidsLimit?: number;
  runtime?: string;
  readonlyRootfs?: boolean;
  /** DNS servers for the container (else the engine's default). */
  dns?: string[];
  /** Kernel settings of the container's own namespaces (`--sysctl`), such as `net.ipv4.ip_forward`. */
  sysctls?: Record<string, string>;
}

export interface ExecRequest {
  cmd: string[];
  user: string;
  workingDir?: string;
  env?: Record<string, string>;
}

export interface ExecHandlers {
  stdout?: (chunk: Buffer) => void;
  stderr?: (chunk: Buffer) => void;
  /**
   * Aborting it stops reading the exec's output: `exec` then resolves with the exit
   * code the engine has recorded, or -1. For an exec whose stream never ends, as
   * under gVisor once the sandbox around it is gone.
   */
  signal?: AbortSignal;
}

/** An exec that is still running, as the engine reports it. */
export interface RunningExec {
  id: string;
  command: string[];
}

export interface ResourceSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** Containers only: whether it is running. */
  running?: boolean;
  /** When the engine created it, by the engine's clock. */
  created?: Date;
}

export interface DockerClient {
  ping(): Promise<void>;
  /** The engine's clock: what leases between runners on different hosts are measured by. */
  engineTime(): Promise<Date>;
  /** Names of the OCI runtimes the engine has registered (e.g. `runc`, `runsc`). */
  runtimes(): Promise<string[]>;

  imageExists(ref: string): Promise<boolean>;
  /** Builds an image; build output lines go to `onLog`. Rejects with the build's own error text. */
  buildImage(request: BuildRequest, onLog: (line: string) => void): Promise<void>;
  /** Pulls an image from its registry (the engine's credentials apply); a few progress lines go to `onProgress`. */
  pullImage(ref: string, onProgress?: (line: string) => void): Promise<void>;
  /** Force-removes an image (an untag when it has other tags); one that is already gone is not an error. */
  removeImage(ref: string): Promise<void>;
  /** Images carrying every label in the filter, untagged ones included. */
  listImages(labelFilter: string[]): Promise<ResourceSummary[]>;
  /** The image as the engine's export (`docker save`): a tar stream. */
  exportImage(ref: string): Promise<Readable>;
  /** Loads an engine export (`docker load`); the caller checks what the tar names first. */
  importImage(tar: Readable): Promise<void>;

  createNetwork(request: NetworkRequest): Promise<string>;
  removeNetwork(nameOrId: string): Promise<void>;
  /** Disconnects every container from the network, running ones too; a network or container gone is no error. */
  emptyNetwork(nameOrId: string): Promise<void>;
  listNetworks(labelFilter: string[]): Promise<ResourceSummary[]>;
  /** The subnets (CIDR) of a network. */
  networkSubnets(nameOrId: string): Promise<string[]>;
  /** The gateway addresses of a network: the Docker host's own addresses on it. */
  networkGateways(nameOrId: string): Promise<string[]>;

  createContainer(request: ContainerRequest): Promise<string>;
  connectNetwork(container: string, network: string, aliases: string[]): Promise<void>;
  startContainer(container: string): Promise<void>;
  /** SIGKILLs a container from outside (every process in it dies); one not running or gone is not an error. */
  killContainer(container: string): Promise<void>;
  /**
   * Stops a container: SIGTERM, and SIGKILL after `graceSeconds`; resolves once it has stopped. One not
   * running or gone is not an error.
   */
  stopContainer(container: string, graceSeconds: number): Promise<void>;
  /**
   * Resolves with the container's exit code once it is not running (at once when it
   * already is not, -1 when it is gone), or with null when `signal` gives up the wait.
   */
  waitStopped(container: string, signal: AbortSignal): Promise<number | null>;
  /** Force-removes a container; a container that is already gone is not an error. */
  removeContainer(container: string): Promise<void>;
  listContainers(labelFilter: string[]): Promise<ResourceSummary[]>;
  /** Follows the container's stdout line by line until `onLine` returns true or the container exits. */
  waitForLogLine(
    container: string,
    onLine: (line: string) => boolean,
    timeoutMs: number,
  ): Promise<"matched" | "exited" | "timeout">;
  /** Follows the container's stdout line by line from its start until `stop` is called or it exits. */
  followLogs(container: string, onLine: (line: string) => void): Promise<{ stop(): Promise<void> }>;
  /** The last lines of a container's combined output, for error messages. */
  logsTail(container: string, lines: number): Promise<string>;

  /** Unpacks a tar stream into `path` inside the container (works before it starts). */
  putArchive(container: string, path: string, tar: Readable | Buffer): Promise<void>;
  /** A tar stream of `path` inside the container, or null when the path does not exist. */
  getArchive(container: string, path: string): Promise<Readable | null>;

  /** Runs a command in a running container, streaming its output; resolves with the exit code. */
  exec(container: string, request: ExecRequest, handlers?: ExecHandlers): Promise<number>;
  /** The execs still running in a container (none when it is stopped or gone). */
  runningExecs(container: string): Promise<RunningExec[]>;
}

/** Docker's own message for a missing object, so callers can treat "already gone" as success. */
export function isNotFound(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { statusCode?: number }).statusCode === 404;
}
