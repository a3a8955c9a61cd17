#!/usr/bin/env node
/**
 * The attacker's own client, installed in the toolbox image as `probe`: speaks
 * to the gate's proxy byte by byte where curl and openssl would tidy a request
 * up (odd CONNECT targets, raw absolute-form requests, plaintext inside a
 * tunnel, tunnels held open). Each run prints one JSON line saying exactly what
 * came back, for the tests to read from the tool output.
 *
 *   probe connect <target> [--sni NAME] [--plain] [--path P] [--host H]
 *       CONNECT, then (on 200) a TLS handshake with SNI NAME (default: the
 *       target's host) or plaintext, then GET P
 *   probe http <absolute URL> [--host H]     one absolute-form request
 *   probe hold <host> [--every MS] [--max MS]
 *       a TLS tunnel to host:443 with a request every MS (or one request and
 *       then silence); reports when and how it was closed
 *
 * The proxy is $HTTPS_PROXY. Built-ins only.
 */
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";

const [command, target, ...rest] = process.argv.slice(2);
const option = (name) => {
  const at = rest.indexOf(name);
  return at === -1 ? undefined : rest[at + 1];
};
const flag = (name) => rest.includes(name);
const proxy = new URL(process.env.HTTPS_PROXY ?? "http://gate:8080");
const started = Date.now();
const print = (result) => {
  process.stdout.write(`${JSON.stringify({ probe: command, target, ...result })}\n`);
};

/** Reads HTTP/1.1 responses (content-length bodies, or until close) off a stream. */
function responses(stream, onResponse) {
  let buffer = Buffer.alloc(0);
  const drain = () => {
    for (;;) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      const head = buffer.subarray(0, end).toString("latin1");
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length) return;
      const total = end + 4 + Number(length[1]);
      if (buffer.length < total) return;
      onResponse({ status: head.split("\r\n")[0], body: buffer.subarray(end + 4, total).toString("utf8") });
      buffer = buffer.subarray(total);
    }
  };
  stream.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    drain();
  });
  return () => buffer.toString("latin1");
}

const parseBody = (body) => {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
};

/** Opens a CONNECT tunnel; resolves with the socket on 200, else with the status and body. */
function openTunnel(authority) {
  return new Promise((resolve) => {
    const socket = netConnect(Number(proxy.port || 80), proxy.hostname);
    let buffer = Buffer.alloc(0);
    const onData = (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      const head = buffer.subarray(0, end).toString("latin1");
      const status = Number(head.split(" ")[1]);
      if (status === 200) {
        socket.pause();
        const extra = buffer.subarray(end + 4);
        if (extra.length > 0) socket.unshift(extra);
        resolve({ status, socket });
      } else {
        const body = buffer.subarray(end + 4).toString("utf8");
        socket.on("data", () => {});
        socket.once("close", () => resolve({ status, body: parseBody(body) }));
        setTimeout(() => resolve({ status, body: parseBody(body) }), 500).unref();
      }
    };
    socket.on("data", onData);
    socket.on("error", (error) => resolve({ status: 0, error: error.message }));
    socket.once("close", () => {
      if (buffer.indexOf("\r\n\r\n") === -1) resolve({ status: 0, error: "closed before an answer" });
    });
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

const hostOf = (authority) => authority.replace(/:\d+$/, "").replace(/\.$/, "").toLowerCase();

async function probeConnect() {
  const tunnel = await openTunnel(target);
  if (tunnel.status !== 200) return print({ status: tunnel.status, body: tunnel.body, error: tunnel.error });
  const path = option("--path") ?? "/";
  const host = option("--host") ?? hostOf(target);
  const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
  const after = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ kind: "timeout" }), 8000);
    const finish = (result) => {
      clearTimeout(timer);
      resolve(result);
    };
    let stream = tunnel.socket;
    if (flag("--plain")) {
      stream.write(request);
    } else {
      stream = tlsConnect(
        { socket: tunnel.socket, servername: option("--sni") ?? hostOf(target), rejectUnauthorized: false },
        () => stream.write(request),
      );
    }
    let answered = null;
    const raw = responses(stream, (response) => {
      answered = response;
      finish({ kind: flag("--plain") ? "plain" : "tls", status: response.status, body: parseBody(response.body) });
    });
    stream.on("error", (error) => finish({ kind: "closed", error: error.message }));
    stream.once("close", () => finish(answered ?? { kind: "closed", got: raw().slice(0, 200) }));
    tunnel.socket.resume();
  });
  print({ status: 200, after });
  tunnel.socket.destroy();
}

async function probeHttp() {
  const host = option("--host") ?? new URL(target).host;
  const result = await new Promise((resolve) => {
    const socket = netConnect(Number(proxy.port || 80), proxy.hostname);
    let answered = null;
    const raw = responses(socket, (response) => {
      answered = response;
      socket.destroy();
    });
    socket.on("error", (error) => resolve({ status: 0, error: error.message }));
    socket.once("close", () =>
      resolve(
        answered
          ? { status: Number(answered.status.split(" ")[1]), body: parseBody(answered.body) }
          : { status: 0, got: raw().slice(0, 200) },
      ),
    );
    socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
  print(result);
}

async function probeHold() {
  const every = option("--every") === undefined ? null : Number(option("--every"));
  const max = Number(option("--max") ?? 20000);
  const tunnel = await openTunnel(`${target}:443`);
  if (tunnel.status !== 200) return print({ status: tunnel.status, body: tunnel.body });
  const stream = tlsConnect({ socket: tunnel.socket, servername: target, rejectUnauthorized: false });
  let answers = 0;
  let sent = 0;
  const send = () => stream.write(`GET /hold-${sent++} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  responses(stream, () => answers++);
  const result = await new Promise((resolve) => {
    let timer;
    const finish = (how) => {
      clearInterval(timer);
      resolve({ how, ms: Date.now() - started, requests: sent, answers });
    };
    stream.once("secureConnect", () => {
      send();
      if (every !== null) timer = setInterval(send, every);
    });
    stream.on("error", () => {});
    stream.once("close", () => finish("closed"));
    setTimeout(() => finish("still open"), max).unref();
  });
  print(result);
  stream.destroy();
}

const commands = { connect: probeConnect, http: probeHttp, hold: probeHold };
if (!commands[command] || !target) {
  process.stderr.write("usage: probe connect|http|hold <target> [options]\n");
  process.exit(2);
}
await commands[command]();
process.exit(0);
