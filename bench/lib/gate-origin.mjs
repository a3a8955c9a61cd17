// The benchmark's origin, run inside its own container as `node /bench/gate-origin.mjs`:
// HTTPS on 443 with the self-signed certificate for origin.bench. `/bytes/<n>` sends
// n bytes from one preallocated buffer (with backpressure), `/ping` four bytes.
// Prints {"event":"ready"} once listening.
import { readFileSync } from "node:fs";
import { createServer } from "node:https";

const block = Buffer.alloc(1 << 20, 0x61);

const server = createServer(
  { key: readFileSync("/bench/key.pem"), cert: readFileSync("/bench/cert.pem"), keepAliveTimeout: 120_000 },
  (req, res) => {
    const bytes = /^\/bytes\/(\d+)$/.exec(req.url ?? "");
    if (bytes !== null) {
      let left = Number(bytes[1]);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(left) });
      const pump = () => {
        while (left > 0) {
          const size = Math.min(left, block.length);
          left -= size;
          if (!res.write(size === block.length ? block : block.subarray(0, size))) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
      return;
    }
    if (req.url === "/ping") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "4" });
      res.end("pong");
      return;
    }
    res.writeHead(404, { "content-length": "0" });
    res.end();
  },
);
server.on("tlsClientError", () => {});
server.listen(443, "0.0.0.0", () => console.log(JSON.stringify({ event: "ready" })));
process.once("SIGTERM", () => process.exit(0));
