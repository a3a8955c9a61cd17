/**
 * The supervise server through the real MCP client of the official SDK, over
 * streamable HTTP: the tools it lists, what each answers, what each policy does
 * with a proposal, and that its log lines never carry the agent's text.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, test } from "vitest";
import { type CapabilityPolicy, ProposalSchema, type SuperviseConfig, SuperviseConfigSchema } from "../../src/supervise/config.js";
import { type SuperviseServer, startSupervise } from "../../src/supervise/server.js";

const DOCKERFILE = "FROM node:24\nRUN apt-get install -y golang\n";
const REASON = "The task builds a Go CLI and this image has no Go toolchain.";

interface Running {
  server: SuperviseServer;
  client: Client;
  events: Record<string, unknown>[];
  dir: string;
  url: string;
}

const open: Running[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) {
    await r.client.close();
    await r.server.close();
  }
});

function config(policy: CapabilityPolicy, dir: string): SuperviseConfig {
  return SuperviseConfigSchema.parse({
    version: 1,
    listen: { host: "127.0.0.1", port: 0 },
    policy,
    proposalsDir: join(dir, "proposals"),
    currentDockerfile: { source: "manifest", text: "FROM node:24\n" },
    egress: { mode: "enforce", allow: ["registry.npmjs.org:443"], routes: [{ name: "anthropic", upstream: "https://api.anthropic.com" }] },
  });
}

async function start(policy: CapabilityPolicy): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), "supervise-"));
  const events: Record<string, unknown>[] = [];
  const server = await startSupervise(config(policy, dir), (e) => events.push(e as Record<string, unknown>));
  const url = `http://127.0.0.1:${server.port}/mcp`;
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const running = { server, client, events, dir, url };
  open.push(running);
  return running;
}

async function call(r: Running, name: string, args: Record<string, unknown> = {}): Promise<{ text: string; isError: boolean }> {
  const result = (await r.client.callTool({ name, arguments: args })) as { content: { type: string; text: string }[]; isError?: boolean };
  return { text: result.content.map((c) => c.text).join("\n"), isError: result.isError === true };
}

function proposals(r: Running): string[] {
  try {
    return readdirSync(join(r.dir, "proposals"));
  } catch {
    return [];
  }
}

describe("the supervise server's tools", () => {
  test("lists exactly capability-block, current-dockerfile and list-egress", async () => {
    const r = await start("preserve");
    const { tools } = await r.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["capability-block", "current-dockerfile", "list-egress"]);
    const block = tools.find((t) => t.name === "capability-block");
    expect(block?.inputSchema.required).toEqual(["dockerfile", "reason"]);
    expect(block?.description).toMatch(/Dockerfile/);
  });

  test("current-dockerfile says where the Dockerfile comes from, then gives it", async () => {
    const r = await start("preserve");
    expect(await call(r, "current-dockerfile")).toEqual({ text: "# source: manifest\nFROM node:24\n", isError: false });
    expect(r.events).toContainEqual({ event: "tool", name: "current-dockerfile" });
  });

  test("list-egress gives the mode, the allowlist and the routes by name and upstream", async () => {
    const r = await start("preserve");
    const { text } = await call(r, "list-egress");
    expect(JSON.parse(text)).toEqual({ mode: "enforce", allow: ["registry.npmjs.org:443"], routes: [{ name: "anthropic", upstream: "https://api.anthropic.com" }] });
  });
});

describe("a capability-block proposal", () => {
  test("preserve: the proposal is written as a file, announced by digest, and the agent is told the session ends", async () => {
    const r = await start("preserve");
    const answer = await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    expect(answer.isError).toBe(false);
    expect(answer.text).toMatch(/^Your request was recorded/);
    expect(answer.text).toContain("This session will end now");
    expect(proposals(r)).toEqual(["1.json"]);
    const proposal = ProposalSchema.parse(JSON.parse(readFileSync(join(r.dir, "proposals", "1.json"), "utf8")));
    expect(proposal).toMatchObject({ version: 1, id: 1, dockerfile: DOCKERFILE, reason: REASON });
    const announced = r.events.find((e) => e.event === "proposal");
    expect(announced).toEqual({
      event: "proposal",
      id: 1,
      file: join(r.dir, "proposals", "1.json"),
      bytes: Buffer.byteLength(DOCKERFILE),
      sha256: createHash("sha256").update(DOCKERFILE).digest("hex"),
    });
    // Log lines carry neither the Dockerfile nor the reason.
    const lines = JSON.stringify(r.events);
    expect(lines).not.toContain("golang");
    expect(lines).not.toContain("Go toolchain");
  });

  test("only the first proposal is accepted", async () => {
    const r = await start("preserve");
    await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    const again = await call(r, "capability-block", { dockerfile: "FROM debian\n", reason: "another" });
    expect(again).toEqual({ text: "A request is already recorded; this session is ending.", isError: false });
    expect(proposals(r)).toEqual(["1.json"]);
    expect(r.events.filter((e) => e.event === "proposal")).toHaveLength(1);
  });

  test("two proposals at once: one is accepted", async () => {
    const r = await start("preserve");
    const answers = await Promise.all([
      call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON }),
      call(r, "capability-block", { dockerfile: "FROM debian\n", reason: "another" }),
    ]);
    expect(answers.filter((a) => a.text.startsWith("Your request was recorded"))).toHaveLength(1);
    expect(proposals(r)).toEqual(["1.json"]);
  });

  test("rebuild: the agent is told the bottle is rebuilt right away", async () => {
    const r = await start("rebuild");
    const answer = await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    expect(answer.text).toContain("rebuilt from the new Dockerfile right away");
    expect(proposals(r)).toEqual(["1.json"]);
  });

  test("deny: a refusal, nothing written", async () => {
    const r = await start("deny");
    const answer = await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    expect(answer.isError).toBe(true);
    expect(answer.text).toMatch(/^capability-block requests are denied for this bottle by its policy/);
    expect(proposals(r)).toEqual([]);
    expect(r.events).toContainEqual({ event: "capability-block", decision: "denied" });
  });

  test.each([
    ["an empty Dockerfile", "", REASON, "the Dockerfile is empty"],
    ["RUN before FROM", "RUN make\nFROM debian\n", REASON, "line 1: the first instruction is RUN"],
    ["an unknown instruction", "FROM debian\nINSTALL gcc\n", REASON, 'line 2: "INSTALL" is not a Dockerfile instruction'],
    ["an oversize Dockerfile", `FROM debian\n${"#".repeat(70_000)}\n`, REASON, "over the limit of 65536"],
    ["an empty reason", DOCKERFILE, "  ", "the reason is empty"],
  ])("%s is refused with what is wrong, nothing written", async (_name, dockerfile, reason, problem) => {
    const r = await start("preserve");
    const answer = await call(r, "capability-block", { dockerfile, reason });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain(problem);
    expect(answer.text).toContain("Fix it and call capability-block again");
    expect(proposals(r)).toEqual([]);
    // A refused proposal does not use up the one that may be accepted.
    expect((await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON })).text).toMatch(/^Your request was recorded/);
  });
});

describe("the HTTP endpoint", () => {
  test("GET /mcp is 405 (stateless: no stream to open), other paths 404", async () => {
    const r = await start("preserve");
    const get = await fetch(r.url);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await fetch(r.url.replace("/mcp", "/other"), { method: "POST", body: "{}" })).status).toBe(404);
    expect((await fetch(r.url, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" })).status).toBe(400);
  });
});

test("the config is strict: an unknown key or policy is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "supervise-"));
  expect(SuperviseConfigSchema.safeParse({ ...config("preserve", dir), extra: 1 }).success).toBe(false);
  expect(SuperviseConfigSchema.safeParse({ ...config("preserve", dir), policy: "approve" }).success).toBe(false);
});
