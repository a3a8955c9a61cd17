import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { writeSettledSummary, writeSummary } from "../../src/action/summary.js";
import type { Toolkit } from "../../src/action/toolkit.js";
import type { RunResult } from "../../src/bottle/launch/types.js";
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
  identity: "fixer-abc12",
  outcome: "crashed",
  exitCode: 137,
  sessionId: "s-1",
  stateDir: "/s",
  preserved: true,
  numTurns: 4,
  costUsd: 0.0123,
  egress: { reached: { "registry.npmjs.org:443": 2 }, refused: { "evil.test:443": 1 } },
  capabilityBlocks: [],
  buildLog: null,
  timings: {},
  history: [
    {
      launch: 1,
      origin: { run: "9", attempt: 1 },
      outcome: "crashed",
      startedAt: "2026-11-22T10:00:00.000Z",
      endedAt: "2026-11-22T10:01:00.000Z",
      numTurns: 2,
      costUsd: 0.01,
    },
    {
      launch: 2,
      origin: { run: "9", attempt: 2 },
      outcome: "crashed",
      startedAt: "2026-11-22T10:02:00.000Z",
      endedAt: "2026-11-22T10:03:00.000Z",
      numTurns: 4,
      costUsd: 0.0123,
    },
  ],
};

function plan(perBottle: string | null) {
  return resolvePlan({
    loaded: {
      manifest: parseManifest(
        JSON.stringify({ bottles: { b: { image: "node:24" } }, agents: { fixer: { bottle: "b" } } }),
        "/m.json",
      ),
      path: "/m.json",
      dir: "/",
      embedded: false,
    },
    agent: "fixer",
    mode: "resume",
    identity: "fixer-abc12",
    prompt: "go on",
    resumeSession: "s-1",
    workspace: "/w",
    perBottleDockerfile: perBottle,
    env: {},
    runtimes: [],
    runnerId: "h/1",
  });
}

test("the job summary: outcome, identity, session, turns, cost, egress and the resume snippet", async () => {
  const { core, written } = toolkit();
  await writeSummary(
    core,
    result,
    { cacheKey: "bottle-state-fixer-abc12-9-1", artifactId: null },
    plan(null),
    "octo/bottle-action@v1.2.0",
  );
  const text = written.join("");
  for (const part of [
    "- uses: octo/bottle-action@v1.2.0",
    "### claude-bottle: crashed",
    "`fixer-abc12`",
    "`s-1`",
    "| turns | 4 |",
    "$0.0123",
    "bottle-state-fixer-abc12-9-1",
    "registry.npmjs.org:443 (2)",
    "evil.test:443 (1)",
    "mode: resume",
    "identity: fixer-abc12",
  ]) {
    expect(text).toContain(part);
  }
  expect(text).not.toContain("```diff");
  // The bottle's whole life: every launch the state knows.
  expect(text).toContain("| 1 | run 9 attempt 1 | `crashed` | 2 | $0.0100 |");
  expect(text).toContain("| 2 | run 9 attempt 2 | `crashed` | 4 | $0.0123 |");
});

test("a bottle on its own Dockerfile shows the diff against what it replaced", async () => {
  const { core, written } = toolkit();
  await writeSummary(
    core,
    result,
    { cacheKey: null, artifactId: null },
    plan("FROM node:24\nRUN apt-get install -y golang\n"),
    "./",
  );
  const text = written.join("");
  expect(text).toContain("```diff");
  expect(text).toContain("+RUN apt-get install -y golang");
});

test("a capability-block: the agent's reason, the diff of the old against the proposed Dockerfile, and the approval snippet", async () => {
  const { core, written } = toolkit();
  const blocked: RunResult = {
    ...result,
    outcome: "capability-block",
    capabilityBlocks: [
      {
        version: 1,
        reason: "I need the Go toolchain\nto build the CLI.",
        at: "2026-11-22T10:00:00.000Z",
        policy: "preserve",
        before: { source: "manifest", text: "FROM node:24\nUSER node\n" },
        proposed: "FROM node:24\nRUN apt-get install -y golang\nUSER node\n",
        sha256: "ab",
      },
    ],
  };
  await writeSummary(core, blocked, { cacheKey: "k", artifactId: 7 }, plan(null), "./");
  const text = written.join("");
  expect(text).toContain("### claude-bottle: capability-block");
  expect(text).toContain("preserved for a resume on the new image");
  expect(text).toContain("> I need the Go toolchain to build the CLI.");
  expect(text).toContain("--- Dockerfile (manifest)");
  expect(text).toContain("+RUN apt-get install -y golang");
  expect(text).toContain("Approve the new image by resuming this bottle");
  expect(text).toContain("identity: fixer-abc12");
});

test("a failed per-bottle build shows the end of its log", async () => {
  const { core, written } = toolkit();
  const dir = mkdtempSync(join(tmpdir(), "summary-"));
  const log = join(dir, "build.log");
  writeFileSync(
    log,
    `${Array.from({ length: 50 }, (_, i) => `step ${i}`).join("\n")}\nThe command '/bin/sh -c make' returned a non-zero code: 2\n`,
  );
  await writeSummary(
    core,
    { ...result, outcome: "build-failed", exitCode: null, buildLog: log },
    { cacheKey: null, artifactId: null },
    plan(null),
    "./",
  );
  const text = written.join("");
  expect(text).toContain("The per-bottle Dockerfile did not build");
  expect(text).toContain("returned a non-zero code: 2");
  expect(text).toContain("step 49");
  expect(text).not.toContain("step 5\n");
});

test("a resume job that found the bottle finished says so, with the bottle's launches", async () => {
  const { core, written } = toolkit();
  const metadata = {
    version: 1 as const,
    identity: "fixer-abc12",
    agent: "fixer",
    manifestPath: "/m.json",
    workspace: "/w",
    sessionId: "s-1",
    outcome: "success" as const,
    exitCode: 0,
    startedAt: "2026-11-22T10:02:00.000Z",
    endedAt: "2026-11-22T10:03:00.000Z",
    launches: 2,
    numTurns: 3,
    costUsd: 0.02,
    image: null,
    origin: { run: "9", attempt: 2 },
    history: [
      {
        launch: 1,
        origin: { run: "9", attempt: 1 },
        outcome: "crashed" as const,
        startedAt: "2026-11-22T10:00:00.000Z",
        endedAt: null,
        numTurns: 1,
        costUsd: null,
      },
    ],
  };
  await writeSettledSummary(
    core,
    metadata,
    { outcome: "success", origin: { run: "9", attempt: 2 }, at: "2026-11-22T10:03:01.000Z" },
    "./",
  );
  const text = written.join("");
  expect(text).toContain("### claude-bottle: already finished (success)");
  expect(text).toContain("finished in run 9 attempt 2; there is nothing to resume");
  expect(text).toContain("| 1 | run 9 attempt 1 | `crashed` | 1 | - |");
  expect(text).toContain("| 2 | run 9 attempt 2 | `success` | 3 | $0.0200 |");
});
