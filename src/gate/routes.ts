/**
 * The gate's one listener: a reverse proxy that forwards `/<route>/<rest>` to
 * the route's fixed upstream with the real credential added (`route.ts`,
 * `route-request.ts`), and the agent's forward proxy: CONNECT requests and
 * absolute-form targets are handed to `forward/proxy.ts` and never reach a route.
 *
 * This module is bundled into the gate, so it may import only `node:` built-ins
 * (no API newer than Node 20) and zod.
 */
import { Agent as HttpAgent, createServer } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { describeError } from "../errors.js";
import { admitClients } from "./clients.js";
import { type GateConfig, GateConfigSchema } from "./config.js";
import type { GateLog } from "./events.js";
import { createForwardProxy, type ForwardOptions } from "./forward/proxy.js";
import { isAbsoluteForm } from "./forward/targets.js";
import { type GateEnv, prepareRoute, type Route } from "./route.js";
import { type RouteContext, serveRoute } from "./route-request.js";

export interface RunningRoutes {
  port: number;
  close(): Promise<void>;
}

/** The status line for a request the HTTP parser rejected. */
function clientErrorStatus(code: string | undefined): string {
  if (code === "HPE_HEADER_OVERFLOW") return "431 Request Header Fields Too Large";
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "408 Request Timeout";
  return "400 Bad Request";
}

/**
 * Starts the gate's reverse proxy and forward proxy on one listener. Rejects,
 * before listening, when the config is invalid or a route's secret is missing
 * from `env`; logs `ready` only once every route and the egress policy are
 * prepared and the socket is listening. `options` replaces the resolver and
 * wraps the address policy, for tests.
 */
export async function startRoutes(
  input: GateConfig,
  env: GateEnv,
  log: GateLog,
  options: ForwardOptions = {},
): Promise<RunningRoutes> {
  const parsed = GateConfigSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid gate config:\n${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  const routes = new Map<string, Route>();
  for (const route of config.routes) routes.set(route.name, prepareRoute(route, env));

  const secrets = [...routes.values()].flatMap((route) => (route.inject === undefined ? [] : [route.inject.value]));
  // Error text comes from Node and from upstreams; none should contain a
  // credential, but a line the agent or a log reader sees must not depend on that.
  const redact = (text: string): string => secrets.reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
  const logError = (reason: string, route?: string): void =>
    log({ event: "error", ...(route === undefined ? {} : { route }), reason: redact(reason) });

  const forwardProxy = createForwardProxy(config.proxy, log, options);
  const context: RouteContext = {
    routes,
    agents: { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) },
    log,
    redact,
    logError,
  };

  const server = createServer((req, res) => {
    // An absolute-form target ("GET http://host/...") names a host: it is a
    // forward-proxy request, judged by the egress policy, never a route.
    if (isAbsoluteForm(req.url ?? "")) forwardProxy.request(req, res);
    else serveRoute(context, req, res);
  });
  const strangers = admitClients(server, config.listen.clients, log);
  server.on("connect", forwardProxy.connect);
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (error.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    if (forwardProxy.refuseUnparsed(error, socket)) return;
    logError(`malformed request from client: ${error.code ?? error.message}`);
    socket.end(`HTTP/1.1 ${clientErrorStatus(error.code)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => logError(`server error: ${describeError(error)}`));

  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const served = new Promise<void>((resolve, reject) =>
        server.close((error) => (error === undefined ? resolve() : reject(error))),
      );
      // Streams such as SSE would otherwise hold the close open until they end.
      server.closeAllConnections();
      // Open tunnels are logged as they close: the close ends once they are, so no line is lost to an exit.
      const tunnels = forwardProxy.close();
      context.agents.http.destroy();
      context.agents.https.destroy();
      await Promise.all([served, tunnels]);
      strangers.close();
    })();
    return closing;
  };

  log({ event: "ready", port, routes: [...routes.keys()] });
  return { port, close };
}
