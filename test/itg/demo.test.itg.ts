/**
 * `node runner demo`, the first of README's two set-up commands: crash → preserve →
 * resume on the embedded default agent with the real claude CLI and no API key.
 * Here the images come from the local test images instead of a registry.
 */
import { expect, test } from "vitest";
import { AGENT_BASE_IMAGE, labelled, runRunner, sandbox } from "../support/runner.js";

test("the demo crashes claude, preserves the bottle and resumes the same session", async () => {
  const box = sandbox({ CLAUDE_BOTTLE_BASE_IMAGE: AGENT_BASE_IMAGE });
  const run = await runRunner(["demo", "--format", "json"], box);
  expect(run.code, run.stderr).toBe(0);
  const [crashed, resumed] = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(crashed).toMatchObject({ outcome: "crashed", exitCode: 137, preserved: true });
  expect(resumed).toMatchObject({ identity: crashed?.identity, sessionId: crashed?.sessionId, outcome: "success", preserved: false });
  expect(run.stderr).toMatch(/demo: the resumed session carried \d+ earlier messages/);
  expect(labelled()).toEqual({ containers: [], networks: [] });
});
