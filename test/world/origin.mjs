/**
 * The world's origin server: two virtual hosts, `allowed.test` and `evil.test`,
 * behind one address, as on a shared web host. Each port sniffs the first bytes
 * of a connection and speaks TLS or plain HTTP accordingly, so plaintext that
 * slips through a tunnel meant for TLS is still answered and logged.
 *
 * It prints one JSON line per connection (with the first bytes it got), per
 * TLS handshake (with the SNI) and per request (SNI, Host, path, headers); the
 * answer names the virtual host that served it, chosen by the Host header as
 * shared hosts do.
 *
 *   /drip   sends a byte every 200 ms and never ends
 *   /hang   never answers
 *   else    {"vhost", "host", "sni", "path"}
 *
 * Usage: node origin.mjs <cert dir> <port>... Built-ins only.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { createSecureContext, TLSSocket } from "node:tls";

const [certDir, ...portArgs] = process.argv.slice(2);
if (!certDir || portArgs.length === 0) throw new Error("usage: origin.mjs <cert dir> <port>...");

const log = (event) =>
  process.stdout.write(`${JSON.stringify({ svc: "origin", time: new Date().toISOString(), ...event })}\n`);
const preview = (buffer) => buffer.subarray(0, 400).toString("latin1");

const context = (name) =>
  createSecureContext({
    key: readFileSync(join(certDir, `${name}.key`)),
    cert: readFileSync(join(certDir, `${name}.crt`)),
  });
const contexts = { "allowed.test": context("allowed.test"), "evil.test": context("evil.test") };
const contextFor = (servername) => {
  const name = (servername ?? "").toLowerCase();
  return name === "evil.test" || name.endsWith(".evil.test") ? contexts["evil.test"] : contexts["allowed.test"];
};

function vhostOf(host) {
  const name = (host ?? "").replace(/:\d+$/, "").toLowerCase();
  if (name === "evil.test" || name.endsWith(".evil.test")) return "evil.test";
  if (name === "allowed.test" || name.endsWith(".allowed.test")) return "allowed.test";
  if (name === "rebind.test") return "rebind.test";
  return "default";
}

const http = createHttpServer((req, res) => {
  const socket = req.socket;
  const entry = {
    event: "request",
    port: socket.worldPort,
    tls: socket instanceof TLSSocket,
    sni: socket.servername || null,
    host: req.headers.host ?? null,
    vhost: vhostOf(req.headers.host),
    method: req.method,
    path: req.url,
    from: socket.worldFrom,
    headers: req.rawHeaders,
  };
  log(entry);
  const path = (req.url ?? "").split("?")[0];
  if (path === "/drip") {
    res.writeHead(200, { "content-type": "text/plain" });
    const timer = setInterval(() => res.write("."), 200);
    res.on("close", () => clearInterval(timer));
    return;
  }
  if (path === "/hang") return;
  const body = JSON.stringify({ vhost: entry.vhost, host: entry.host, sni: entry.sni, path: req.url });
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
// Long enough that the gate's limits, not the origin, end idle connections in the tests.
http.keepAliveTimeout = 120_000;
http.requestTimeout = 0;
http.headersTimeout = 120_000;

function serve(port) {
  const server = createNetServer((raw) => {
    const from = raw.remoteAddress;
    raw.on("error", () => {});
    raw.once("data", (first) => {
      log({ event: "connection", port, from, first: preview(first) });
      raw.pause();
      raw.unshift(first);
      raw.worldPort = port;
      raw.worldFrom = from;
      if (first[0] !== 0x16) {
        http.emit("connection", raw);
        raw.resume();
        return;
      }
      const tls = new TLSSocket(raw, {
        isServer: true,
        secureContext: contexts["allowed.test"],
        SNICallback: (servername, done) => done(null, contextFor(servername)),
      });
      tls.worldPort = port;
      tls.worldFrom = from;
      tls.on("error", (error) => log({ event: "tls-error", port, from, reason: error.message }));
      tls.on("secure", () => {
        log({ event: "tls", port, from, sni: tls.servername || null });
        http.emit("connection", tls);
      });
    });
  });
  server.listen(port, () => log({ event: "listening", port }));
}

for (const port of portArgs) serve(Number(port));
