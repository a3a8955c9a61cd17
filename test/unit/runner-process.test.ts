// When a runner is provably gone: its pid is judged only inside the same pid
// namespace of the same boot, and a reused pid is told apart by its start time.
import { spawnSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import {
  type PidProbe,
  type RunnerProcess,
  currentProcess,
  formatRunnerProcess,
  parseRunnerProcess,
  runnerState,
  startTicksOf,
} from "../../src/bottle/runner-process.js";

const SELF: RunnerProcess = {
  bootId: "98a2cb3f-0469-41a3-a659-3ec7bbaf30ba",
  pidNamespace: "pid:[4026531836]",
  pid: 100,
  startTicks: "5000",
};
const at = (changes: Partial<RunnerProcess>): RunnerProcess => ({ ...SELF, pid: 200, startTicks: "7000", ...changes });
const probe =
  (answer: ReturnType<PidProbe>): PidProbe =>
  () =>
    answer;

describe("a runner judged from this process", () => {
  test.each([
    ["same boot and namespace, the pid runs with the recorded start", at({}), probe({ startTicks: "7000" }), "running"],
    ["same boot and namespace, no such pid", at({}), probe("absent"), "gone"],
    ["same boot and namespace, the pid was reused by a later process", at({}), probe({ startTicks: "9999" }), "gone"],
    ["same boot and namespace, the pid exists but /proc hides it", at({}), probe("hidden"), "running"],
    [
      "another pid namespace (a runner in a container on this host)",
      at({ pidNamespace: "pid:[4026532410]" }),
      probe("absent"),
      "elsewhere",
    ],
    [
      "another boot (another host, even in its initial namespace)",
      at({ bootId: "0b1c2d3e-0000-4000-8000-000000000000" }),
      probe("absent"),
      "elsewhere",
    ],
    ["this very process", { ...SELF }, probe("absent"), "running"],
    [
      "this pid, another start: a runner before a restart of this namespace",
      { ...SELF, startTicks: "1" },
      probe("absent"),
      "gone",
    ],
  ])("%s -> %s", (_, recorded, pidProbe, expected) => {
    expect(runnerState(recorded, SELF, pidProbe)).toBe(expected);
  });

  test("no label (a runner of an earlier version), or no /proc here: nothing is provable", () => {
    expect(runnerState(null, SELF, probe("absent"))).toBe("elsewhere");
    expect(runnerState(at({}), null, probe("absent"))).toBe("elsewhere");
  });
});

describe("the runner-process label", () => {
  test("round-trips", () => {
    expect(parseRunnerProcess(formatRunnerProcess(SELF))).toEqual(SELF);
  });

  test.each([
    "",
    "vm/123",
    "x/pid:[1]/0/5",
    "boot/pid:[1]/12/",
    "boot/net:[1]/12/5",
    "boot/pid:[1]/12/5/extra",
    "a b/pid:[1]/2/3",
  ])("%j is not one", (text) => {
    expect(parseRunnerProcess(text)).toBeNull();
  });

  test("the start time is read past a command name with spaces and parentheses", () => {
    const rest = Array.from({ length: 50 }, (_, i) => String(i + 3)).join(" ");
    expect(startTicksOf(`42 (a) (b c) ${rest}`)).toBe("22");
    expect(startTicksOf("42 (short)")).toBeNull();
  });
});

describe("on this machine", () => {
  test("this process is running; a process that has exited is gone", () => {
    const self = currentProcess();
    expect(self).not.toBeNull();
    expect(runnerState(self, self)).toBe("running");
    const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    });
    const exited = { ...self!, pid: Number(child.stdout), startTicks: "1" };
    expect(runnerState(exited, self)).toBe("gone");
  });
});
