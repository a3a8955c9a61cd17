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
  } catch {
    throw new Error("the integration tests need a running Docker engine: start dockerd (as .ci/run does) or set DOCKER_HOST");
  }
  execFileSync("bash", [join(import.meta.dirname, "../images/build.sh")], { stdio: "inherit" });
  // The stand-in internet for the gate's security tests (see test/world/).
  const world = join(import.meta.dirname, "../world/build.sh");
  if (existsSync(world)) execFileSync("bash", [world], { stdio: "inherit" });
}
