/**
 * Whether the host has the openssl command the TLS tests make their certificates with.
 * Outside CI a missing openssl skips those tests; in CI (`CI=true`, set by .ci/run,
 * which installs it) a missing tool is a failure, so a skip never hides a gap.
 */
import { execFileSync } from "node:child_process";

export function hasOpenssl(): boolean {
  return hasTool("openssl", ["version"]);
}

/** True when `command args` runs; in CI a missing tool throws instead. */
export function hasTool(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI === "true")
      throw new Error(`${command} is missing, and CI must run every test: install it (.ci/run does)`);
    return false;
  }
}
