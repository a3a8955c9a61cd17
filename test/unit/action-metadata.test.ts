/**
 * action.yml as the runners read it: GitHub's runner (YamlDotNet) and the act-based
 * runners of Gitea and Forgejo (go-yaml) refuse a file a strict YAML parser refuses,
 * and then the action cannot be used at all. So the file is parsed here with a
 * strict YAML 1.2 parser, its shape is checked, and its inputs, outputs and
 * defaults are checked against the code in both directions.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseDocument } from "yaml";
import { parseInputs } from "../../src/action/inputs.js";
import { ACTION_OUTPUTS } from "../../src/action/outputs.js";

const ROOT = join(import.meta.dirname, "..", "..");
const text = readFileSync(join(ROOT, "action.yml"), "utf8");

interface Metadata {
  name: string;
  description: string;
  author?: string;
  branding: { icon: string; color: string };
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string; post: string; "post-if": string };
}

function strictParse(source: string): { value: unknown; problems: string[] } {
  const doc = parseDocument(source, { version: "1.2", uniqueKeys: true, strict: true, prettyErrors: true });
  return { value: doc.toJS(), problems: [...doc.errors, ...doc.warnings].map((e) => e.message) };
}

const parsed = strictParse(text);
const meta = parsed.value as Metadata;

/** The job's working directory stands in for `${{ github.workspace }}`, as a runner expands it. */
const JOB_WORKSPACE = ROOT;
const expand = (value: string) => value.replaceAll("${{ github.workspace }}", JOB_WORKSPACE);
/**
 * Defaults only the runner knows (the job's token): the code has no value of its own
 * for them, so the check is that it takes the runner's value as given.
 */
const RUNNER_ONLY: Record<string, { sample: string; field: string }> = {
  "${{ github.token }}": { sample: "ghs_sample", field: "githubToken" },
};

describe("action.yml", () => {
  test("parses with a strict YAML 1.2 parser, with no errors or warnings", () => {
    expect(parsed.problems).toEqual([]);
  });

  test("the parser used here refuses what the runners refuse", () => {
    // The line that once made the action unloadable: a plain scalar holding ": ".
    const broken = "inputs:\n  x:\n    description: told when resumed (default: continue).\n";
    expect(strictParse(broken).problems.join("\n")).toMatch(
      /Nested mappings are not allowed in compact mappings|mapping/i,
    );
    expect(strictParse("a: 1\na: 2\n").problems.join("\n")).toMatch(/unique/i);
  });

  test("has the shape a runner expects", () => {
    expect(meta.name).toBe("bottle-action");
    expect(typeof meta.description).toBe("string");
    expect(meta.description.length).toBeGreaterThan(20);
    // GitHub's marketplace refuses descriptions over 125 characters.
    expect(meta.description.length).toBeLessThanOrEqual(125);
    expect(meta.branding).toEqual({ icon: expect.any(String), color: expect.any(String) });
    expect(meta.runs).toEqual({
      using: "node24",
      main: "dist/main/index.js",
      post: "dist/post/index.js",
      "post-if": "always()",
    });
    for (const entry of [meta.runs.main, meta.runs.post])
      expect(readdirSync(join(ROOT, entry, ".."))).toContain("index.js");
    for (const [name, input] of Object.entries(meta.inputs)) {
      expect(name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(
        Object.keys(input).every((k) => ["description", "required", "default", "deprecationMessage"].includes(k)),
        name,
      ).toBe(true);
      expect(typeof input.description, name).toBe("string");
      if ("default" in input) expect(typeof input.default, `${name}'s default is a string`).toBe("string");
    }
    for (const [name, output] of Object.entries(meta.outputs))
      expect(Object.keys(output), name).toEqual(["description"]);
  });

  test("declares every input the code reads, and the code reads every declared input", () => {
    const read = new Set<string>();
    parseInputs((name) => {
      read.add(name);
      return name === "prompt" ? "task" : "";
    }, JOB_WORKSPACE);
    expect([...read].sort()).toEqual(Object.keys(meta.inputs).sort());
  });

  test("only the input parser reads inputs, and only the output table sets outputs", () => {
    const sources = walk(join(ROOT, "src")).map((file) => ({ file, code: readFileSync(file, "utf8") }));
    const readers = sources
      .filter((s) => /\bgetInput\(|getBooleanInput\(|getMultilineInput\(/.test(s.code))
      .map((s) => s.file.slice(ROOT.length + 1));
    expect(readers.sort()).toEqual(["src/action/log.ts", "src/action/run.ts", "src/action/toolkit.ts"]);
    const setters = sources.filter((s) => /\bsetOutput\(/.test(s.code)).map((s) => s.file.slice(ROOT.length + 1));
    expect(setters.sort()).toEqual(["src/action/log.ts", "src/action/outputs.ts", "src/action/toolkit.ts"]);
  });

  test("declares every output the code sets, and the code sets every declared output", () => {
    expect([...ACTION_OUTPUTS].sort()).toEqual(Object.keys(meta.outputs).sort());
  });

  test.each(Object.entries(meta.inputs).filter(([, input]) => input.default !== undefined))(
    "input %s: the declared default is the code's default",
    (name, input) => {
      const base: Record<string, string> = { prompt: "task" };
      const runnerOnly = RUNNER_ONLY[input.default as string];
      if (runnerOnly) {
        const parsed = parseInputs((n) => (n === name ? runnerOnly.sample : (base[n] ?? "")), JOB_WORKSPACE);
        expect((parsed as unknown as Record<string, unknown>)[runnerOnly.field]).toBe(runnerOnly.sample);
        return;
      }
      const withDefault = parseInputs(
        (n) => (n === name ? expand(input.default as string) : (base[n] ?? "")),
        JOB_WORKSPACE,
      );
      const left = parseInputs((n) => base[n] ?? "", JOB_WORKSPACE);
      expect(withDefault).toEqual(left);
    },
  );
});

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}
