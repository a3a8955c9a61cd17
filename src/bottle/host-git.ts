/**
 * The host's git, run by the runner on the user's own repository (and on scratch
 * repositories of its own). Used only when the host has a git program: every caller
 * has a way on without it.
 *
 * Variables that would point git at another repository are left out, no hook or
 * file-system monitor runs for what the runner does, and git never prompts.
 */
import { execFile } from "node:child_process";

export interface GitRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Settings for every command: the runner's own git work triggers nothing configured to run. */
const QUIET = ["-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "protocol.file.allow=always"];
const MAX_OUTPUT = 64 * 1024 * 1024;

function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("GIT_") && !k.startsWith("GIT_CONFIG_")) continue;
    env[k] = v;
  }
  return { ...env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0" };
}

/** `asConfigured`: without the settings above, to read what the repository itself configures. */
export function git(args: string[], cwd?: string, asConfigured = false): Promise<GitRun> {
  return new Promise((resolve) => {
    execFile(
      "git",
      [...(asConfigured ? [] : QUIET), ...args],
      { cwd, env: gitEnv(), maxBuffer: MAX_OUTPUT, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
        resolve({ code, stdout, stderr: stderr || (error && typeof error.code !== "number" ? error.message : "") });
      },
    );
  });
}

/** Like `git`, but a failure is an error naming the command and what git said. */
export async function gitOk(args: string[], cwd?: string): Promise<string> {
  const run = await git(args, cwd);
  if (run.code !== 0)
    throw new Error(
      `git ${args.join(" ")} failed (exit ${run.code}): ${run.stderr.trim().split("\n").slice(-3).join(" ")}`,
    );
  return run.stdout;
}

let present: Promise<boolean> | null = null;

/** Whether the host has a git program (asked once). */
export function hostHasGit(): Promise<boolean> {
  present ??= git(["--version"]).then((r) => r.code === 0);
  return present;
}
