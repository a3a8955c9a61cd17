/**
 * A job container as Gitea's and Forgejo's act-based runners make one: the job runs
 * inside a container of a Node image (bottle-test/job:node20 or :node24, built by
 * test/images/build.sh), talks to the host's engine through the mounted Docker
 * socket, and runs the action's bundles with the container's own `node`. The action
 * is copied in as the runner copies actions in, and every path of the job (the
 * action, the checkout, RUNNER_TEMP, the command files) lives under a root that
 * exists only inside the container: a bind mount of any of them would mount an
 * empty directory the engine makes on this host, at `root`. Files move in and out
 * with `docker cp` and `docker exec`, never mounts.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobHost } from "./action.js";
import { ROOT } from "./runner.js";

/** The job images, the node version each runs, and how that version prints. */
export const JOB_IMAGES = [
  ["Node 20", "bottle-test/job:node20", "v20."],
  ["Node 24", "bottle-test/job:node24", "v24."],
] as const;

/** Labels the job containers, which are the test's and never a bottle's. */
export const JOB_LABEL = "bottle-test.job";
const SOCKET = "/var/run/docker.sock";
// The PATH of the official node images, where act-based runners find `node`.
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface JobContainer extends JobHost {
  id: string;
  image: string;
  /** The one directory holding every path of the job; it must never appear on this host. */
  root: string;
  /** GITHUB_WORKSPACE, as act-based runners lay it out: <root>/workspace/<owner>/<repo>. */
  workspace: string;
  /** Runs a command inside the container and returns its stdout; throws on a non-zero exit. */
  exec(cmd: string[], options?: { cwd?: string }): string;
  /** Copies `files` (name → text) into `dir` inside the container, making `dir`. */
  putFiles(dir: string, files: Record<string, string>): void;
  /** Makes the checkout: `files` committed to a fresh git repository at `workspace`. */
  checkout(files: Record<string, string>): void;
  remove(): void;
}

export function startJobContainer(image: string, repository = "octo/widgets"): JobContainer {
  const token = Math.random().toString(36).slice(2, 10);
  const root = `/job-${token}`;
  const workspace = `${root}/workspace/${repository}`;
  const actionDir = `${root}/actions/bottle-action`;
  const docker = (args: string[]) =>
    execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const id = docker([
    "run",
    "--detach",
    "--name",
    `bottle-test-job-${token}`,
    "--label",
    `${JOB_LABEL}=${token}`,
    "--volume",
    `${SOCKET}:${SOCKET}`,
    image,
    "tail",
    "-f",
    "/dev/null",
  ]).trim();
  const exec = (cmd: string[], options: { cwd?: string } = {}) =>
    docker(["exec", ...(options.cwd ? ["--workdir", options.cwd] : []), id, ...cmd]);
  let runners = 0;
  const putFiles = (dir: string, files: Record<string, string>) => {
    const staging = mkdtempSync(join(tmpdir(), "bottle-job-files-"));
    try {
      for (const [name, text] of Object.entries(files)) writeFileSync(join(staging, name), text);
      exec(["mkdir", "-p", dir]);
      docker(["cp", `${staging}/.`, `${id}:${dir}`]);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  };
  try {
    // What a runner fetches of the action's repository and runs: action.yml, the bundles, `node runner`.
    exec(["mkdir", "-p", actionDir]);
    docker(["cp", join(ROOT, "action.yml"), `${id}:${actionDir}/action.yml`]);
    for (const part of ["dist", "runner"]) docker(["cp", join(ROOT, part), `${id}:${actionDir}/${part}`]);
  } catch (error) {
    docker(["rm", "--force", id]);
    throw error;
  }
  return {
    id,
    image,
    root,
    workspace,
    actionDir,
    path: PATH,
    exec,
    putFiles,
    checkout(files) {
      putFiles(workspace, files);
      exec(["git", "init", "--quiet"], { cwd: workspace });
      exec(["git", "add", "--all"], { cwd: workspace });
      exec(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "commit", "--quiet", "--message", "checkout"],
        { cwd: workspace },
      );
    },
    newRunnerDir(files) {
      const dir = `${root}/runs/${++runners}`;
      exec(["mkdir", "-p", `${dir}/temp`]);
      if (files.length > 0) exec(["touch", ...files.map((f) => `${dir}/${f}`)]);
      return dir;
    },
    readFile: (path) => exec(["cat", path]),
    spawnNode(args, { cwd, env }): ChildProcess {
      const vars = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : ["--env", `${k}=${v}`]));
      return spawn("docker", ["exec", "--workdir", cwd, ...vars, id, "node", ...args], {
        stdio: ["ignore", "pipe", "pipe"],
      });
    },
    remove: () => void docker(["rm", "--force", id]),
  };
}
