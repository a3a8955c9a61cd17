/**
 * From what a user asked (a start of an agent, a resume of an identity) to a plan:
 * load the manifest, mint or check the identity, read what the state says, probe
 * the engine's runtimes. Shared by the CLI and the action; creates nothing.
 */
import { existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { DockerClient } from "../docker/client.js";
import { InputError } from "../errors.js";
import { loadManifest } from "../manifest/load.js";
import type { StateStore } from "../state/store.js";
import { DEFAULT_RESUME_PROMPT } from "./claude.js";
import { mintIdentity, parseIdentity } from "./identity.js";
import { type BottlePlan, resolvePlan } from "./plan.js";

export interface StartRequest {
  agent: string;
  prompt: string;
  manifest?: string | undefined;
  workspace?: string | undefined;
  /** Pinned by the action (derived from the job); the CLI mints a fresh one. */
  identity?: string | undefined;
  cwd: string;
  snapshotIntervalMs?: number | undefined;
}

export interface ResumeRequest {
  identity: string;
  prompt?: string | undefined;
  workspace?: string | undefined;
  cwd: string;
  snapshotIntervalMs?: number | undefined;
}

export interface PrepareDeps {
  docker: DockerClient | null;
  state: StateStore;
  env: NodeJS.ProcessEnv;
}

export function runnerId(): string {
  return `${hostname()}/${process.pid}`;
}

export async function planStart(request: StartRequest, deps: PrepareDeps): Promise<BottlePlan> {
  const loaded = loadManifest({ ...(request.manifest ? { path: request.manifest } : {}), cwd: request.cwd });
  const identity = request.identity ? parseIdentity(request.identity, "identity") : mintIdentity(request.agent.slice(0, 40));
  return resolvePlan({
    loaded,
    agent: request.agent,
    mode: "start",
    identity,
    prompt: request.prompt,
    resumeSession: null,
    workspace: checkWorkspace(request.workspace ?? request.cwd, request.cwd),
    perBottleDockerfile: await deps.state.readDockerfile(identity),
    env: deps.env,
    runtimes: deps.docker ? await deps.docker.runtimes() : [],
    runnerId: runnerId(),
    snapshotIntervalMs: request.snapshotIntervalMs,
  });
}

export async function planResume(request: ResumeRequest, deps: PrepareDeps): Promise<BottlePlan> {
  const identity = parseIdentity(request.identity, "identity");
  const metadata = await deps.state.readMetadata(identity);
  if (!metadata) {
    throw new InputError(
      "identity",
      identity,
      `has no saved state in ${deps.state.root}`,
      "check the identity with `node runner list`, or set CLAUDE_BOTTLE_HOME to where the state was kept",
    );
  }
  if (!metadata.sessionId) {
    throw new InputError(
      "identity",
      identity,
      "has state but no claude session was ever recorded in it",
      `start the agent again with \`node runner start ${metadata.agent} --prompt ...\``,
    );
  }
  // The manifest the bottle was started from (the embedded default reloads as itself).
  const loaded = loadManifest({ path: metadata.manifestPath, cwd: request.cwd });
  return resolvePlan({
    loaded,
    agent: metadata.agent,
    mode: "resume",
    identity,
    prompt: request.prompt ?? DEFAULT_RESUME_PROMPT,
    resumeSession: metadata.sessionId,
    workspace: checkWorkspace(request.workspace ?? metadata.workspace, request.cwd),
    perBottleDockerfile: await deps.state.readDockerfile(identity),
    env: deps.env,
    runtimes: deps.docker ? await deps.docker.runtimes() : [],
    runnerId: runnerId(),
    snapshotIntervalMs: request.snapshotIntervalMs,
  });
}

function checkWorkspace(dir: string, cwd: string): string {
  const path = resolve(cwd, dir);
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new InputError("--workspace", dir, "is not a directory", "give the directory the agent should work in (default: the current directory)");
  }
  return path;
}
