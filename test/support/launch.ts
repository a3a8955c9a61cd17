/**
 * A launch on the fake Docker engine: a plan resolved from a small manifest, the
 * real StateStore on a temporary directory, and a log that keeps its lines.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { packFiles, ROOT_OWNER } from "../../src/bottle/archive.js";
import { type BottlePlan, type PlanRequest, resolvePlan } from "../../src/bottle/plan.js";
import { parseManifest } from "../../src/manifest/load.js";
import { StateStore } from "../../src/state/store.js";
import { FakeDocker } from "./fake-docker.js";

export const AGENT_IMAGE = "agent:test";
export const GATE_IMAGE = "gate:test";
export const IDENTITY = "fixer-abcde";

export interface LaunchWorld {
  docker: FakeDocker;
  state: StateStore;
  home: string;
  workspace: string;
  lines: { level: "info" | "warn" | "progress"; line: string }[];
  controller: AbortController;
  paused: string[];
}

export function launchWorld(): LaunchWorld {
  const home = mkdtempSync(join(tmpdir(), "launch-test-"));
  const workspace = join(home, "work");
  mkdirSync(workspace);
  writeFileSync(join(workspace, "README.md"), "hello\n");
  const docker = new FakeDocker();
  docker.images.set(AGENT_IMAGE, {});
  docker.images.set(GATE_IMAGE, {});
  return {
    docker,
    state: new StateStore(home),
    home,
    workspace,
    lines: [],
    controller: new AbortController(),
    paused: [],
  };
}

export function testPlan(
  world: LaunchWorld,
  over: { supervise?: "preserve" | "rebuild"; mode?: "start" | "resume"; request?: Partial<PlanRequest> } = {},
): BottlePlan {
  const route = {
    name: "anthropic",
    upstream: "https://api.anthropic.com",
    inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
    role: "anthropic",
  };
  const bottle = {
    image: AGENT_IMAGE,
    egress: { routes: [route] },
    ...(over.supervise ? { supervise: true, capabilityBlock: over.supervise } : {}),
  };
  const manifest = { bottles: { b: bottle }, agents: { fixer: { bottle: "b", prompt: "be good" } } };
  const path = join(world.home, "claude-bottle.json");
  return resolvePlan({
    loaded: { manifest: parseManifest(JSON.stringify(manifest), path), path, dir: world.home, embedded: false },
    agent: "fixer",
    mode: over.mode ?? "start",
    identity: IDENTITY,
    prompt: "fix the tests",
    resumeSession: null,
    workspace: world.workspace,
    perBottleDockerfile: null,
    env: { ANTHROPIC_API_KEY: "sk-ant-test", CLAUDE_BOTTLE_GATE_IMAGE: GATE_IMAGE },
    runtimes: ["runc"],
    runnerId: "host/1",
    ...over.request,
  });
}

export function testDeps(world: LaunchWorld, env: NodeJS.ProcessEnv = { ANTHROPIC_API_KEY: "sk-ant-test" }) {
  return {
    docker: world.docker,
    state: world.state,
    clock: { now: () => new Date("2026-01-02T03:04:05Z") },
    env,
    log: {
      info: (line: string) => void world.lines.push({ level: "info", line }),
      warn: (line: string) => void world.lines.push({ level: "warn", line }),
      progress: (line: string) => void world.lines.push({ level: "progress", line }),
    },
    signal: world.controller.signal,
    gateProgram: async () => Buffer.from("// gate"),
    superviseProgram: async () => Buffer.from("// supervise"),
    pauseAt: async (phase: string) => void world.paused.push(phase),
  };
}

/** An archive the fake engine hands out for a path: a fresh tar stream of `files` (path → content) each time. */
export async function archiveOf(files: Record<string, string>): Promise<() => Readable> {
  const tar = await packFiles(
    Object.entries(files).map(([name, content]) => ({ name, content, mode: 0o644 })),
    ROOT_OWNER,
  );
  return () => Readable.from([tar]);
}
