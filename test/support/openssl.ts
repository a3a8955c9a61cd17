/** Whether the host has the openssl command the TLS tests make their certificates with. */
import { execFileSync } from "node:child_process";

export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
