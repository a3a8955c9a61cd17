/**
 * Which engine addresses the client reaches. docker-modem speaks a unix socket, a
 * named pipe and tcp:// (http, or https with DOCKER_TLS_VERIFY) by itself; for
 * ssh:// it needs ssh2, whose native addons would make dist/ depend on the machine
 * that built it, so the bundles carry a stub instead (stubs/README.md). An ssh://
 * DOCKER_HOST is refused here, by name, before anything connects.
 */
import { InputError } from "../errors.js";

export function checkEngineHost(env: NodeJS.ProcessEnv): void {
  const host = env.DOCKER_HOST?.trim() ?? "";
  if (!/^ssh:\/\//i.test(host)) return;
  let login = "HOST";
  let shown = "ssh://...";
  try {
    const url = new URL(host);
    // A password in the address stays out of the message.
    login = `${url.port ? `-p ${url.port} ` : ""}${url.username ? `${url.username}@` : ""}${url.hostname}`;
    shown = `ssh://${url.username ? `${url.username}@` : ""}${url.host}${url.pathname === "/" ? "" : url.pathname}`;
  } catch {
    // An address that does not parse is shown as the scheme alone.
  }
  throw new InputError(
    "DOCKER_HOST",
    shown,
    "is an ssh:// address, which bottle-action does not speak",
    `forward the engine's socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock ${login}) and set DOCKER_HOST=unix:///tmp/docker.sock, or give a unix:// or tcp:// address`,
  );
}
