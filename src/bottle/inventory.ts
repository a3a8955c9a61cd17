/**
 * What exists: running bottles found by label on the engine, saved states found in
 * the state store, and the cleanup of labelled resources that no live runner owns
 * (a runner that was killed, a job that was cancelled).
 */
import { hostname } from "node:os";
import { IDENTITY_LABEL, RUNNER_LABEL, type DockerClient } from "../docker/client.js";
import { errorMessage } from "../errors.js";
import type { StateStore } from "../state/store.js";

export interface RunningBottle {
  identity: string;
  runner: string;
  live: boolean;
  containers: { name: string; role: string; running: boolean }[];
  networks: string[];
}

export interface SavedState {
  identity: string;
  agent: string | null;
  outcome: string | null;
  preserved: boolean;
  sessionId: string | null;
  startedAt: string | null;
  endedAt: string | null;
  problem?: string;
}

/** A runner is live when it is a process on this host that still exists. */
export function runnerIsLive(runner: string | undefined): boolean {
  if (!runner) return false;
  const [host, pidText] = runner.split("/");
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function runningBottles(docker: DockerClient): Promise<RunningBottle[]> {
  const [containers, networks] = await Promise.all([docker.listContainers([IDENTITY_LABEL]), docker.listNetworks([IDENTITY_LABEL])]);
  const byIdentity = new Map<string, RunningBottle>();
  const entry = (labels: Record<string, string>) => {
    const identity = labels[IDENTITY_LABEL] ?? "?";
    let bottle = byIdentity.get(identity);
    if (!bottle) {
      const runner = labels[RUNNER_LABEL] ?? "";
      bottle = { identity, runner, live: runnerIsLive(runner), containers: [], networks: [] };
      byIdentity.set(identity, bottle);
    }
    return bottle;
  };
  for (const c of containers) entry(c.labels).containers.push({ name: c.name, role: c.labels["claude-bottle.role"] ?? "?", running: c.running ?? false });
  for (const n of networks) entry(n.labels).networks.push(n.name);
  return [...byIdentity.values()].sort((a, b) => a.identity.localeCompare(b.identity));
}

export async function savedStates(state: StateStore): Promise<SavedState[]> {
  const out: SavedState[] = [];
  for (const identity of await state.identities()) {
    try {
      const m = await state.readMetadata(identity);
      out.push({
        identity,
        agent: m?.agent ?? null,
        outcome: m?.outcome ?? null,
        preserved: state.isPreserved(identity),
        sessionId: m?.sessionId ?? null,
        startedAt: m?.startedAt ?? null,
        endedAt: m?.endedAt ?? null,
      });
    } catch (error) {
      out.push({ identity, agent: null, outcome: null, preserved: state.isPreserved(identity), sessionId: null, startedAt: null, endedAt: null, problem: errorMessage(error) });
    }
  }
  return out;
}

export interface CleanupReport {
  removed: { identity: string; containers: string[]; networks: string[] }[];
  spared: { identity: string; runner: string }[];
  failures: string[];
}

/** Removes every labelled container and network whose runner is gone; `identities` narrows it to those bottles. */
export async function cleanupOrphans(
  docker: DockerClient,
  options: {
    identities?: readonly string[];
    isLive?: (runner: string) => boolean;
    /** Runs before a dead runner's containers go, to save what they hold. */
    rescue?: (identity: string) => Promise<unknown>;
  } = {},
): Promise<CleanupReport> {
  const isLive = options.isLive ?? runnerIsLive;
  const report: CleanupReport = { removed: [], spared: [], failures: [] };
  for (const bottle of await runningBottles(docker)) {
    if (options.identities && !options.identities.includes(bottle.identity)) continue;
    if (isLive(bottle.runner)) {
      report.spared.push({ identity: bottle.identity, runner: bottle.runner });
      continue;
    }
    if (options.rescue) {
      await options.rescue(bottle.identity).catch((error: unknown) => report.failures.push(`rescuing ${bottle.identity}: ${errorMessage(error)}`));
    }
    const removed = { identity: bottle.identity, containers: [] as string[], networks: [] as string[] };
    await Promise.all(
      bottle.containers.map(async (c) => {
        try {
          await docker.removeContainer(c.name);
          removed.containers.push(c.name);
        } catch (error) {
          report.failures.push(`container ${c.name}: ${errorMessage(error)}`);
        }
      }),
    );
    for (const n of bottle.networks) {
      try {
        await docker.removeNetwork(n);
        removed.networks.push(n);
      } catch (error) {
        report.failures.push(`network ${n}: ${errorMessage(error)}`);
      }
    }
    report.removed.push(removed);
  }
  return report;
}
