/**
 * A canary: listens on TCP and UDP ports and prints one JSON line for every
 * connection, every chunk of data (first 4 KiB per connection) and every
 * datagram. Nothing in the security tests is supposed to reach one, so any line
 * but `listening` is a finding.
 *
 * Usage: node canary.mjs <name> tcp:<port>,... udp:<port>,...   Built-ins only.
 */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";

const [name, ...specs] = process.argv.slice(2);
if (!name || specs.length === 0) throw new Error("usage: canary.mjs <name> tcp:<port>,... udp:<port>,...");

const log = (event) =>
  process.stdout.write(
    `${JSON.stringify({ svc: "canary", canary: name, time: new Date().toISOString(), ...event })}\n`,
  );
const LIMIT = 4096;

function tcp(port) {
  const server = createServer((socket) => {
    const from = socket.remoteAddress;
    const to = socket.localAddress;
    log({ event: "tcp", port, from, to });
    let seen = 0;
    socket.on("data", (chunk) => {
      if (seen >= LIMIT) return;
      log({ event: "tcp-data", port, from, to, data: chunk.subarray(0, LIMIT - seen).toString("latin1") });
      seen += chunk.length;
    });
    socket.on("error", () => {});
  });
  server.listen(port, () => log({ event: "listening", proto: "tcp", port }));
}

function udp(port) {
  const socket = createSocket("udp4");
  socket.on("message", (data, from) =>
    log({ event: "udp", port, from: from.address, data: data.subarray(0, LIMIT).toString("latin1") }),
  );
  socket.bind(port, () => log({ event: "listening", proto: "udp", port }));
}

for (const spec of specs) {
  const [proto, ports] = spec.split(":");
  for (const port of (ports ?? "").split(",").filter(Boolean).map(Number)) (proto === "udp" ? udp : tcp)(port);
}
