/**
 * `node runner` as a person meets it, through `main()` with a recorded io: version,
 * per-command help, `list` and `resume` without an engine, the dry run in the
 * manifest's units, near-miss flags, progress of image builds and pulls on stderr,
 * and no colour codes anywhere. None of it needs a Docker engine.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ALLOWED, type CommandName, parseCommand } from "../../src/cli/args.js";
import { COMMAND_HELP } from "../../src/cli/help.js";
import type { Metadata } from "../../src/state/metadata.js";
import { StateStore } from "../../src/state/store.js";
import { NO_ENGINE, fakeDocker, runCli, tempDir } from "../support/cli-io.js";

const PACKAGE = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {
  name: string;
  version: string;
};
const COMMANDS = Object.keys(ALLOWED) as CommandName[];

function manifestIn(dir: string, bottle: Record<string, unknown>): string {
  const path = join(dir, "claude-bottle.json");
  writeFileSync(
    path,
    JSON.stringify({ bottles: { b: bottle }, agents: { fixer: { bottle: "b", prompt: "fix things" } } }),
  );
  return path;
}

async function savedState(home: string, identity: string, sessionId: string | null): Promise<void> {
  const state = new StateStore(home);
  await state.ensure(identity);
  const metadata: Metadata = {
    version: 1,
    identity,
    agent: "claude",
    manifestPath: "(embedded default)",
    workspace: "/tmp",
    sessionId,
    outcome: "crashed",
    exitCode: 137,
    startedAt: "2026-11-01T10:00:00.000Z",
    endedAt: "2026-11-01T10:05:00.000Z",
    launches: 1,
    numTurns: 3,
    costUsd: null,
    image: null,
    origin: null,
    history: [],
  };
  await state.writeMetadata(metadata);
}

/** A shell-like split of an example line, without `node runner` and leading VAR=value words. */
function exampleArgv(example: string): string[] {
  const words = [...example.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? (m[2] as string));
  while (words[0] && /^[A-Z_]+=/.test(words[0])) words.shift();
  expect(words.slice(0, 2)).toEqual(["node", "runner"]);
  return words.slice(2);
}

describe("--version", () => {
  test.each([["--version"], ["-V"]])(
    "%s prints the name and version from package.json and touches no engine",
    async (flag) => {
      const run = await runCli([flag]);
      expect(run).toMatchObject({
        code: 0,
        stdout: `${PACKAGE.name} ${PACKAGE.version}\n`,
        stderr: "",
        engineAsked: 0,
      });
    },
  );
});

describe("help for each command", () => {
  test.each(COMMANDS)(
    "%s: `<command> --help`, `<command> -h` and `help <command>` print its usage, flags and an example",
    async (command) => {
      const overview = await runCli(["help"]);
      const runs = await Promise.all([runCli([command, "--help"]), runCli([command, "-h"]), runCli(["help", command])]);
      for (const run of runs) {
        expect(run).toMatchObject({ code: 0, stderr: "", engineAsked: 0 });
        expect(run.stdout).toBe(runs[0]?.stdout);
      }
      const text = runs[0]?.stdout ?? "";
      expect(text).not.toBe(overview.stdout);
      expect(text).toMatch(new RegExp(`^usage: node runner ${command}\\b`));
      expect(text).toMatch(/\nexample:\n {2}.*node runner /);
      for (const flag of ALLOWED[command]) expect(text).toContain(`--${flag}`);
    },
  );

  test.each(COMMANDS)("%s: the example in its help is a command line the runner accepts", (command) => {
    const parsed = parseCommand(exampleArgv(COMMAND_HELP[command].example));
    expect(parsed.command).toBe(command);
  });

  test("the help names only flags the command takes", () => {
    for (const command of COMMANDS) {
      const named = COMMAND_HELP[command].flags.map(([flag]) => flag.split(" ")[0]?.replace(/^--/, ""));
      expect(named.sort(), command).toEqual([...ALLOWED[command]].sort());
    }
  });

  test("asking for help wins over a mistake elsewhere on the line", async () => {
    const run = await runCli(["start", "fixer", "--promt", "x", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: node runner start/);
  });

  test("the overview lists every command, --version and how to get a command's help", async () => {
    for (const argv of [[], ["help"], ["--help"], ["-h"]]) {
      const run = await runCli(argv);
      expect(run.code).toBe(0);
      for (const command of COMMANDS) expect(run.stdout).toMatch(new RegExp(`^ {2}${command}\\b`, "m"));
      expect(run.stdout).toContain("-V, --version");
      expect(run.stdout).toContain("node runner help <command>");
    }
  });

  test("help for a command that does not exist: exit 2, the nearest command suggested", async () => {
    const run = await runCli(["help", "strat"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('help: "strat" is not a command; did you mean start?');
  });
});

describe("list", () => {
  test("with no engine it says it could not look, still shows the saved states, and exits 1", async () => {
    const home = tempDir("cli-home-");
    await savedState(home, "claude-abcde", "5f0c1d2e-0000-4000-8000-000000000001");
    const run = await runCli(["list"], { env: { CLAUDE_BOTTLE_HOME: home } });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("running: unknown (could not reach the Docker engine)\n");
    expect(run.stdout).not.toContain("running: none");
    expect(run.stdout).toMatch(/ {2}claude-abcde {2}claude {2}crashed/);
    expect(run.stderr).toContain(`could not list running bottles: ${NO_ENGINE}`);
  });

  test("--format json with no engine: running is null (not an empty list), exit 1", async () => {
    const run = await runCli(["list", "--format", "json"]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toEqual({ running: null, states: [] });
  });

  test("with an engine that has no bottles: running: none, exit 0", async () => {
    const docker = fakeDocker({ listContainers: async () => [], listNetworks: async () => [] });
    const run = await runCli(["list"], { docker });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^running: none\n/);
  });
});

describe("resume reads the state before it asks for the engine", () => {
  test.each([[[]], [["--dry-run"]]])(
    "an identity with no state: exit 2, 'no saved state', the engine never asked (%j)",
    async (extra) => {
      const run = await runCli(["resume", "claude-zzzzz", ...extra]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(
        /identity: "claude-zzzzz" has no saved state in .*; check the identity with `node runner list`/,
      );
      expect(run.stderr).not.toContain("Docker engine");
      expect(run.engineAsked).toBe(0);
    },
  );

  test("a state with no claude session: exit 2, saying so, the engine never asked", async () => {
    const home = tempDir("cli-home-");
    await savedState(home, "claude-nosess", null);
    const run = await runCli(["resume", "claude-nosess"], { env: { CLAUDE_BOTTLE_HOME: home } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("has state but no claude session was ever recorded in it");
    expect(run.engineAsked).toBe(0);
  });

  test("a state that can be resumed, with no engine: now the engine is what is missing (exit 1)", async () => {
    const home = tempDir("cli-home-");
    await savedState(home, "claude-abcde", "5f0c1d2e-0000-4000-8000-000000000001");
    const run = await runCli(["resume", "claude-abcde"], { env: { CLAUDE_BOTTLE_HOME: home } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(NO_ENGINE);
  });
});

describe("--dry-run speaks the manifest's units", () => {
  test("the embedded default: 4g, 30m, 30s, and the bundled Dockerfile with its base in words", async () => {
    const run = await runCli(["start", "claude", "--prompt", "x", "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("  limits:    memory 4g, 2 cpus, 512 pids, timeout 30m, state 2g\n");
    expect(run.stdout).toContain("  snapshots: every 30s and after each turn\n");
    expect(run.stdout).toMatch(
      / {2}image: {5}build from bundled Dockerfile \(base node:24-bookworm-slim\) as claude-bottle-agent:[0-9a-f]+ \(reused when already built\)\n/,
    );
    expect(run.stdout).not.toMatch(/bytes|4294967296|1800s|[{}]/);
    expect(run.stderr).toContain("no Docker engine answered; the plan assumes the engine's default runtime");
  });

  test("a manifest's own limits and Dockerfile come back as they were written", async () => {
    const dir = tempDir("cli-manifest-");
    writeFileSync(join(dir, "agent.Dockerfile"), "FROM base\n");
    const manifest = manifestIn(dir, {
      dockerfile: "agent.Dockerfile",
      buildArgs: { TOOL: "jq" },
      limits: { memory: "1536m", timeout: "1h30m", cpus: 0.5 },
    });
    const run = await runCli([
      "start",
      "fixer",
      "--manifest",
      manifest,
      "--prompt",
      "x",
      "--dry-run",
      "--snapshot-interval",
      "1m30s",
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("memory 1536m, 0.5 cpus, 512 pids, timeout 1h30m");
    expect(run.stdout).toContain("snapshots: every 1m30s");
    expect(run.stdout).toContain(
      `image:     build from ${join(dir, "agent.Dockerfile")}, build args TOOL=jq as claude-bottle-agent:fixer-`,
    );
  });

  test("a prebuilt image is named as such", async () => {
    const manifest = manifestIn(tempDir("cli-manifest-"), {
      image: "my/agent:1",
      limits: { memory: "512m", timeout: "90s" },
    });
    const run = await runCli(["start", "fixer", "--manifest", manifest, "--prompt", "x", "--dry-run"]);
    expect(run.stdout).toContain("image:     my/agent:1 (prebuilt; pulled when the engine lacks it)");
    expect(run.stdout).toContain("memory 512m, 2 cpus, 512 pids, timeout 1m30s");
  });

  test("--format json keeps base units for scripts", async () => {
    const run = await runCli(["start", "claude", "--prompt", "x", "--dry-run", "--format", "json"]);
    const plan = JSON.parse(run.stdout) as { agentContainer: { memoryBytes: number }; timeoutMs: number };
    expect(plan.agentContainer.memoryBytes).toBe(4 * 1024 ** 3);
    expect(plan.timeoutMs).toBe(30 * 60_000);
  });
});

describe("a near-miss flag or command suggests the one meant", () => {
  test.each([
    [["start", "claude", "-p", "fix it"], '-p: "-p" is not understood by `start`; did you mean --prompt?'],
    [["start", "claude", "--promt", "fix it"], "did you mean --prompt?"],
    [["resume", "claude-abcde", "--dryrun"], "did you mean --dry-run?"],
    [["list", "--fromat", "json"], "did you mean --format?"],
    [["lsit"], 'command: "lsit" is not a command; did you mean list?'],
  ])("%j", async (argv, message) => {
    const run = await runCli(argv);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.engineAsked).toBe(0);
  });
});

describe("long work shows progress on stderr", () => {
  // The default base and gate images are there; the agent's image is what gets built or pulled.
  const engine = {
    runtimes: async () => ["runc"],
    listContainers: async () => [],
    listNetworks: async () => [],
    imageExists: async (ref: string) => ref.startsWith("node:"),
  };

  test("an image build prints one compact line per Dockerfile step, not the build's chatter", async () => {
    const docker = fakeDocker({
      ...engine,
      buildImage: async (_request, onLog) => {
        for (const line of [
          "Step 1/3 : ARG BASE_IMAGE=node:24",
          "Step 2/3 : FROM ${BASE_IMAGE}",
          " ---> 1a2b3c",
          "Step 3/3 : RUN npm install --global x",
          " ---> Running in 9f8e",
          "added 1 package in 40s",
        ])
          onLog(line);
        throw new Error("The command '/bin/sh -c npm install --global x' returned a non-zero code: 1");
      },
    });
    const run = await runCli(["start", "claude", "--prompt", "x"], { docker });
    expect(run.code).toBe(1);
    const lines = run.stderr.split("\n");
    const building = lines.findIndex((l) =>
      /building agent image claude-bottle-agent:\S+ from the bundled Dockerfile/.test(l),
    );
    expect(building).toBeGreaterThanOrEqual(0);
    expect(lines.slice(building + 1, building + 4)).toEqual([
      "  step 1/3 ARG BASE_IMAGE=node:24",
      "  step 2/3 FROM ${BASE_IMAGE}",
      "  step 3/3 RUN npm install --global x",
    ]);
    expect(run.stdout).toBe("");
  });

  test("a pull reports its progress lines under the pulling line", async () => {
    const docker = fakeDocker({
      ...engine,
      pullImage: async (ref, onProgress) => {
        onProgress?.(`pulling ${ref}: 1/2 layers, 10m of 40m`);
        throw new Error("pull access denied");
      },
    });
    const manifest = manifestIn(tempDir("cli-manifest-"), { image: "my/agent:1" });
    const run = await runCli(["start", "fixer", "--manifest", manifest, "--prompt", "x"], { docker });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/pulling my\/agent:1\n {2}pulling my\/agent:1: 1\/2 layers, 10m of 40m\n/);
  });
});

test("no colour codes in anything the runner prints, even when the environment asks for colour", async () => {
  const env = { FORCE_COLOR: "1", TERM: "xterm-256color", CLICOLOR_FORCE: "1" };
  const runs = await Promise.all([
    runCli(["help"], { env }),
    runCli(["start", "--help"], { env }),
    runCli(["start", "claude", "--prompt", "x", "--dry-run"], { env }),
    runCli(["list"], { env }),
    runCli(["start", "claude", "-p", "x"], { env }),
  ]);
  for (const run of runs) expect(run.stdout + run.stderr).not.toMatch(/\u001b/);
});
