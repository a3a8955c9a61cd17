import { describe, expect, test } from "vitest";
import type { DockerClient, RunningExec } from "../../src/docker/client.js";
import { TERM_EXECS_SCRIPT, stopClaude } from "../../src/bottle/launch/stop.js";

const GRACE = 300;

/** An engine that records what the stop asked of it; `exec` behaves as `execResult` says. */
function engine(options: { execResult?: Promise<number>; running?: () => RunningExec[] } = {}) {
  const calls: string[] = [];
  const docker = {
    exec: (_container: string, request: { cmd: string[] }) => {
      calls.push(`exec ${request.cmd.slice(0, 2).join(" ")}`);
      return options.execResult ?? Promise.resolve(0);
    },
    killContainer: async (container: string) => {
      calls.push(`kill ${container}`);
    },
    runningExecs: async () => options.running?.() ?? [],
  } as unknown as DockerClient;
  return { docker, calls };
}

const warnings: string[] = [];
const log = { warn: (line: string) => warnings.push(line) };
const never = new Promise<void>(() => {});
const claudeExec: RunningExec = { id: "e1", command: ["claude", "-p", "task"] };
const stopScript: RunningExec = { id: "e2", command: ["sh", "-c", TERM_EXECS_SCRIPT] };

describe("stopping claude", () => {
  test("claude ends within the grace after SIGTERM: the container is left alone", async () => {
    const { docker, calls } = engine();
    const started = Date.now();
    const result = await stopClaude(docker, "agent", log, new Promise((r) => setTimeout(r, 50)), GRACE);
    expect(result).toBe("ended");
    expect(Date.now() - started).toBeLessThan(GRACE);
    expect(calls).toEqual(["exec sh -c"]);
  });

  test.each([
    ["claude ignores SIGTERM", () => Promise.resolve(0)],
    [
      "the signal's exec cannot start (a full pid table)",
      () => Promise.reject(new Error("OCI runtime exec failed: resource temporarily unavailable")),
    ],
    ["the signal's exec never returns", () => new Promise<number>(() => {})],
  ])("%s: the engine kills the container once the grace is over", async (_name, execResult) => {
    const { docker, calls } = engine({ execResult: execResult() });
    const started = Date.now();
    const result = await stopClaude(docker, "agent", log, never, GRACE);
    expect(result).toBe("killed");
    expect(Date.now() - started).toBeGreaterThanOrEqual(GRACE - 5);
    expect(Date.now() - started).toBeLessThan(GRACE + 200);
    expect(calls.at(-1)).toBe("kill agent");
    expect(warnings.at(-1)).toBe("claude did not stop within 0.3s of SIGTERM: the agent container was killed");
  });

  test("without an exec of its own (a rescue), the engine's running execs say when claude has ended", async () => {
    let polls = 0;
    const { docker, calls } = engine({ running: () => (++polls < 3 ? [claudeExec, stopScript] : [stopScript]) });
    expect(await stopClaude(docker, "agent", log, undefined, 5_000)).toBe("ended");
    expect(polls).toBe(3);
    expect(calls).toEqual(["exec sh -c"]);
  });

  test("a rescued claude that keeps running is killed after the grace", async () => {
    const { docker, calls } = engine({ running: () => [claudeExec] });
    expect(await stopClaude(docker, "agent", log, undefined, GRACE)).toBe("killed");
    expect(calls).toEqual(["exec sh -c", "kill agent"]);
  });
});

test("an exec that cannot start is tried again within the grace", async () => {
  let tries = 0;
  const docker = {
    exec: async () =>
      ++tries < 3 ? Promise.reject(new Error("OCI runtime exec failed: resource temporarily unavailable")) : 0,
    killContainer: async () => {},
    runningExecs: async () => [],
  } as unknown as DockerClient;
  let stopped: () => void = () => {};
  const ended = new Promise<void>((resolve) => (stopped = resolve));
  const stopping = stopClaude(docker, "agent", log, ended, 5_000);
  await new Promise((resolve) => setTimeout(resolve, 700));
  expect(tries).toBe(3);
  stopped();
  expect(await stopping).toBe("ended");
});

describe("the SIGTERM script", () => {
  test("uses shell builtins only, so it runs at the pid limit", () => {
    // No command substitution, pipe, subshell or external program: each of those forks.
    expect(TERM_EXECS_SCRIPT).not.toMatch(/[(`]|(?<!\|)\|(?!\|)|\b(cat|ps|pgrep|awk|grep|sed)\b/);
    expect(TERM_EXECS_SCRIPT).toContain("PPid:");
    expect(TERM_EXECS_SCRIPT).not.toContain("/tmp/");
  });
});
