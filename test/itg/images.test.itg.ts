/**
 * The test images themselves: what every other integration test assumes of them.
 * The gate image runs node as a numeric non-root user, the agent base runs the
 * real claude as user node, and the fake agent plays a scenario with the same
 * command line, transcript layout and exit codes as the real claude, including
 * a crash and a resume of the crashed session.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { AGENT_BASE_IMAGE, FAKE_AGENT_IMAGE, GATE_IMAGE, fake } from "../support/runner.js";

const BASE_IMAGE = "bottle-test/base:bookworm";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A throwaway container with no network: `docker run --rm` reports the command's own exit code. */
function dockerRun(image: string, options: string[], command: string[]): Run {
  const run = spawnSync(
    "docker",
    ["run", "--rm", "--network", "none", "--label", "bottle-test=1", ...options, image, ...command],
    {
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  if (run.error) throw run.error;
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const asAgent = ["--user", "node", "--workdir", "/home/node/workspace"];
const headless = ["--output-format", "stream-json", "--verbose", "--dangerously-skip-permissions"];

function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("test images", () => {
  test.each([BASE_IMAGE, GATE_IMAGE, AGENT_BASE_IMAGE, FAKE_AGENT_IMAGE])(
    "%s carries the bottle-test label",
    (image) => {
      const label = spawnSync(
        "docker",
        ["image", "inspect", "--format", '{{index .Config.Labels "bottle-test"}}', image],
        { encoding: "utf8" },
      );
      expect(label.stdout.trim(), label.stderr).toBe("1");
    },
  );

  test("the gate image runs Node 24 as a numeric non-root user", () => {
    const run = dockerRun(
      GATE_IMAGE,
      ["--user", "65534:65534"],
      ["node", "-e", "console.log(process.version, process.getuid())"],
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/^v24\.\d+\.\d+ 65534$/);
  });

  test("the agent base runs the real claude as user node, in a workspace node owns", () => {
    const run = dockerRun(AGENT_BASE_IMAGE, asAgent, [
      "sh",
      "-c",
      'echo "$(id -u):$(id -g) $HOME $(pwd) $(stat -c %U:%G /home/node/workspace)"; claude --version',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const [who, version] = run.stdout.trim().split("\n");
    expect(who).toBe("1000:1000 /home/node /home/node/workspace node:node");
    expect(version).toMatch(/^\d+\.\d+\.\d+ \(Claude Code\)$/);
  });

  test("the fake claude plays a scenario: files in the workspace, a command's output, a success result", () => {
    const prompt = fake({
      steps: [
        { say: "starting" },
        { write: { path: "out/note.txt", content: "from the fake\n" } },
        { run: "cat out/note.txt; id -un" },
        { say: "finished" },
      ],
      end: "success",
    });
    const run = dockerRun(FAKE_AGENT_IMAGE, asAgent, [
      "sh",
      "-c",
      'p=$1; shift; claude -p "$p" "$@"; ls ~/.claude/projects/-home-node-workspace',
      "sh",
      prompt,
      ...headless,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = events(run.stdout);
    const init = out[0];
    expect(init).toMatchObject({ type: "system", subtype: "init", cwd: "/home/node/workspace" });
    const sessionId = init?.session_id as string;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const toolResults = out.filter((e) => e.type === "user").map((e) => JSON.stringify(e));
    expect(toolResults.some((r) => r.includes("from the fake\\nnode"))).toBe(true);
    expect(out[out.length - 1]).toMatchObject({
      type: "result",
      subtype: "success",
      is_error: false,
      session_id: sessionId,
    });
    expect(run.stdout).toContain(`${sessionId}.jsonl`);
  });

  test("the fake claude crashes with 137, leaves its transcript, and resumes the same session", () => {
    const script = [
      'claude -p "$1" --output-format stream-json --verbose --dangerously-skip-permissions > crash.jsonl; echo "crash exit $?"',
      'sid=$(sed -n "1s/.*\\"session_id\\":\\"\\([^\\"]*\\)\\".*/\\1/p" crash.jsonl)',
      'claude -p "carry on" --resume "$sid" --output-format stream-json --verbose --dangerously-skip-permissions; echo "resume exit $?"',
      'claude -p "carry on" --resume 00000000-0000-0000-0000-000000000000 --output-format stream-json; echo "unknown exit $?"',
    ].join("\n");
    const run = dockerRun(FAKE_AGENT_IMAGE, asAgent, [
      "sh",
      "-c",
      script,
      "sh",
      fake({ steps: [{ say: "half way" }], end: "crash" }),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("crash exit 137");
    expect(run.stdout).toContain("resume exit 0");
    expect(run.stdout).toContain("unknown exit 1");
    expect(run.stderr).toContain("No conversation found with session ID: 00000000-0000-0000-0000-000000000000");
    const resumed = events(run.stdout);
    const sessionId = resumed[0]?.session_id as string;
    expect(JSON.stringify(resumed[1])).toMatch(
      new RegExp(`resumed session ${sessionId} with [1-9]\\d* earlier entries`),
    );
    expect(resumed.find((e) => e.type === "result" && e.is_error === false)).toMatchObject({
      subtype: "success",
      session_id: sessionId,
    });
  });
});
