/**
 * Runs the built action the way a runner does: `node dist/main/index.js` (and
 * `dist/post/index.js`) with `INPUT_*` variables, the GITHUB_OUTPUT, GITHUB_STATE and
 * GITHUB_STEP_SUMMARY files, the job's environment and the cache server's, and each
 * job on a fresh runner (its own RUNNER_TEMP), as a re-run or a later job would be.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GATE_IMAGE, NODE, ROOT } from "./runner.js";

export interface Job {
  /** The checkout: GITHUB_WORKSPACE and the step's working directory. */
  workspace: string;
  runnerTemp: string;
  files: { output: string; state: string; summary: string };
  env: NodeJS.ProcessEnv;
}

export interface StepRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
}

/** A fresh runner for one job of workflow run `runId`, attempt `attempt`. */
export function newJob(options: { workspace: string; runId: string; attempt: number; cacheEnv: Record<string, string>; env?: NodeJS.ProcessEnv }): Job {
  const dir = mkdtempSync(join(tmpdir(), "bottle-job-"));
  const runnerTemp = join(dir, "temp");
  mkdirSync(runnerTemp);
  const files = { output: join(dir, "output"), state: join(dir, "state"), summary: join(dir, "summary") };
  for (const f of Object.values(files)) writeFileSync(f, "");
  return {
    workspace: options.workspace,
    runnerTemp,
    files,
    env: {
      PATH: process.env.PATH,
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

export function startStep(job: Job, step: "main" | "post", inputs: Record<string, string> = {}): { child: ChildProcess; done: Promise<StepRun> } {
  const extra: NodeJS.ProcessEnv = {};
  // The runner hands what main saved with saveState to post as STATE_<name>.
  if (step === "post") for (const [k, v] of Object.entries(readCommandFile(job.files.state))) extra[`STATE_${k}`] = v;
  const child = spawn(NODE, [join(ROOT, "dist", step, "index.js")], {
    cwd: job.workspace,
    env: { ...job.env, ...inputEnv(inputs), ...extra },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (stdout += c.toString()));
  const done = new Promise<StepRun>((resolve) =>
    child.on("close", (code) =>
      resolve({
        code,
        stdout,
        outputs: readCommandFile(job.files.output),
        state: readCommandFile(job.files.state),
        summary: readFileSync(job.files.summary, "utf8"),
      }),
    ),
  );
  return { child, done };
}

export function runStep(job: Job, step: "main" | "post", inputs: Record<string, string> = {}): Promise<StepRun> {
  return startStep(job, step, inputs).done;
}

/** Parses `name<<delimiter\nvalue\ndelimiter` records; the last value of a name wins. */
export function readCommandFile(path: string): Record<string, string> {
  const text = readFileSync(path, "utf8");
  const out: Record<string, string> = {};
  const re = /^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1] as string] = m[3] as string;
  return out;
}
