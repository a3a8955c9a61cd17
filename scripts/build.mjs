// Builds dist/: one self-contained ESM bundle per entry, made by ncc. dist/ is
// committed (GitHub runs it straight from the tag; `node runner` runs it from a
// clone), so the output must be deterministic: no source maps, no timestamps.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, renameSync, rmSync, mkdirSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const entries = {
  runner: "src/cli/index.ts",
  gate: "src/gate/server.ts",
};

const dist = "dist";
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
for (const [name, entry] of Object.entries(entries)) {
  const out = mkdtempSync(join(tmpdir(), `ncc-${name}-`));
  execFileSync("ncc", ["build", entry, "-o", out, "--no-source-map-register", "--quiet", "--no-cache", "--license", "licenses.txt"], { stdio: "inherit" });
  const files = readdirSync(out);
  const extra = files.filter((f) => !["index.js", "licenses.txt", "package.json"].includes(f));
  if (extra.length > 0) throw new Error(`${entry}: ncc emitted files a single-file bundle cannot carry: ${extra.join(", ")}`);
  renameSync(join(out, "index.js"), join(dist, `${name}.js`));
  writeFileSync(join(dist, `${name}.licenses.txt`), readFileSync(join(out, "licenses.txt")));
  rmSync(out, { recursive: true, force: true });
}
writeFileSync(join(dist, "package.json"), `${JSON.stringify({ type: "module" }, null, 2)}\n`);
console.log(`built ${Object.keys(entries).map((n) => `dist/${n}.js`).join(", ")}`);
