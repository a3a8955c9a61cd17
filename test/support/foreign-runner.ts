/**
 * A runner on "another host": the built `node runner` in a container of its own that
 * shares this machine's Docker engine through the mounted socket, as a Gitea or
 * Forgejo job container (or any runner-as-a-container setup) does. It has its own
 * host name and its own pid namespace, so nothing about its process can be checked
 * from here; its sandbox is bind-mounted at the same path so the test can read it.
 *
 * Every such container carries the `bottle-test.foreign-runner` label, and `stop`
 * removes it.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { GATE_IMAGE, ROOT, type Sandbox, waitFor } from "./runner.js";

export const FOREIGN_RUNNER_LABEL = "bottle-test.foreign-runner";

export interface ForeignRunner {
  container: string;
  /** Waits until the runner's agent container runs, and returns the bottle's identity. */
  bottle(agent: string, timeoutMs?: number): Promise<string>;
  running(): boolean;
  /** The runner's exit code once its container has stopped, or null while it runs. */
  exitCode(): number | null;
  logs(): string;
  /** Kills the runner's container: the host is gone, its bottle runs on. */
  kill(): void;
  stop(): void;
}

/** The identity of the running bottle of `agent` (names are unique per test), or "" while there is none. */
export function runningAgentIdentity(agent: string): string {
  const filters = [`label=claude-bottle.agent=${agent}`, "label=claude-bottle.role=agent", "status=running"];
  const format = '{{.Label "claude-bottle.identity"}}';
  return docker(["ps", ...filters.flatMap((f) => ["--filter", f]), "--format", format]).trim();
}

/** The running gate container of bottle `identity`, or "". */
export function runningGate(identity: string): string {
  const filters = [`label=claude-bottle.identity=${identity}`, "label=claude-bottle.role=gate", "status=running"];
  return docker(["ps", "-q", ...filters.flatMap((f) => ["--filter", f])]).trim();
}

function docker(args: string[]): string {
  return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export function startForeignRunner(box: Sandbox, args: string[]): ForeignRunner {
  const container = `bottle-test-foreign-runner-${randomBytes(3).toString("hex")}`;
  const env = ["HOME", "CLAUDE_BOTTLE_HOME", "CLAUDE_BOTTLE_GATE_IMAGE"].flatMap((name) =>
    box.env[name] ? ["-e", `${name}=${box.env[name]}`] : [],
  );
  docker([
    "run",
    "-d",
    "--name",
    container,
    "--label",
    `${FOREIGN_RUNNER_LABEL}=1`,
    "--network",
    "none",
    "-v",
    "/var/run/docker.sock:/var/run/docker.sock",
    "-v",
    `${ROOT}:${ROOT}:ro`,
    "-v",
    `${box.dir}:${box.dir}`,
    "-w",
    box.workspace,
    ...env,
    GATE_IMAGE,
    "node",
    `${ROOT}/runner`,
    ...args,
  ]);
  const state = (): { running: boolean; code: number } => {
    const [running, code] = docker(["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", container])
      .trim()
      .split(" ");
    return { running: running === "true", code: Number(code) };
  };
  return {
    container,
    async bottle(agent, timeoutMs = 90_000) {
      let identity = "";
      await waitFor(
        () => {
          if (!state().running) return true;
          identity = runningAgentIdentity(agent);
          // The agent starts alongside the gate: the bottle is up once its gate, which holds the lease, runs too.
          return identity !== "" && runningGate(identity) !== "";
        },
        timeoutMs,
        `the bottle of the runner in ${container}`,
      );
      if (identity === "") throw new Error(`the runner in ${container} ended before its bottle ran:\n${this.logs()}`);
      return identity;
    },
    running: () => state().running,
    exitCode: () => {
      const { running, code } = state();
      return running ? null : code;
    },
    logs: () => {
      const out = spawnSync("docker", ["logs", container], { encoding: "utf8" });
      return `${out.stdout}${out.stderr}`;
    },
    kill: () => void docker(["kill", container]),
    stop: () => {
      try {
        docker(["rm", "-f", container]);
      } catch {
        // Already gone.
      }
    },
  };
}
