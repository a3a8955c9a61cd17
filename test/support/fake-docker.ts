/**
 * An in-memory `DockerClient` for unit tests of the launch sequence. It records
 * every call in order, keeps the images, networks and containers created (with
 * their labels), and lets a test make any call fail or hang. Sidecars print their
 * `ready` line, the host probe its addresses, and claude's exec is the test's
 * `claude` function, which gets the stdout handler and a promise that settles when
 * the runner asks claude to stop (SIGTERM through exec) or kills the container.
 */
import type { Readable } from "node:stream";
import type {
  BuildRequest,
  ContainerRequest,
  DockerClient,
  ExecHandlers,
  ExecRequest,
  NetworkRequest,
  ResourceSummary,
  RunningExec,
} from "../../src/docker/client.js";
import { ROLE_LABEL, ROLES } from "../../src/docker/client.js";
import { TERM_EXECS_SCRIPT } from "../../src/bottle/launch/stop.js";

export type Method = keyof DockerClient;

export interface Call {
  method: Method;
  args: unknown[];
}

export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  request: ContainerRequest;
  networks: string[];
  started: boolean;
  running: boolean;
  /** Every tar put into it, in order, with the path it went to. */
  archives: { path: string; tar: Readable | Buffer }[];
}

export interface FakeNetwork {
  name: string;
  labels: Record<string, string>;
  internal: boolean;
}

/** What claude's exec sees: write to stdout, and a promise that settles when it is asked to stop. */
export interface ClaudeRun {
  container: FakeContainer;
  request: ExecRequest;
  stdout(line: string): void;
  stopped: Promise<"term" | "kill">;
}

interface Fault {
  method: Method;
  when: (args: unknown[]) => boolean;
  effect: "fail" | "hang";
  error: Error;
  once: boolean;
}

export class FakeDocker implements DockerClient {
  readonly calls: Call[] = [];
  readonly images = new Map<string, Record<string, string>>();
  readonly networks = new Map<string, FakeNetwork>();
  /** The networks the engine has of its own (its default bridge); delete it for an engine without one. */
  readonly engineNetworks = new Set(["bridge"]);
  readonly containers = new Map<string, FakeContainer>();
  /** stdout lines a container prints when it starts, by container name; sidecars default to `ready`. */
  readonly lines = new Map<string, string[]>();
  /** What `getArchive(container, path)` returns, by path (null: the path does not exist). */
  readonly archiveOf = new Map<string, (container: FakeContainer) => Readable | null>();
  /** claude's exec; by default it prints a successful result and exits 0. */
  claude: (run: ClaudeRun) => Promise<number> = async (run) => {
    run.stdout(JSON.stringify({ type: "system", subtype: "init", session_id: SESSION_ID }));
    run.stdout(
      JSON.stringify({ type: "result", subtype: "success", is_error: false, session_id: SESSION_ID, num_turns: 1 }),
    );
    return 0;
  };
  private readonly faults: Fault[] = [];
  private readonly stopRequests = new Map<string, (how: "term" | "kill") => void>();
  private readonly stopWaiters = new Map<string, Array<(code: number) => void>>();
  private nextId = 1;

  /** Makes `method` reject (with `error`) whenever `when` matches its arguments. */
  fail(
    method: Method,
    when: (args: unknown[]) => boolean = () => true,
    error = new Error(`${method} failed (injected)`),
    once = false,
  ): this {
    this.faults.push({ method, when, effect: "fail", error, once });
    return this;
  }

  /** Makes `method` never settle whenever `when` matches its arguments. */
  hang(method: Method, when: (args: unknown[]) => boolean = () => true): this {
    this.faults.push({ method, when, effect: "hang", error: new Error("hang"), once: false });
    return this;
  }

  /** The calls of `method`, in order. */
  callsOf(method: Method): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  /** Containers and networks carrying `label=value`. */
  withLabel(label: string, value: string): { containers: FakeContainer[]; networks: FakeNetwork[] } {
    return {
      containers: [...this.containers.values()].filter((c) => c.labels[label] === value),
      networks: [...this.networks.values()].filter((n) => n.labels[label] === value),
    };
  }

  container(nameOrId: string): FakeContainer | undefined {
    return this.containers.get(nameOrId) ?? [...this.containers.values()].find((c) => c.name === nameOrId);
  }

  private async enter(method: Method, args: unknown[]): Promise<void> {
    this.calls.push({ method, args });
    // A turn of the event loop, as a real round trip would take.
    await Promise.resolve();
    const fault = this.faults.find((f) => f.method === method && f.when(args));
    if (!fault) return;
    if (fault.once) this.faults.splice(this.faults.indexOf(fault), 1);
    if (fault.effect === "hang") await new Promise<never>(() => {});
    throw fault.error;
  }

  /** The first three octets of a network's subnet; as the engine, a network that does not exist is a 404. */
  private networkPrefix(name: string): string {
    if (this.engineNetworks.has(name)) return "172.17.0";
    if (!this.networks.has(name)) throw Object.assign(new Error(`network ${name} not found`), { statusCode: 404 });
    return `10.${[...this.networks.keys()].indexOf(name) + 200}.0`;
  }

  private mustContainer(nameOrId: string): FakeContainer {
    const found = this.container(nameOrId);
    if (!found) throw Object.assign(new Error(`no such container: ${nameOrId}`), { statusCode: 404 });
    return found;
  }

  async ping(): Promise<void> {
    await this.enter("ping", []);
  }
  async engineTime(): Promise<Date> {
    await this.enter("engineTime", []);
    return new Date();
  }
  async runtimes(): Promise<string[]> {
    await this.enter("runtimes", []);
    return ["runc"];
  }

  async imageExists(ref: string): Promise<boolean> {
    await this.enter("imageExists", [ref]);
    return this.images.has(ref);
  }
  async buildImage(request: BuildRequest, onLog: (line: string) => void): Promise<void> {
    await this.enter("buildImage", [request]);
    onLog("Step 1/1 : FROM scratch");
    this.images.set(request.tag, request.labels);
  }
  async pullImage(ref: string): Promise<void> {
    await this.enter("pullImage", [ref]);
    this.images.set(ref, {});
  }
  async removeImage(ref: string): Promise<void> {
    await this.enter("removeImage", [ref]);
    this.images.delete(ref);
  }
  async listImages(labelFilter: string[]): Promise<ResourceSummary[]> {
    await this.enter("listImages", [labelFilter]);
    return [...this.images]
      .filter(([, labels]) => matches(labels, labelFilter))
      .map(([ref, labels]) => ({ id: ref, name: ref, labels }));
  }
  async exportImage(ref: string): Promise<Readable> {
    await this.enter("exportImage", [ref]);
    throw new Error("exportImage is not faked");
  }
  async importImage(): Promise<void> {
    await this.enter("importImage", []);
    throw new Error("importImage is not faked");
  }

  async createNetwork(request: NetworkRequest): Promise<string> {
    await this.enter("createNetwork", [request]);
    if (this.networks.has(request.name)) throw new Error(`network ${request.name} already exists`);
    this.networks.set(request.name, { name: request.name, labels: request.labels, internal: request.internal });
    return request.name;
  }
  async removeNetwork(name: string): Promise<void> {
    await this.enter("removeNetwork", [name]);
    // As the engine: a network with a running container on it cannot go.
    const attached = [...this.containers.values()].filter((c) => c.running && c.networks.includes(name));
    if (attached.length) throw new Error(`network ${name} has active endpoints (${attached.map((c) => c.name)})`);
    this.networks.delete(name);
  }
  async emptyNetwork(name: string): Promise<void> {
    await this.enter("emptyNetwork", [name]);
    for (const c of this.containers.values()) c.networks = c.networks.filter((n) => n !== name);
  }
  async listNetworks(labelFilter: string[]): Promise<ResourceSummary[]> {
    await this.enter("listNetworks", [labelFilter]);
    return [...this.networks.values()]
      .filter((n) => matches(n.labels, labelFilter))
      .map((n) => ({ id: n.name, name: n.name, labels: n.labels }));
  }
  async networkSubnets(name: string): Promise<string[]> {
    await this.enter("networkSubnets", [name]);
    return [`${this.networkPrefix(name)}.0/24`];
  }
  async networkGateways(name: string): Promise<string[]> {
    await this.enter("networkGateways", [name]);
    return [`${this.networkPrefix(name)}.1`];
  }

  async createContainer(request: ContainerRequest): Promise<string> {
    await this.enter("createContainer", [request]);
    if (this.container(request.name)) throw new Error(`container ${request.name} already exists`);
    if (!this.images.has(request.image))
      throw Object.assign(new Error(`no such image: ${request.image}`), { statusCode: 404 });
    const id = `id${this.nextId++}`;
    this.containers.set(id, {
      id,
      name: request.name,
      image: request.image,
      labels: request.labels,
      request,
      networks: [request.network],
      started: false,
      running: false,
      archives: [],
    });
    return id;
  }
  async connectNetwork(container: string, network: string, aliases: string[]): Promise<void> {
    await this.enter("connectNetwork", [container, network, aliases]);
    this.mustContainer(container).networks.push(network);
  }
  async startContainer(container: string): Promise<void> {
    await this.enter("startContainer", [container]);
    const c = this.mustContainer(container);
    c.started = true;
    c.running = true;
  }
  async killContainer(container: string): Promise<void> {
    await this.enter("killContainer", [container]);
    const c = this.container(container);
    this.stopRequests.get(c?.id ?? container)?.("kill");
    if (c) this.die(c.id, 137);
  }
  async stopContainer(container: string, graceSeconds: number): Promise<void> {
    await this.enter("stopContainer", [container, graceSeconds]);
    const c = this.container(container);
    if (c?.running) this.die(c.id, 0);
  }
  /** The container stops on its own with `code`, as a gVisor sandbox that ends; its exec is not told. */
  die(container: string, code: number): void {
    const c = this.mustContainer(container);
    c.running = false;
    for (const wake of this.stopWaiters.get(c.id) ?? []) wake(code);
    this.stopWaiters.delete(c.id);
  }
  async waitStopped(container: string, signal: AbortSignal): Promise<number | null> {
    await this.enter("waitStopped", [container]);
    const c = this.container(container);
    if (!c) return -1;
    if (c.started && !c.running) return 0;
    return new Promise<number | null>((resolve) => {
      this.stopWaiters.set(c.id, [...(this.stopWaiters.get(c.id) ?? []), resolve]);
      signal.addEventListener("abort", () => resolve(null), { once: true });
    });
  }
  async removeContainer(container: string): Promise<void> {
    await this.enter("removeContainer", [container]);
    const c = this.container(container);
    if (c) this.containers.delete(c.id);
  }
  async listContainers(labelFilter: string[]): Promise<ResourceSummary[]> {
    await this.enter("listContainers", [labelFilter]);
    return [...this.containers.values()]
      .filter((c) => matches(c.labels, labelFilter))
      .map((c) => ({ id: c.id, name: c.name, labels: c.labels, running: c.running }));
  }
  async waitForLogLine(
    container: string,
    onLine: (line: string) => boolean,
    timeoutMs: number,
  ): Promise<"matched" | "exited" | "timeout"> {
    await this.enter("waitForLogLine", [container, timeoutMs]);
    for (const line of this.linesOf(this.mustContainer(container))) if (onLine(line)) return "matched";
    return "exited";
  }
  async followLogs(container: string, onLine: (line: string) => void): Promise<{ stop(): Promise<void> }> {
    await this.enter("followLogs", [container]);
    for (const line of this.linesOf(this.mustContainer(container))) onLine(line);
    return { stop: async () => {} };
  }
  async logsTail(container: string, lines: number): Promise<string> {
    await this.enter("logsTail", [container, lines]);
    return this.linesOf(this.mustContainer(container)).slice(-lines).join("\n");
  }

  async putArchive(container: string, path: string, tar: Readable | Buffer): Promise<void> {
    await this.enter("putArchive", [container, path]);
    this.mustContainer(container).archives.push({ path, tar });
  }
  async getArchive(container: string, path: string): Promise<Readable | null> {
    await this.enter("getArchive", [container, path]);
    return this.archiveOf.get(path)?.(this.mustContainer(container)) ?? null;
  }

  async exec(container: string, request: ExecRequest, handlers?: ExecHandlers): Promise<number> {
    await this.enter("exec", [container, request]);
    const c = this.mustContainer(container);
    if (!c.running) throw new Error(`container ${c.name} is not running`);
    if (request.cmd.join(" ") === `sh -c ${TERM_EXECS_SCRIPT}`) {
      this.stopRequests.get(c.id)?.("term");
      return 0;
    }
    let stop: (how: "term" | "kill") => void = () => {};
    const stopped = new Promise<"term" | "kill">((resolve) => (stop = resolve));
    this.stopRequests.set(c.id, stop);
    const abandoned = new Promise<number>((resolve) => {
      if (handlers?.signal?.aborted) resolve(-1);
      handlers?.signal?.addEventListener("abort", () => resolve(-1), { once: true });
    });
    try {
      const run = this.claude({
        container: c,
        request,
        stdout: (line) => handlers?.stdout?.(Buffer.from(`${line}\n`)),
        stopped,
      });
      return await Promise.race([run, abandoned]);
    } finally {
      this.stopRequests.delete(c.id);
    }
  }
  async runningExecs(container: string): Promise<RunningExec[]> {
    await this.enter("runningExecs", [container]);
    return this.stopRequests.has(this.container(container)?.id ?? "") ? [{ id: "exec1", command: ["claude"] }] : [];
  }

  private linesOf(c: FakeContainer): string[] {
    const set = this.lines.get(c.name);
    if (set) return set;
    const role = c.labels[ROLE_LABEL];
    if (role === ROLES.hostProbe) return [JSON.stringify({ event: "host-addresses", addresses: ["192.0.2.1"] })];
    if (role === ROLES.gate || role === ROLES.supervise) return [JSON.stringify({ event: "ready" })];
    return [];
  }
}

export const SESSION_ID = "11111111-2222-3333-4444-555555555555";

function matches(labels: Record<string, string>, filter: string[]): boolean {
  return filter.every((f) => {
    const [key, value] = f.split("=", 2) as [string, string | undefined];
    return value === undefined ? key in labels : labels[key] === value;
  });
}
