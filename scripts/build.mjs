// Builds dist/: one ESM bundle per entry, made by ncc, each in its own folder with
// the assets it relocated (dockerode brings protobuf files and ssh2 helpers).
// dist/ is committed — GitHub runs it straight from the tag and `node runner` runs
// it from a clone — so the output must be deterministic: no source maps, no cache.
// ncc type-checks with tsconfig.json, which covers src/ only: tests never block a build.
import { execFileSync } from "node:child_process";
import { rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";

export const entries = {
  runner: "src/cli/index.ts",
  gate: "src/gate/server.ts",
  supervise: "src/supervise/main.ts",
  main: "src/action/main.ts",
  post: "src/action/post-entry.ts",
};

const dist = "dist";
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
for (const [name, entry] of Object.entries(entries)) {
  execFileSync("ncc", ["build", entry, "-o", join(dist, name), "--no-source-map-register", "--quiet", "--no-cache", "--license", "licenses.txt"], {
    stdio: "inherit",
  });
}
console.log(`built ${Object.keys(entries).map((n) => `dist/${n}/index.js`).join(", ")}`);
