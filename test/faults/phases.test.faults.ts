/**
 * SIGKILL the runner at each phase of a launch, then run `node runner cleanup` the
 * way a person (or the next job) would. For every phase: no container or network of
 * the bottle is left; a bottle whose claude had started is preserved, complete and
 * resumable, and the resumed session sees every turn up to the last snapshot; a
 * bottle whose claude never started leaves no state. The runner is held at a phase
 * with CLAUDE_BOTTLE_PAUSE_AT and killed there; mid-session it is killed while claude
 * works, after its second turn is on disk.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  FAKE_AGENT_IMAGE,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  runRunner,
  sandbox,
  startRunner,
  waitFor,
  writeManifest,
} from "../support/runner.js";
import { printTableAfterAll, record } from "./report.js";

const KEY = `sk-ant-faults-${Math.random().toString(36).slice(2)}`;

function bottle(box: Sandbox): string {
  return writeManifest(box.dir, {
    bottles: {
      fake: {
        image: FAKE_AGENT_IMAGE,
        egress: {
          routes: [
            {
              name: "anthropic",
              upstream: "http://127.0.0.1:9",
              inject: { header: "x-api-key", fromEnv: "TEST_ANTHROPIC_KEY" },
              role: "anthropic",
            },
          ],
        },
      },
    },
    agents: { worker: { bottle: "fake" } },
  });
}

/** Two turns on disk, then claude keeps working. */
const LONG = fake({
  steps: [
    { say: "turn one" },
    { write: { path: "progress.txt", content: "half" } },
    { say: "turn two" },
    { sleep: 120_000 },
  ],
});
/** Two turns, then claude dies: the launch reaches its teardown. */
const SHORT = fake({
  steps: [{ say: "turn one" }, { write: { path: "progress.txt", content: "half" } }, { say: "turn two" }],
  end: "crash",
});
/** The resumed session writes down which turns it can see in its transcript. */
const RESUME = fake({
  steps: [{ run: "grep -ho 'turn [a-z]*' ~/.claude/projects/*/*.jsonl | sort -u | tr '\\n' ' ' > seen.txt" }],
});

interface Case {
  phase: string;
  prompt: string;
  /** Whether claude had started, so the state must be kept. */
  keeps: boolean;
  /** Turns the resumed session must see. */
  turns?: string[];
}

const CASES: Case[] = [
  { phase: "plan", prompt: LONG, keeps: false },
  { phase: "image-build", prompt: LONG, keeps: false },
  { phase: "networks", prompt: LONG, keeps: false },
  { phase: "gate-start", prompt: LONG, keeps: false },
  { phase: "agent-start", prompt: LONG, keeps: false },
  { phase: "copy-in", prompt: LONG, keeps: false },
  { phase: "session", prompt: LONG, keeps: false },
  { phase: "snapshot", prompt: LONG, keeps: true, turns: ["turn one"] },
  { phase: "mid-session", prompt: LONG, keeps: true, turns: ["turn one", "turn two"] },
  { phase: "teardown", prompt: SHORT, keeps: true, turns: ["turn one", "turn two"] },
];

/** The sandbox's one bottle: its state directory, else its labelled containers. */
function identityIn(stateRoot: string): string | null {
  const states = existsSync(stateRoot) ? readdirSync(stateRoot).filter((n) => !n.startsWith(".")) : [];
  if (states[0]) return states[0];
  const container = labelled().containers.find((c) => c.startsWith("claude-bottle-worker-"));
  return container ? (/^claude-bottle-(worker-[a-z0-9]{5})-/.exec(container)?.[1] ?? null) : null;
}

/** Every container and network of a `worker` bottle (this suite's agent), whatever its identity. */
function workerResources(): { containers: string[]; networks: string[] } {
  const all = labelled();
  const mine = (name: string) => name.startsWith("claude-bottle-worker-");
  return { containers: all.containers.filter(mine), networks: all.networks.filter(mine) };
}

printTableAfterAll("SIGKILL of `node runner start` at each phase, then `node runner cleanup`");

describe("the runner killed at each phase", () => {
  test.each(CASES)("$phase", async ({ phase, prompt, keeps, turns }) => {
    const box = sandbox({
      TEST_ANTHROPIC_KEY: KEY,
      ...(phase === "mid-session" ? {} : { CLAUDE_BOTTLE_PAUSE_AT: phase }),
    });
    const manifest = bottle(box);
    const run = startRunner(
      ["start", "worker", "--manifest", manifest, "--format", "json", "--snapshot-interval", "1s", "--prompt", prompt],
      box,
    );
    let stderr = "";
    run.child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const stateRoot = join(box.home, "state");
    if (phase === "mid-session") {
      await waitFor(
        () => {
          const id = identityIn(stateRoot);
          if (!id) return false;
          const dir = join(stateRoot, id, "transcript", ".claude", "projects");
          if (!existsSync(dir)) return false;
          return readdirSync(dir, { recursive: true, withFileTypes: true }).some(
            (e) => e.isFile() && readFileSync(join(e.parentPath, e.name), "utf8").includes("turn two"),
          );
        },
        60_000,
        "the second turn on disk",
      );
    } else {
      await waitFor(() => stderr.includes(`paused at ${phase}`), 60_000, `the runner to reach ${phase}`);
    }
    const identity = identityIn(stateRoot);
    run.child.kill("SIGKILL");
    await run.done;
    // The next runners must not stop where this one was held.
    const after: Sandbox = { ...box, env: { ...box.env, CLAUDE_BOTTLE_PAUSE_AT: "" } };

    const cleanup = await runRunner(["cleanup"], after);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    // Nothing of this suite's bottles is left, whatever the phase.
    expect(workerResources()).toEqual({ containers: [], networks: [] });

    const states = existsSync(stateRoot) ? readdirSync(stateRoot).filter((n) => !n.startsWith(".")) : [];
    if (!keeps) {
      expect(states, "no session started, so no state is kept").toEqual([]);
      record(`SIGKILL at ${phase}`, "0 containers/networks; no state (claude had not started)", "pass");
      return;
    }
    expect(identity).not.toBeNull();
    const dir = join(stateRoot, identity as string);
    expect(existsSync(join(dir, ".preserve"))).toBe(true);
    const metadata = JSON.parse(readFileSync(join(dir, "metadata.json"), "utf8")) as Record<string, unknown>;
    expect(metadata).toMatchObject({ identity, outcome: "interrupted" });
    expect(String(metadata.sessionId)).toMatch(/^[0-9a-f-]{36}$/);
    // No half-made snapshot is left next to the kept one.
    expect(readdirSync(dir).filter((n) => /^\.(transcript|workspace)\.(next|prev)/.test(n))).toEqual([]);

    const resumed = await runRunner(["resume", identity as string, "--format", "json", "--prompt", RESUME], after);
    expect(jsonResult(resumed), resumed.stderr).toMatchObject({
      identity,
      outcome: "success",
      sessionId: metadata.sessionId,
    });
    const seen = readFileSync(join(box.workspace, "seen.txt"), "utf8");
    for (const turn of turns ?? []) expect(seen).toContain(turn);
    expect(labelled(identity as string)).toEqual({ containers: [], networks: [] });
    record(
      `SIGKILL at ${phase}`,
      `0 containers/networks; preserved as interrupted; resume sees ${(turns ?? []).join(", ")}`,
      "pass",
    );
  });
});
