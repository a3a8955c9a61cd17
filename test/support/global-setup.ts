/**
 * Global setup of the integration tests: a Docker engine must answer, and the test
 * images (built locally; no registry is reachable) must exist. Both are checked
 * once, before any test file runs.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup(): void {
  try {
    execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { stdio: "pipe" });
  } catch {
    throw new Error("the integration tests need a running Docker engine: start dockerd (as .ci/run does) or set DOCKER_HOST");
  }
  execFileSync("bash", [join(import.meta.dirname, "../images/build.sh")], { stdio: "inherit" });
}
