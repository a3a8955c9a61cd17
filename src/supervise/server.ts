/**
 * The supervise server: the MCP server (official SDK, streamable HTTP, stateless)
 * the agent in a supervised bottle talks to. Its tools let the agent read the
 * Dockerfile it runs on and its egress, and propose a replacement Dockerfile
 * (capability-block). It never touches Docker and holds no credentials: an
 * accepted proposal becomes a file plus one `proposal` line on stdout, and the
 * runner, which follows that stdout, does the rest.
 *
 * Every line it emits is a log line, so none carries the agent's Dockerfile or
 * reason — those are only in the file the runner reads back.
 */
import { createHash } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { replyJson } from "../sidecar/http.js";
import type { Emit } from "../sidecar/program.js";
import { MAX_REASON_CHARS, type Proposal, type SuperviseConfig, proposalFileName } from "./config.js";
import { dockerfileProblem } from "./dockerfile.js";

export interface SuperviseServer {
  port: number;
  close(): Promise<void>;
}

/** MCP requests are small JSON-RPC messages; a proposal is at most a Dockerfile and a reason. */
const MAX_BODY_BYTES = 1024 * 1024;

const ANSWERS = {
  preserve:
    "Your request was recorded: the new Dockerfile will be reviewed and this bottle rebuilt from it. This " +
    "session will end now; it will be resumed in the new image. Do not continue working.",
  rebuild:
    "Your request was recorded: this bottle will be rebuilt from the new Dockerfile right away and this session " +
    "resumed in it. This session will end now; stop here.",
  duplicate: "A request is already recorded; this session is ending.",
  denied:
    "capability-block requests are denied for this bottle by its policy. Continue with the tools this image " +
    "has, or explain in your final answer what you would need.",
};

export async function startSupervise(config: SuperviseConfig, emit: Emit): Promise<SuperviseServer> {
  let accepted = 0;
  // One proposal at a time: two concurrent calls must not both be accepted.
  let queue: Promise<unknown> = Promise.resolve();

  const text = (message: string, isError = false): CallToolResult => ({
    content: [{ type: "text", text: message }],
    ...(isError ? { isError: true } : {}),
  });

  async function propose(dockerfile: string, reason: string): Promise<CallToolResult> {
    if (config.policy === "deny") {
      emit({ event: "capability-block", decision: "denied" });
      return text(ANSWERS.denied, true);
    }
    if (accepted > 0) {
      emit({ event: "capability-block", decision: "duplicate" });
      return text(ANSWERS.duplicate);
    }
    const problem =
      reason.trim() === ""
        ? "the reason is empty; say what the image lacks and why the task needs it"
        : dockerfileProblem(dockerfile, config.maxDockerfileBytes);
    if (problem) {
      emit({ event: "capability-block", decision: "refused", problem });
      return text(`Not accepted: ${problem}. Fix it and call capability-block again.`, true);
    }
    const id = accepted + 1;
    const proposal: Proposal = { version: 1, id, dockerfile, reason, at: new Date().toISOString() };
    const file = join(config.proposalsDir, proposalFileName(id));
    try {
      await mkdir(config.proposalsDir, { recursive: true, mode: 0o700 });
      // Written aside and renamed: the runner never reads half a proposal.
      await writeFile(`${file}.tmp`, JSON.stringify(proposal), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    } catch (error) {
      emit({ event: "capability-block", decision: "failed", problem: errorMessage(error) });
      return text(`The request could not be recorded (${errorMessage(error)}); continue without it.`, true);
    }
    accepted = id;
    const body = Buffer.from(dockerfile, "utf8");
    emit({ event: "proposal", id, file, bytes: body.length, sha256: createHash("sha256").update(body).digest("hex") });
    return text(config.policy === "rebuild" ? ANSWERS.rebuild : ANSWERS.preserve);
  }

  function mcpServer(): McpServer {
    const server = new McpServer({ name: "claude-bottle-supervise", version: "1.0.0" });
    server.registerTool(
      "capability-block",
      {
        description:
          "Ask for a different image for this bottle when it lacks something the task needs (a compiler, a CLI, " +
          "a library) that you cannot install: the bottle has no way out to fetch it. Propose a complete " +
          "replacement Dockerfile (start from current-dockerfile and add what is missing) and say why. If " +
          "accepted, this session ends and continues in the new image. The image is built behind this " +
          "bottle's gate: RUN steps reach only what list-egress allows, the build has no files to COPY or ADD " +
          "(start FROM the image current-dockerfile names instead of copying files again), and every image it " +
          "names must already be on this Docker engine.",
        inputSchema: {
          dockerfile: z.string().describe("The complete replacement Dockerfile."),
          reason: z.string().max(MAX_REASON_CHARS).describe("What the image lacks and why the task needs it."),
        },
      },
      async ({ dockerfile, reason }) => {
        emit({ event: "tool", name: "capability-block" });
        const answer = queue.then(() => propose(dockerfile, reason));
        queue = answer.catch(() => undefined);
        return answer;
      },
    );
    server.registerTool(
      "current-dockerfile",
      { description: "The Dockerfile this bottle's image was built from." },
      async () => {
        emit({ event: "tool", name: "current-dockerfile" });
        const { source, image, text: dockerfile } = config.currentDockerfile;
        return text(
          `# source: ${source}\n` +
            (image ? `# image: ${image} (this bottle runs on it; a proposal can start FROM it)\n` : "") +
            dockerfile,
        );
      },
    );
    server.registerTool(
      "list-egress",
      {
        description:
          "Where this bottle may connect: the egress mode, the allowed host:port pairs, and the routes (name " +
          "and upstream) the gate serves at http://gate:8080/<name>/.",
      },
      async () => {
        emit({ event: "tool", name: "list-egress" });
        const { mode, allow, routes } = config.egress;
        return text(
          JSON.stringify({ mode, allow, routes: routes.map((r) => ({ name: r.name, upstream: r.upstream })) }, null, 2),
        );
      },
    );
    return server;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://supervise").pathname;
    if (path !== "/mcp") return void replyJson(res, 404, { error: "not found; the MCP endpoint is /mcp" });
    if (req.method !== "POST") {
      // Stateless: no server-initiated stream to open (GET) and no session to end (DELETE).
      res.setHeader("allow", "POST");
      return void replyJson(res, 405, {
        jsonrpc: "2.0",
        error: { code: -32000, message: "Method not allowed." },
        id: null,
      });
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req)).toString("utf8"));
    } catch (error) {
      return void replyJson(res, 400, {
        jsonrpc: "2.0",
        error: { code: -32700, message: `Parse error: ${errorMessage(error)}` },
        id: null,
      });
    }
    const server = mcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      emit({ event: "error", reason: errorMessage(error) });
      if (!res.headersSent)
        replyJson(res, 500, { jsonrpc: "2.0", error: { code: -32603, message: "Internal error" }, id: null });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(config.listen.port, config.listen.host, () => resolve());
  });
  return {
    port: (http.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error(`the request is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
