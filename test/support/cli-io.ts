/**
 * `node runner` in-process: `main()` with an io that records what it printed, a state
 * home of its own, and a Docker engine that is either absent (the factory throws what
 * the real one says) or a stand-in answering only the calls a test expects.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliIo, main } from "../../src/cli/main.js";
import type { DockerClient } from "../../src/docker/client.js";

export const NO_ENGINE =
  "cannot reach the Docker engine (connect ENOENT /var/run/docker.sock); start dockerd or set DOCKER_HOST";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** How many times the runner asked for the engine. */
  engineAsked: number;
}

/** A Docker client with only `methods`; any other call fails the test by name. */
export function fakeDocker(methods: Partial<DockerClient>): DockerClient {
  return new Proxy(methods as DockerClient, {
    get(target, name: string) {
      if (name in target) return target[name as keyof DockerClient];
      if (name === "then") return undefined;
      return () => Promise.reject(new Error(`unexpected Docker call: ${name}`));
    },
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function runCli(
  argv: string[],
  options: { docker?: DockerClient; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliRun> {
  const run: CliRun = { code: -1, stdout: "", stderr: "", engineAsked: 0 };
  const io: CliIo = {
    env: { CLAUDE_BOTTLE_HOME: tempDir("cli-home-"), ...options.env },
    cwd: options.cwd ?? tempDir("cli-cwd-"),
    stdout: (text) => {
      run.stdout += text;
    },
    stderr: (text) => {
      run.stderr += text;
    },
    docker: async () => {
      run.engineAsked++;
      if (!options.docker) throw new Error(NO_ENGINE);
      return options.docker;
    },
    signal: new AbortController().signal,
  };
  run.code = await main(argv, io);
  return run;
}
