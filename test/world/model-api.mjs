/**
 * The fake model API behind the gate's credential route: prints one JSON line
 * per request with every header as it arrived, so a test can see exactly which
 * credential the gate injected and which client headers got through. It never
 * echoes a header back: a real upstream would not, and the agent must not learn
 * the key from it.
 *
 *   POST /v1/messages   a minimal Messages API answer
 *   GET  /redirect?to=P a 302 to http://evil.test/P (the gate must not follow it)
 *   else                {"ok": true}
 *
 * Usage: node model-api.mjs <port>. Built-ins only.
 */
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 80);
const log = (event) =>
  process.stdout.write(`${JSON.stringify({ svc: "api", time: new Date().toISOString(), ...event })}\n`);

const json = (res, status, body, headers = {}) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
};

createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => {
    if (body.length < 4096) body += chunk.toString("utf8");
  });
  req.on("end", () => {
    log({
      event: "request",
      method: req.method,
      path: req.url,
      headers: req.rawHeaders,
      body: body.slice(0, 4096),
      from: req.socket.remoteAddress,
    });
    const url = new URL(req.url ?? "/", "http://api");
    if (url.pathname === "/redirect") {
      json(res, 302, { redirect: true }, { location: `http://evil.test/${url.searchParams.get("to") ?? ""}` });
    } else if (url.pathname === "/v1/messages" && req.method === "POST") {
      json(res, 200, {
        id: "msg_world",
        type: "message",
        role: "assistant",
        model: "fake-model",
        content: [{ type: "text", text: "hello from the world" }],
        stop_reason: "end_turn",
        usage: { input_tokens: 1, output_tokens: 1 },
      });
    } else {
      json(res, 200, { ok: true });
    }
  });
}).listen(port, () => log({ event: "listening", port }));
