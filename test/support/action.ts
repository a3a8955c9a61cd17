/**
 * Runs the built action the way a runner does: `node dist/main/index.js` (and
 * `dist/post/index.js`) with `INPUT_*` variables, the GITHUB_OUTPUT, GITHUB_STATE and
 * GITHUB_STEP_SUMMARY files, the job's environment and the cache server's, and each
 * job on a fresh runner (its own RUNNER_TEMP), as a re-run or a later job would be.
 * Steps run on this host, or inside a job container as act-based runners run them
 * (a `JobHost` from job-container.ts); the job's paths are then the container's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GATE_IMAGE, NODE, ROOT } from "./runner.js";

/** Where a job's steps run and its runner files live. */
export interface JobHost {
  /** The action's directory (action.yml, dist/) as the steps see it. */
  actionDir: string;
  /** PATH in a step's environment. */
  path: string;
  /** A fresh directory holding an empty `temp/` (RUNNER_TEMP) and the named empty files. */
  newRunnerDir(files: string[]): string;
  readFile(path: string): string;
  /** Starts `node <args>` (a step: `[script]`), with exactly `env`. Killing the child kills the step only on this host. */
  spawnNode(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): ChildProcess;
}

/** The test's own machine, with the node running the tests. */
export const THIS_HOST: JobHost = {
  actionDir: ROOT,
  path: process.env.PATH ?? "",
  newRunnerDir(files) {
    const dir = mkdtempSync(join(tmpdir(), "bottle-job-"));
    mkdirSync(join(dir, "temp"));
    for (const f of files) writeFileSync(join(dir, f), "");
    return dir;
  },
  readFile: (path) => readFileSync(path, "utf8"),
  spawnNode: (args, { cwd, env }) => spawn(NODE, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] }),
};

export interface Job {
  /** The checkout: GITHUB_WORKSPACE and the step's working directory. */
  workspace: string;
  runnerTemp: string;
  files: { output: string; state: string; summary: string };
  env: NodeJS.ProcessEnv;
  host: JobHost;
}

export interface StepRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
}

/** A fresh runner for one job of workflow run `runId`, attempt `attempt`. */
export function newJob(options: {
  workspace: string;
  runId: string;
  attempt: number;
  cacheEnv: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  host?: JobHost;
}): Job {
  const host = options.host ?? THIS_HOST;
  const dir = host.newRunnerDir(["output", "state", "summary"]);
  const runnerTemp = join(dir, "temp");
  const files = { output: join(dir, "output"), state: join(dir, "state"), summary: join(dir, "summary") };
  return {
    workspace: options.workspace,
    runnerTemp,
    files,
    host,
    env: {
      PATH: host.path,
      HOME: dir,
      RUNNER_TEMP: runnerTemp,
      GITHUB_WORKSPACE: options.workspace,
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_REPOSITORY: "octo/widgets",
      GITHUB_WORKFLOW_REF: "octo/widgets/.github/workflows/agent.yml@refs/heads/main",
      GITHUB_REF: "refs/heads/main",
      GITHUB_JOB: "agent",
      GITHUB_ACTION: "bottle",
      GITHUB_RUN_ID: options.runId,
      GITHUB_RUN_ATTEMPT: String(options.attempt),
      CLAUDE_BOTTLE_GATE_IMAGE: GATE_IMAGE,
      ...options.cacheEnv,
      ...options.env,
    },
  };
}

function inputEnv(inputs: Record<string, string>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]));
}

export function startStep(
  job: Job,
  step: "main" | "post",
  inputs: Record<string, string> = {},
): { child: ChildProcess; done: Promise<StepRun> } {
  const extra: NodeJS.ProcessEnv = {};
  // The runner hands what main saved with saveState to post as STATE_<name>.
  const read = (path: string) => parseCommandFile(job.host.readFile(path));
  if (step === "post") for (const [k, v] of Object.entries(read(job.files.state))) extra[`STATE_${k}`] = v;
  const child = job.host.spawnNode([join(job.host.actionDir, "dist", step, "index.js")], {
    cwd: job.workspace,
    env: { ...job.env, ...inputEnv(inputs), ...extra },
  });
  let stdout = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stdout += c.toString()));
  const done = new Promise<StepRun>((resolve) =>
    child.on("close", (code) =>
      resolve({
        code,
        stdout,
        outputs: read(job.files.output),
        state: read(job.files.state),
        summary: job.host.readFile(job.files.summary),
      }),
    ),
  );
  return { child, done };
}

export function runStep(job: Job, step: "main" | "post", inputs: Record<string, string> = {}): Promise<StepRun> {
  return startStep(job, step, inputs).done;
}

/** Parses `name<<delimiter\nvalue\ndelimiter` records; the last value of a name wins. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1] as string] = m[3] as string;
  return out;
}
