import { expect, test } from "vitest";
import { writeSummary } from "../../src/action/summary.js";
import type { Toolkit } from "../../src/action/toolkit.js";
import type { RunResult } from "../../src/bottle/lifecycle.js";
import { resolvePlan } from "../../src/bottle/plan.js";
import { parseManifest } from "../../src/manifest/load.js";

function toolkit(): { core: Toolkit; written: string[] } {
  const written: string[] = [];
  const core = {
    summary: { addRaw: (text: string) => ({ write: async () => written.push(text) }) },
    info: () => {},
  } as unknown as Toolkit;
  return { core, written };
}

const result: RunResult = {
  identity: "fixer-abc12", outcome: "crashed", exitCode: 137, sessionId: "s-1", stateDir: "/s", preserved: true,
  numTurns: 4, costUsd: 0.0123, egress: { reached: { "registry.npmjs.org:443": 2 }, refused: { "evil.test:443": 1 } },
};

function plan(perBottle: string | null) {
  return resolvePlan({
    loaded: { manifest: parseManifest(JSON.stringify({ bottles: { b: { image: "node:24" } }, agents: { fixer: { bottle: "b" } } }), "/m.json"), path: "/m.json", dir: "/", embedded: false },
    agent: "fixer", mode: "resume", identity: "fixer-abc12", prompt: "go on", resumeSession: "s-1", workspace: "/w",
    perBottleDockerfile: perBottle, env: {}, runtimes: [], runnerId: "h/1",
  });
}

test("the job summary: outcome, identity, session, turns, cost, egress and the resume snippet", async () => {
  const { core, written } = toolkit();
  await writeSummary(core, result, { cacheKey: "bottle-state-fixer-abc12-9-1", artifactId: null }, plan(null));
  const text = written.join("");
  for (const part of ["### claude-bottle: crashed", "`fixer-abc12`", "`s-1`", "| turns | 4 |", "$0.0123", "bottle-state-fixer-abc12-9-1", "registry.npmjs.org:443 (2)", "evil.test:443 (1)", "mode: resume", "identity: fixer-abc12"]) {
    expect(text).toContain(part);
  }
  expect(text).not.toContain("```diff");
});

test("a bottle on its own Dockerfile shows the diff against what it replaced", async () => {
  const { core, written } = toolkit();
  await writeSummary(core, result, { cacheKey: null, artifactId: null }, plan("FROM node:24\nRUN apt-get install -y golang\n"));
  const text = written.join("");
  expect(text).toContain("```diff");
  expect(text).toContain("+RUN apt-get install -y golang");
});
