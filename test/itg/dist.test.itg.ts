/**
 * What a workflow downloads with `uses:` and a clone runs with `node runner`: the
 * committed dist/. It stays small, and it carries nothing that only the machine
 * that built it could make — no native addon, executable or protocol file — so a
 * fresh machine with no compiler rebuilds it byte for byte (the CI's dist check).
 */
import { readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, test } from "vitest";
import { ROOT, walk } from "../support/runner.js";

const DIST = join(ROOT, "dist");
const files = [...walk(DIST)].map((path) => relative(DIST, path)).sort();

describe("dist/", () => {
  test("is at most 6 MB in all", () => {
    const bytes = files.reduce((sum, file) => sum + statSync(join(DIST, file)).size, 0);
    expect(bytes).toBeLessThanOrEqual(6 * 1024 * 1024);
  });

  test("carries no native addon, executable or protocol file", () => {
    expect(files.filter((file) => /\.(node|exe|dll|proto)$/.test(file))).toEqual([]);
  });

  test("action.yml's main and post are each one call into the one action bundle", () => {
    for (const step of ["main", "post"]) {
      expect(readFileSync(join(DIST, step, "index.js"), "utf8")).toContain(
        `import { ${step} } from "../action/index.js";\nawait ${step}();`,
      );
    }
    expect(files.filter((file) => file.startsWith("main/") || file.startsWith("post/"))).toEqual([
      "main/index.js",
      "main/package.json",
      "post/index.js",
      "post/package.json",
    ]);
  });
});
