/**
 * The CLI's manners through the built `node runner` and a real engine: the committed
 * bundle knows its version and each command's help, and a real image build shows
 * its Dockerfile steps on stderr as the engine reports them, instead of one line and
 * then silence.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { AGENT_BASE_IMAGE, ROOT, labelled, runRunner, sandbox, writeManifest } from "../support/runner.js";

describe("the built runner", () => {
  test("--version names the package's version; start --help is start's own help", async () => {
    const b = sandbox();
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string };
    const version = await runRunner(["--version"], b);
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.name} ${pkg.version}\n` });
    const help = await runRunner(["start", "--help"], b);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: node runner start <agent> --prompt TEXT/);
    expect(help.stdout).toContain("example:\n  node runner start ");
  });

  test("an image build reports each Dockerfile step on stderr as the engine reaches it", async () => {
    const b = sandbox();
    const marker = `build-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(b.dir, "agent.Dockerfile"), `FROM ${AGENT_BASE_IMAGE}\nRUN echo ${marker} && exit 3\n`);
    const manifest = writeManifest(b.dir, {
      bottles: { built: { dockerfile: "agent.Dockerfile" } },
      agents: { fixer: { bottle: "built" } },
    });
    const run = await runRunner(["start", "fixer", "--manifest", manifest, "--prompt", "x"], b);
    expect(run.code).toBe(1);
    const lines = run.stderr.split("\n");
    const building = lines.findIndex((l) => l.includes("building agent image"));
    expect(building, run.stderr).toBeGreaterThanOrEqual(0);
    // The engine counts the runner's labels as LABEL steps after the Dockerfile's own.
    expect(lines.slice(building + 1).filter((l) => l.startsWith("  step "))).toEqual([
      expect.stringMatching(new RegExp(`^ {2}step 1/\\d+ FROM ${AGENT_BASE_IMAGE}$`)),
      expect.stringMatching(new RegExp(`^ {2}step 2/\\d+ RUN echo ${marker} && exit 3$`)),
    ]);
    // The build's own output stays out of the progress; the failure still quotes it.
    expect(lines.filter((l) => l === marker)).toHaveLength(1);
    expect(run.stderr).toMatch(/building the agent image from the manifest Dockerfile failed/);
    const identity = /claude-bottle \[(fixer-[a-z0-9]{5})\]/.exec(run.stderr)?.[1];
    expect(identity, run.stderr).toBeDefined();
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
  });
});
