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
    `forward the engine's socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock ${login}) and set ` +
      `DOCKER_HOST=unix:///tmp/docker.sock, or give a unix:// or tcp:// address`,
  );
}

/**
 * Why the engine did not answer, and what to do about it: the first thing a person on
 * a fresh machine sees, so it says how to get an engine when there is none.
 */
export function engineUnreachable(reason: string, env: NodeJS.ProcessEnv): string {
  let fix = "start dockerd or set DOCKER_HOST";
  if (/ENOENT/.test(reason) && !env.DOCKER_HOST?.trim()) {
    fix =
      "no Docker Engine runs on this machine: install one " +
      "(Debian or Ubuntu: `apt-get install docker.io`, which starts it where systemd runs; " +
      "else start it with `dockerd &`; other systems: https://docs.docker.com/engine/install/), " +
      "or set DOCKER_HOST to an engine elsewhere";
  } else if (/EACCES/.test(reason)) {
    fix =
      "this user may not use the engine's socket: add it to the docker group (`usermod -aG docker $USER`, then " +
      "log in again) or run as root";
  }
  return `cannot reach the Docker engine (${reason}); ${fix}`;
}
