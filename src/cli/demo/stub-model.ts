/**
 * A stub Anthropic Messages API: enough of the real protocol (streaming SSE and
 * plain JSON replies, text and tool_use blocks, API errors) for the real claude
 * CLI to run end to end with no network and no key. A script decides each reply
 * to `POST /v1/messages`; every request is recorded so a caller can check what
 * claude sent, e.g. that a resumed session carried its earlier turns. The demo
 * command runs it in process, and the tests drive the real CLI against it.
 */
import { randomUUID } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  /** The path with its query string, as claude sent it (e.g. `/v1/messages?beta=true`). */
  path: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The parsed JSON body, the raw text when it is not JSON, or null when empty. */
  body: unknown;
}

export interface StubRequest {
  body: unknown;
  /** 0 for the first `POST /v1/messages`, counting only those. */
  index: number;
  headers: Record<string, string>;
}

export type StubReply =
  | { text: string }
  | { toolUse: { name: string; input: unknown } }
  | { error: { status: number; type: string; message: string } }
  /** Never answer: the request stays open until the stub closes. */
  | { hang: true };

export type StubScript = (req: StubRequest) => StubReply | Promise<StubReply>;

export interface StubModel {
  /** Base URL for `ANTHROPIC_BASE_URL`, e.g. `http://127.0.0.1:40123`. */
  url: string;
  port: number;
  /** Every request in arrival order, whatever its path. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface StubModelOptions {
  /** Defaults to 127.0.0.1; `0.0.0.0` lets containers reach it through a bridge. */
  host?: string;
  /** Defaults to 0: a free port. */
  port?: number;
  script: StubScript;
}

export async function startStubModel(opts: StubModelOptions): Promise<StubModel> {
  const requests: RecordedRequest[] = [];
  let messageIndex = 0;

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        sendError(res, 500, "api_error", `stub model: ${err instanceof Error ? err.message : String(err)}`);
      } else {
        res.destroy();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: flattenHeaders(req.headers),
      body: parseBody(raw),
    };
    requests.push(recorded);
    const pathname = new URL(recorded.path, "http://stub").pathname;

    if (recorded.method === "POST" && pathname === "/v1/messages") {
      const index = messageIndex++;
      const reply = await opts.script({ body: recorded.body, index, headers: recorded.headers });
      answerMessage(res, recorded.body, reply);
      return;
    }
    if (recorded.method === "POST" && pathname === "/v1/messages/count_tokens") {
      sendJson(res, 200, { input_tokens: estimateTokens(recorded.body) });
      return;
    }
    // Anything else (reachability probes, model listings) gets a harmless empty answer
    // so claude never stalls or retries on a path the stub does not model.
    if (recorded.method === "HEAD") {
      res.writeHead(200).end();
      return;
    }
    if (pathname === "/v1/models") {
      sendJson(res, 200, { data: [], has_more: false, first_id: null, last_id: null });
      return;
    }
    sendJson(res, 200, {});
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = !opts.host || opts.host === "0.0.0.0" || opts.host === "::" ? "127.0.0.1" : opts.host;

  return {
    url: `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        // Hanging replies keep their sockets open; drop them so close() returns.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answerMessage(res: ServerResponse, body: unknown, reply: StubReply): void {
  if ("hang" in reply) {
    // Send nothing: the connection stays open until the client gives up or close() drops it.
    return;
  }
  if ("error" in reply) {
    sendError(res, reply.error.status, reply.error.type, reply.error.message);
    return;
  }
  const model = typeof field(body, "model") === "string" ? (field(body, "model") as string) : "claude-stub";
  const id = `msg_stub_${randomUUID().replaceAll("-", "")}`;
  const inputTokens = estimateTokens(body);
  const block =
    "text" in reply
      ? { type: "text" as const, text: reply.text }
      : {
          type: "tool_use" as const,
          id: `toolu_stub_${randomUUID().replaceAll("-", "")}`,
          name: reply.toolUse.name,
          input: reply.toolUse.input,
        };
  const stopReason = block.type === "tool_use" ? "tool_use" : "end_turn";
  const outputTokens = Math.max(1, Math.ceil(JSON.stringify(block).length / 4));

  if (field(body, "stream") !== true) {
    sendJson(res, 200, {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [block],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: outputTokens },
    });
    return;
  }

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const event = (type: string, data: Record<string, unknown>) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  event("message_start", {
    message: {
      id,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 1 },
    },
  });
  if (block.type === "text") {
    event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    event("ping", {});
    event("content_block_delta", { index: 0, delta: { type: "text_delta", text: block.text } });
  } else {
    event("content_block_start", {
      index: 0,
      content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
    });
    event("ping", {});
    event("content_block_delta", {
      index: 0,
      delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input ?? {}) },
    });
  }
  event("content_block_stop", { index: 0 });
  event("message_delta", {
    delta: { stop_reason: stopReason, stop_sequence: null },
    usage: { output_tokens: outputTokens },
  });
  event("message_stop", {});
  res.end();
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { type: "error", error: { type, message } });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseBody(raw: string): unknown {
  if (raw === "") return null;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function flattenHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

/** Claude tracks context size from usage; a rough figure keeps its accounting sane. */
function estimateTokens(body: unknown): number {
  return Math.max(1, Math.ceil(JSON.stringify(body ?? "").length / 4));
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

interface MessageParam {
  role: string;
  content: unknown;
}

function messagesOf(body: unknown): MessageParam[] {
  const messages = field(body, "messages");
  return Array.isArray(messages) ? (messages as MessageParam[]) : [];
}

function blocksOf(content: unknown): Record<string, unknown>[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return Array.isArray(content) ? (content as Record<string, unknown>[]) : [];
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  return blocksOf(content)
    .map((b) => (b.type === "text" && typeof b.text === "string" ? b.text : ""))
    .filter(Boolean)
    .join("\n");
}

/** How many messages (user and assistant turns) the request carries. */
export function countMessages(body: unknown): number {
  return messagesOf(body).length;
}

/** The text blocks of the last user message; "" when there is none. */
export function lastUserText(body: unknown): string {
  const user = messagesOf(body).findLast((m) => m.role === "user");
  return user ? textOf(user.content) : "";
}

/** Every text of every user message, in order: the prompts a session has seen so far. */
export function userTexts(body: unknown): string[] {
  return messagesOf(body)
    .filter((m) => m.role === "user")
    .map((m) => textOf(m.content))
    .filter((t) => t !== "");
}

/**
 * The text of the most recent tool_result block, i.e. what the last tool call
 * printed; null when the request carries no tool result.
 */
export function toolResultText(body: unknown): string | null {
  const messages = messagesOf(body);
  for (let i = messages.length - 1; i >= 0; i--) {
    const results = blocksOf(messages[i]?.content).filter((b) => b.type === "tool_result");
    const last = results[results.length - 1];
    if (last) return textOf(last.content);
  }
  return null;
}

/** Whether the request offers tools: claude's main loop does, its side requests (titles, summaries) do not. */
export function offersTools(body: unknown): boolean {
  const tools = field(body, "tools");
  return Array.isArray(tools) && tools.length > 0;
}
