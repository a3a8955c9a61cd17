/**
 * The dockerode implementation of `DockerClient`: the functions that do the work,
 * by what they work on (`dockerode-images.ts`, `-networks.ts`, `-containers.ts`,
 * `-logs.ts`, `-exec.ts`), bound to the one dockerode instance, and the few
 * questions about the engine as a whole.
 *
 * Connection settings come from dockerode's defaults (DOCKER_HOST or the local
 * socket).
 */
import Docker from "dockerode";
import { errorMessage } from "../errors.js";
import type { DockerClient } from "./client.js";
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

/**
 * The work each `dockerode-*.ts` module does, by what it works on; every function takes the dockerode
 * instance first.
 */
const OPERATIONS = { ...images, ...networks, ...containers, ...logs, ...execs };

type Operation = (docker: Docker, ...args: never[]) => unknown;
/** Operations with the dockerode instance given: `imageExists(docker, ref)` becomes `imageExists(ref)`. */
type Bound<M> = {
  [K in keyof M]: M[K] extends (docker: Docker, ...args: infer A) => infer R ? (...args: A) => R : never;
};

function bind<M extends { [K in keyof M]: Operation }>(docker: Docker, operations: M): Bound<M> {
  return Object.fromEntries(
    Object.entries<Operation>(operations).map(([name, operation]) => [name, operation.bind(null, docker)]),
  ) as Bound<M>;
}

/** The client's methods besides the engine-wide ones in the class: OPERATIONS, which the constructor binds. */
export interface DockerodeClient extends Bound<typeof OPERATIONS> {}

export class DockerodeClient implements DockerClient {
  private readonly docker: Docker;

  /** Without `docker`, the engine DOCKER_HOST names (an ssh:// one is refused) or the local socket. */
  constructor(docker?: Docker) {
    if (!docker) checkEngineHost(process.env);
    this.docker = docker ?? new Docker();
    Object.assign(this, bind(this.docker, OPERATIONS));
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
}
