/**
 * `node runner demo`, the first of README's two set-up commands: crash → preserve →
 * resume on the embedded default agent with the real claude CLI and no API key.
 * Here the images come from the local test images instead of a registry, or from the
 * fallback a machine without a registry gets (scripts/local-images.sh, cached after the
 * first build: .ci/run's demo step builds them before the tests).
 */
import { expect, test } from "vitest";
import { LOCAL_IMAGES } from "../../src/bottle/local-images.js";
import { AGENT_BASE_IMAGE, labelled, runRunner, sandbox } from "../support/runner.js";

test("the demo crashes claude, preserves the bottle and resumes the same session", async () => {
  const box = sandbox({ CLAUDE_BOTTLE_BASE_IMAGE: AGENT_BASE_IMAGE });
  const run = await runRunner(["demo", "--format", "json"], box);
  expect(run.code, run.stderr).toBe(0);
  const [crashed, resumed] = run.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(crashed).toMatchObject({ outcome: "crashed", exitCode: 137, preserved: true });
  expect(resumed).toMatchObject({
    identity: crashed?.identity,
    sessionId: crashed?.sessionId,
    outcome: "success",
    preserved: false,
  });
  expect(run.stderr).toMatch(/demo: the resumed session carried \d+ earlier messages/);
  expect(labelled()).toEqual({ containers: [], networks: [] });
});

test("with no registry to pull the base and gate images from, the demo falls back to the local images, says so once, and succeeds", async () => {
  // A registry in the .invalid domain resolves nowhere, wherever the test runs.
  const box = sandbox({
    CLAUDE_BOTTLE_BASE_IMAGE: "registry.invalid/claude-bottle/no-base:1",
    CLAUDE_BOTTLE_GATE_IMAGE: "registry.invalid/claude-bottle/no-gate:1",
  });
  const run = await runRunner(["demo", "--format", "json"], box);
  expect(run.code, run.stderr).toBe(0);
  const fellBack = run.stderr.split("\n").filter((line) => line.includes("falling back"));
  expect(fellBack, run.stderr).toHaveLength(1);
  expect(fellBack[0]).toMatch(
    /^demo: cannot pull registry\.invalid\/claude-bottle\/no-base:1 or registry\.invalid\/claude-bottle\/no-gate:1: no registry answered \(.*\); falling back to images built from Debian's mirror and npm/,
  );
  expect(fellBack[0]).toContain(`${LOCAL_IMAGES.base}, ${LOCAL_IMAGES.gate}`);
  const [crashed, resumed] = run.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(crashed).toMatchObject({ outcome: "crashed", preserved: true });
  expect(resumed).toMatchObject({ identity: crashed?.identity, sessionId: crashed?.sessionId, outcome: "success" });
  expect(labelled()).toEqual({ containers: [], networks: [] });
});
