/**
 * Global setup of the integration tests: a Docker engine must answer, and the test
 * images (built locally; no registry is reachable) must exist. Both are checked
 * once, before any test file runs.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export default function setup(): void {
  try {
    execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { stdio: "pipe" });
  } catch (error) {
    const said = String((error as { stderr?: unknown }).stderr ?? (error as Error).message)
      .trim()
      .split("\n")[0];
    throw new Error(
      `the integration tests need a running Docker engine (docker said: ${said}): start one with \`dockerd >/tmp/dockerd.log 2>&1 &\` as root (as .ci/run does), or point DOCKER_HOST at one`,
    );
  }
  execFileSync("bash", [join(import.meta.dirname, "../images/build.sh")], { stdio: "inherit" });
  // The stand-in internet for the gate's security tests (see test/world/).
  const world = join(import.meta.dirname, "../world/build.sh");
  if (existsSync(world)) execFileSync("bash", [world], { stdio: "inherit" });
}
