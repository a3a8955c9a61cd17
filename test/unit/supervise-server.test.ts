/**
 * The supervise server through the real MCP client of the official SDK, over
 * streamable HTTP: the tools it lists, what each answers, what each policy does
 * with a proposal, the order and shape of its event lines (which never carry the
 * agent's text), the proposal file on disk, and the endpoint's other methods and
 * paths. supervise-dockerfile.test.ts covers the Dockerfile rules themselves.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, test } from "vitest";
import {
  type CapabilityPolicy,
  MAX_DOCKERFILE_BYTES,
  PROPOSALS_DIR,
  ProposalSchema,
  SuperviseConfigSchema,
  proposalFileName,
} from "../../src/supervise/config.js";
import { type SuperviseServer, startSupervise } from "../../src/supervise/server.js";

const DOCKERFILE = "FROM node:24\nRUN apt-get install -y golang\n";
const REASON = "The task builds a Go CLI and this image has no Go toolchain.";

interface Running {
  server: SuperviseServer;
  client: Client;
  events: Record<string, unknown>[];
  proposalsDir: string;
  url: string;
}

const open: Running[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) {
    await r.client.close();
    await r.server.close();
  }
});

function rawConfig(policy: CapabilityPolicy, proposalsDir: string): Record<string, unknown> {
  return {
    version: 1,
    listen: { host: "127.0.0.1", port: 0 },
    policy,
    proposalsDir,
    currentDockerfile: { source: "manifest", text: "FROM node:24\n" },
    egress: {
      mode: "enforce",
      allow: ["registry.npmjs.org:443"],
      routes: [{ name: "anthropic", upstream: "https://api.anthropic.com" }],
    },
  };
}

async function start(policy: CapabilityPolicy, overrides: Record<string, unknown> = {}): Promise<Running> {
  const proposalsDir = join(mkdtempSync(join(tmpdir(), "supervise-")), "proposals");
  const events: Record<string, unknown>[] = [];
  const config = SuperviseConfigSchema.parse({ ...rawConfig(policy, proposalsDir), ...overrides });
  const server = await startSupervise(config, (e) => events.push(e as Record<string, unknown>));
  const url = `http://127.0.0.1:${server.port}/mcp`;
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const running = { server, client, events, proposalsDir: config.proposalsDir, url };
  open.push(running);
  return running;
}

/** The answer, and how many events had been emitted when the client had it in hand. */
async function call(
  r: Running,
  name: string,
  args: Record<string, unknown> = {},
): Promise<{ text: string; isError: boolean; eventsSoFar: number }> {
  const result = (await r.client.callTool({ name, arguments: args })) as {
    content: { type: string; text: string }[];
    isError?: boolean;
  };
  return {
    text: result.content.map((c) => c.text).join("\n"),
    isError: result.isError === true,
    eventsSoFar: r.events.length,
  };
}

function proposals(r: Running): string[] {
  try {
    return readdirSync(r.proposalsDir).sort();
  } catch {
    return [];
  }
}

describe("the supervise server's tools", () => {
  test("lists exactly capability-block (two required strings), current-dockerfile and list-egress (nothing)", async () => {
    const r = await start("preserve");
    const { tools } = await r.client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(["capability-block", "current-dockerfile", "list-egress"]);
    const block = byName.get("capability-block");
    expect(block?.inputSchema.type).toBe("object");
    expect(Object.keys(block?.inputSchema.properties ?? {}).sort()).toEqual(["dockerfile", "reason"]);
    expect(block?.inputSchema.required).toEqual(["dockerfile", "reason"]);
    expect(block?.description).toMatch(/Dockerfile/);
    for (const name of ["current-dockerfile", "list-egress"]) {
      const schema = byName.get(name)?.inputSchema;
      expect(schema?.type).toBe("object");
      expect(Object.keys(schema?.properties ?? {})).toEqual([]);
    }
    for (const tool of tools) expect(tool.description?.length).toBeGreaterThan(20);
  });

  test("current-dockerfile says where the Dockerfile comes from, then gives it", async () => {
    const r = await start("preserve");
    expect(await call(r, "current-dockerfile")).toMatchObject({
      text: "# source: manifest\nFROM node:24\n",
      isError: false,
    });
    expect(r.events).toContainEqual({ event: "tool", name: "current-dockerfile" });
  });

  test("current-dockerfile names the image the bottle runs on, for a proposal to start FROM", async () => {
    const r = await start("preserve", {
      currentDockerfile: {
        source: "manifest",
        text: "FROM node:24\nCOPY . /app\n",
        image: "claude-bottle-agent:fixer-0123456789ab",
      },
    });
    expect((await call(r, "current-dockerfile")).text).toBe(
      "# source: manifest\n# image: claude-bottle-agent:fixer-0123456789ab (this bottle runs on it; a proposal can start FROM it)\nFROM node:24\nCOPY . /app\n",
    );
  });

  test("current-dockerfile names a prebuilt image's source too", async () => {
    const r = await start("preserve", { currentDockerfile: { source: "prebuilt", text: "# image ghcr.io/x/y:1\n" } });
    expect((await call(r, "current-dockerfile")).text).toBe("# source: prebuilt\n# image ghcr.io/x/y:1\n");
  });

  test("list-egress gives the mode, the allowlist and the routes by name and upstream", async () => {
    const r = await start("preserve");
    const { text } = await call(r, "list-egress");
    expect(JSON.parse(text)).toEqual({
      mode: "enforce",
      allow: ["registry.npmjs.org:443"],
      routes: [{ name: "anthropic", upstream: "https://api.anthropic.com" }],
    });
  });

  test("list-egress with nothing allowed", async () => {
    const r = await start("preserve", { egress: { mode: "audit", allow: [], routes: [] } });
    expect(JSON.parse((await call(r, "list-egress")).text)).toEqual({ mode: "audit", allow: [], routes: [] });
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
    const proposal = ProposalSchema.parse(JSON.parse(readFileSync(join(r.proposalsDir, "1.json"), "utf8")));
    expect(proposal).toMatchObject({ version: 1, id: 1, dockerfile: DOCKERFILE, reason: REASON });
    const announced = r.events.find((e) => e.event === "proposal");
    expect(announced).toEqual({
      event: "proposal",
      id: 1,
      file: join(r.proposalsDir, "1.json"),
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
    expect(again).toMatchObject({ text: "A request is already recorded; this session is ending.", isError: false });
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
    ["a whitespace-only Dockerfile", " \n\t \n", REASON, "the Dockerfile is empty"],
    ["no FROM", "ARG BASE=debian\n", REASON, "has no FROM instruction"],
    ["RUN before FROM", "RUN make\nFROM debian\n", REASON, "line 1: the first instruction is RUN"],
    [
      "an unknown instruction",
      "FROM debian\n# tools\nINSTALL gcc\n",
      REASON,
      'line 3: "INSTALL" is not a Dockerfile instruction',
    ],
    ["a NUL byte", "FROM debian\nRUN echo \0\n", REASON, "contains a NUL byte"],
    [
      "one byte over the limit",
      `FROM debian\n#${"x".repeat(MAX_DOCKERFILE_BYTES - 13)}\n`,
      REASON,
      `${MAX_DOCKERFILE_BYTES + 1} bytes, over the limit of ${MAX_DOCKERFILE_BYTES}`,
    ],
    ["an empty reason", DOCKERFILE, "  ", "the reason is empty"],
  ])(
    "%s is refused with what is wrong, a refused line, nothing written",
    async (_name, dockerfile, reason, problem) => {
      const r = await start("preserve");
      const answer = await call(r, "capability-block", { dockerfile, reason });
      expect(answer.isError).toBe(true);
      expect(answer.text).toContain(problem);
      expect(answer.text).toContain("Fix it and call capability-block again");
      expect(r.events[1]).toMatchObject({ event: "capability-block", decision: "refused" });
      expect(r.events[1]?.problem).toEqual(expect.stringContaining(problem));
      expect(proposals(r)).toEqual([]);
      // A refused proposal does not use up the one that may be accepted.
      expect((await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON })).text).toMatch(
        /^Your request was recorded/,
      );
    },
  );

  test("a configured limit is the one enforced", async () => {
    const r = await start("preserve", { maxDockerfileBytes: 16 });
    const answer = await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("over the limit of 16");
  });

  test("deny refuses before looking at the Dockerfile", async () => {
    const r = await start("deny");
    const answer = await call(r, "capability-block", { dockerfile: "", reason: "" });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("denied for this bottle by its policy");
    expect(answer.text).toContain("final answer");
    expect(r.events).toEqual([
      { event: "tool", name: "capability-block" },
      { event: "capability-block", decision: "denied" },
    ]);
    expect(proposals(r)).toEqual([]);
  });
});

describe("the event lines", () => {
  test("an accepted proposal: the tool line, then the proposal line, both before the answer", async () => {
    const r = await start("preserve");
    const answer = await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    expect(answer.text).toBe(
      "Your request was recorded: the new Dockerfile will be reviewed and this bottle rebuilt from it. This session will end now; it will be resumed in the new image. Do not continue working.",
    );
    expect(answer.eventsSoFar).toBe(2);
    expect(r.events).toEqual([
      { event: "tool", name: "capability-block" },
      {
        event: "proposal",
        id: 1,
        file: join(r.proposalsDir, proposalFileName(1)),
        bytes: Buffer.byteLength(DOCKERFILE, "utf8"),
        sha256: createHash("sha256").update(DOCKERFILE, "utf8").digest("hex"),
      },
    ]);
  });

  test("a duplicate adds only its tool line and a duplicate decision", async () => {
    const r = await start("rebuild");
    await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    const before = r.events.length;
    const again = await call(r, "capability-block", { dockerfile: "FROM alpine\n", reason: "something else" });
    expect(again).toMatchObject({ text: "A request is already recorded; this session is ending.", isError: false });
    expect(r.events.slice(before)).toEqual([
      { event: "tool", name: "capability-block" },
      { event: "capability-block", decision: "duplicate" },
    ]);
    expect(proposals(r)).toEqual(["1.json"]);
  });

  test("the other tools log their name and nothing else", async () => {
    const r = await start("deny");
    await call(r, "current-dockerfile");
    await call(r, "list-egress");
    expect(r.events).toEqual([
      { event: "tool", name: "current-dockerfile" },
      { event: "tool", name: "list-egress" },
    ]);
  });

  test("no line carries the Dockerfile or the reason, whatever the decision", async () => {
    for (const policy of ["preserve", "deny"] as const) {
      const r = await start(policy);
      await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
      await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
      const lines = r.events.map((e) => JSON.stringify(e)).join("\n");
      expect(lines).not.toContain("golang");
      expect(lines).not.toContain("Go toolchain");
    }
  });
});

describe("the proposal file", () => {
  test("is complete, private, parses as a Proposal and records an ISO time", async () => {
    const r = await start("preserve");
    const before = Date.now();
    await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    // Written aside and renamed: nothing else is left in the directory.
    expect(proposals(r)).toEqual(["1.json"]);
    const file = join(r.proposalsDir, "1.json");
    expect(statSync(r.proposalsDir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const proposal = ProposalSchema.parse(JSON.parse(readFileSync(file, "utf8")));
    expect(proposal).toMatchObject({ version: 1, id: 1, dockerfile: DOCKERFILE, reason: REASON });
    expect(new Date(proposal.at).toISOString()).toBe(proposal.at);
    expect(Date.parse(proposal.at)).toBeGreaterThanOrEqual(before - 1000);
  });

  test("a directory that cannot be made: a failed decision, an error answer, nothing recorded", async () => {
    const parent = mkdtempSync(join(tmpdir(), "supervise-"));
    writeFileSync(join(parent, "blocker"), "a file where a directory should be");
    const r = await start("preserve", { proposalsDir: join(parent, "blocker", "proposals") });
    const answer = await call(r, "capability-block", { dockerfile: DOCKERFILE, reason: REASON });
    expect(answer.isError).toBe(true);
    expect(answer.text).toContain("could not be recorded");
    const failed = r.events.find((e) => e.event === "capability-block");
    expect(failed).toMatchObject({ decision: "failed" });
    expect(typeof failed?.problem).toBe("string");
    expect(r.events.some((e) => e.event === "proposal")).toBe(false);
  });

  test("ProposalSchema refuses what a runner must not trust", () => {
    const good = { version: 1, id: 1, dockerfile: DOCKERFILE, reason: REASON, at: new Date().toISOString() };
    expect(ProposalSchema.safeParse(good).success).toBe(true);
    expect(ProposalSchema.safeParse({ ...good, id: 0 }).success).toBe(false);
    expect(ProposalSchema.safeParse({ ...good, id: 1.5 }).success).toBe(false);
    expect(ProposalSchema.safeParse({ ...good, version: 2 }).success).toBe(false);
    expect(ProposalSchema.safeParse({ ...good, extra: true }).success).toBe(false);
    const { dockerfile: _dropped, ...missing } = good;
    expect(ProposalSchema.safeParse(missing).success).toBe(false);
  });
});

describe("the HTTP endpoint", () => {
  test.each(["GET", "DELETE", "PUT"])(
    "%s /mcp is 405 with a JSON-RPC error (stateless: no stream to open)",
    async (method) => {
      const r = await start("preserve");
      const response = await fetch(r.url, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
      expect(await response.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32000 }, id: null });
    },
  );

  test.each(["/", "/other", "/mcp/extra", "/tools"])("POST %s is 404", async (path) => {
    const r = await start("preserve");
    const response = await fetch(new URL(path, r.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(404);
  });

  test("a body that is not JSON is 400", async () => {
    const r = await start("preserve");
    expect(
      (await fetch(r.url, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" }))
        .status,
    ).toBe(400);
  });

  test("the bound port is returned when port 0 is asked for", async () => {
    const r = await start("preserve");
    expect(r.server.port).toBeGreaterThan(0);
    expect(new URL(r.url).port).toBe(String(r.server.port));
  });
});

describe("SuperviseConfigSchema", () => {
  test("fills in the limit and the directory", () => {
    const { proposalsDir: _dir, ...rest } = rawConfig("rebuild", "/x");
    const parsed = SuperviseConfigSchema.parse(rest);
    expect(parsed.maxDockerfileBytes).toBe(MAX_DOCKERFILE_BYTES);
    expect(parsed.proposalsDir).toBe(PROPOSALS_DIR);
  });

  test.each([
    ["an unknown top-level key", { extra: 1 }],
    ["an unknown policy", { policy: "approve" }],
    ["an unknown key in listen", { listen: { host: "0.0.0.0", port: 8090, tls: true } }],
    [
      "a credential beside a route",
      { egress: { mode: "enforce", allow: [], routes: [{ name: "a", upstream: "https://a.test", secret: "s" }] } },
    ],
    ["an unknown egress mode", { egress: { mode: "open", allow: [], routes: [] } }],
    ["an unknown Dockerfile source", { currentDockerfile: { source: "guessed", text: "FROM x\n" } }],
    ["a zero limit", { maxDockerfileBytes: 0 }],
    ["version 2", { version: 2 }],
  ])("refuses %s", (_name, change) => {
    expect(SuperviseConfigSchema.safeParse({ ...rawConfig("preserve", "/x"), ...change }).success).toBe(false);
  });
});
