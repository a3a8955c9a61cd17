/**
 * Whether the host has the openssl command the TLS tests make their certificates with.
 * Outside CI a missing openssl skips those tests; in CI (`CI=true`, set by .ci/run,
 * which installs it) a missing tool is a failure, so a skip never hides a gap.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

/** A fresh self-signed EC certificate with `subject` (e.g. `/CN=127.0.0.1`) and `altNames`, made with the openssl CLI. */
export function selfSignedCertificate(subject: string, altNames: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), "test-tls-"));
  try {
    const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    const curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    const args = [
      "req",
      "-x509",
      ...curve,
      "-nodes",
      "-days",
      "1",
      "-subj",
      subject,
      "-addext",
      `subjectAltName=${altNames}`,
    ];
    execFileSync("openssl", [...args, "-keyout", key, "-out", cert], { stdio: "ignore" });
    return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
