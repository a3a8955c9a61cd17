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
import { type LoadedManifest, loadManifest } from "../manifest/load.js";
import type { StateStore } from "../state/store.js";
import { STATE_FILES } from "../state/layout.js";
import type { Metadata } from "../state/metadata.js";
import { type CapabilityPolicy } from "../supervise/config.js";
import { dockerfileProblem } from "../supervise/dockerfile.js";
import { DEFAULT_RESUME_PROMPT, REBUILT_RESUME_PROMPT } from "./claude.js";
import { mintIdentity, parseIdentity } from "../state/identity.js";
import { type BottlePlan, agentOf, resolvePlan } from "./plan.js";
import { currentProcess, formatRunnerProcess } from "./runner-process.js";

/** What a start and a resume both take besides what names the bottle. */
interface LaunchRequest {
  cwd: string;
  snapshotIntervalMs?: number | undefined;
  capabilityBlock?: CapabilityPolicy | undefined;
  maxRebuilds?: number | undefined;
  /** Resume a crashed session at once, up to this many times (default 0). */
  maxResumes?: number | undefined;
  /** What claude is told on those resumes (default: continue where you left off). */
  resumePrompt?: string | undefined;
}

export interface StartRequest extends LaunchRequest {
  agent: string;
  prompt: string;
  manifest?: string | undefined;
  workspace?: string | undefined;
  /** Pinned by the action (derived from the job); the CLI mints a fresh one. */
  identity?: string | undefined;
}

export interface ResumeRequest extends LaunchRequest {
  identity: string;
  prompt?: string | undefined;
  /** Instead of the manifest the state recorded (the action's, whose earlier job had other paths). */
  manifest?: string | undefined;
  workspace?: string | undefined;
}

export interface PrepareDeps {
  docker: DockerClient | null;
  state: StateStore;
  env: NodeJS.ProcessEnv;
  /** Told when the state records a different work tree than the one this resume uses. */
  warn?: (line: string) => void;
}

export function runnerId(): string {
  return `${hostname()}/${process.pid}`;
}

/** The runner-process label of this process, when /proc can tell (runner-process.ts). */
function runnerProcess(): string | undefined {
  const self = currentProcess();
  return self ? formatRunnerProcess(self) : undefined;
}

/** What the plan of a start and of a resume take alike: this runner, the engine, the request's settings. */
async function launchSettings(request: LaunchRequest, deps: PrepareDeps) {
  return {
    env: deps.env,
    runtimes: deps.docker ? await deps.docker.runtimes() : [],
    runnerId: runnerId(),
    runnerProcess: runnerProcess(),
    snapshotIntervalMs: request.snapshotIntervalMs,
    capabilityBlock: request.capabilityBlock,
    maxRebuilds: request.maxRebuilds,
    maxResumes: request.maxResumes,
    resumePrompt: request.resumePrompt,
  };
}

/**
 * The manifest of a start and its agent, checked. Creates nothing and needs no engine,
 * so the action runs it before it restores anything from the cache.
 */
export function loadStartManifest(request: Pick<StartRequest, "agent" | "manifest" | "cwd">): LoadedManifest {
  const loaded = loadManifest({ ...(request.manifest ? { path: request.manifest } : {}), cwd: request.cwd });
  agentOf(loaded, request.agent);
  return loaded;
}

export async function planStart(request: StartRequest, deps: PrepareDeps): Promise<BottlePlan> {
  const loaded = loadStartManifest(request);
  const identity = request.identity
    ? parseIdentity(request.identity, "identity")
    : mintIdentity(request.agent.slice(0, 40));
  return resolvePlan({
    loaded,
    agent: request.agent,
    mode: "start",
    identity,
    prompt: request.prompt,
    resumeSession: null,
    workspace: checkWorkspace(request.workspace ?? request.cwd, request.cwd),
    perBottleDockerfile: await perBottleDockerfile(deps.state, identity, null),
    ...(await launchSettings(request, deps)),
  });
}

/**
 * The metadata of a state a resume can continue, or an InputError saying why not.
 * Reads only the state directory, so a caller can check it before it asks the engine.
 */
export async function savedSession(identity: string, state: StateStore): Promise<Metadata & { sessionId: string }> {
  const metadata = await state.readMetadata(identity);
  if (!metadata) {
    throw new InputError(
      "identity",
      identity,
      `has no saved state in ${state.root}`,
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
  return { ...metadata, sessionId: metadata.sessionId };
}

export async function planResume(request: ResumeRequest, deps: PrepareDeps): Promise<BottlePlan> {
  const identity = parseIdentity(request.identity, "identity");
  const metadata = await savedSession(identity, deps.state);
  // The manifest the bottle was started from (the embedded default reloads as itself).
  const loaded = loadManifest({ path: request.manifest ?? metadata.manifestPath, cwd: request.cwd });
  return resolvePlan({
    loaded,
    agent: metadata.agent,
    mode: "resume",
    identity,
    prompt: request.prompt ?? (await resumePrompt(metadata, deps.state)),
    resumeSession: metadata.sessionId,
    workspace: resumeWorkspace(request, metadata, deps),
    perBottleDockerfile: await perBottleDockerfile(deps.state, identity, metadata),
    ...(await launchSettings(request, deps)),
  });
}

/**
 * The state's per-bottle Dockerfile, checked: it may come from a restored cache
 * archive. A rebuild proposal the runner stopped before building still waits in
 * Dockerfile.proposed; it is what the bottle continues on.
 */
async function perBottleDockerfile(
  state: StateStore,
  identity: string,
  metadata: Metadata | null,
): Promise<string | null> {
  const waiting = metadata?.outcome === "capability-block" ? await state.readProposedDockerfile(identity) : null;
  const text = waiting ?? (await state.readDockerfile(identity));
  if (text === null) return null;
  const problem = dockerfileProblem(text);
  if (problem) {
    const file = waiting !== null ? "proposedDockerfile" : "dockerfile";
    throw new InputError(
      STATE_FILES[file],
      state.path(identity, file),
      `(the bottle's per-bottle Dockerfile) is not usable: ${problem}`,
      "fix the file, or remove it to build from the manifest's image again",
    );
  }
  return text;
}

/** What a resumed session is told, by how the last launch ended. */
async function resumePrompt(metadata: Metadata, state: StateStore): Promise<string> {
  if (metadata.outcome === "capability-block") return REBUILT_RESUME_PROMPT;
  // After a failed immediate rebuild the previous Dockerfile is still the bottle's: tell the agent why.
  if (metadata.outcome === "build-failed" && state.hasProposedDockerfile(metadata.identity)) {
    const log = await state.readBuildLog(metadata.identity);
    const tail = log.trimEnd().split("\n").slice(-20).join("\n");
    return [
      "The Dockerfile you proposed with capability-block did not build, so this bottle still runs the image it had.",
      tail ? `The end of the build log:\n\n${tail}\n` : "",
      "Propose a corrected Dockerfile with capability-block, or continue the task without it.",
    ]
      .filter(Boolean)
      .join("\n");
  }
  return DEFAULT_RESUME_PROMPT;
}

/**
 * The work tree of a resume is the one asked for (or the current directory), never the
 * path the state records: a state can come from a cache anyone with write access to it
 * filled, and the work tree is where a success writes.
 */
function resumeWorkspace(request: ResumeRequest, metadata: Metadata, deps: PrepareDeps): string {
  const workspace = checkWorkspace(request.workspace ?? request.cwd, request.cwd);
  if (resolve(request.cwd, metadata.workspace) !== workspace) {
    deps.warn?.(
      `the state of ${metadata.identity} records the work tree ${JSON.stringify(metadata.workspace)}; this ` +
        `resume uses ${workspace} ` +
        `(${request.workspace ? "as given" : "the current directory"}), which is where a success copies the work back`,
    );
  }
  return workspace;
}

function checkWorkspace(
  dir: string,
  cwd: string,
  field = "--workspace",
  fix = "give the directory the agent should work in (default: the current directory)",
): string {
  const path = resolve(cwd, dir);
  if (!existsSync(path) || !statSync(path).isDirectory()) throw new InputError(field, dir, "is not a directory", fix);
  return path;
}
