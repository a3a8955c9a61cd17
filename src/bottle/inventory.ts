/**
 * What exists: running bottles found by label on the engine, saved states found in
 * the state store, and the cleanup of labelled resources whose runner is gone (a
 * runner that was killed, a job that was cancelled, a host that went away). Which
 * bottles may go is reaping.ts's rule; this file gathers the facts it needs.
 */
import {
  IDENTITY_LABEL,
  ROLE_LABEL,
  ROLES,
  RUNNER_LABEL,
  RUNNER_PROCESS_LABEL,
  type DockerClient,
} from "../docker/client.js";
import { errorMessage } from "../errors.js";
import type { StateStore } from "../state/store.js";
import { readLease } from "./lease.js";
import { type BottleFacts, judgeBottle } from "./reaping.js";
import { currentProcess, parseRunnerProcess, runnerState } from "./runner-process.js";

export interface RunningBottle {
  identity: string;
  runner: string;
  /** False when `cleanup` would remove it. */
  live: boolean;
  /** Why it is kept or would be removed. */
  reason: string;
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

interface Found {
  bottle: RunningBottle;
  facts: BottleFacts;
  gate: string | null;
}

/** Every labelled bottle (or those of `identities`), judged: what `cleanup` would do with it, and why. */
async function findBottles(docker: DockerClient, identities?: readonly string[]): Promise<Found[]> {
  const [containers, networks] = await Promise.all([
    docker.listContainers([IDENTITY_LABEL]),
    docker.listNetworks([IDENTITY_LABEL]),
  ]);
  const self = currentProcess();
  const byIdentity = new Map<string, Found>();
  const entry = (labels: Record<string, string>, created: Date | undefined): Found | null => {
    const identity = labels[IDENTITY_LABEL] ?? "?";
    if (identities && !identities.includes(identity)) return null;
    let found = byIdentity.get(identity);
    if (!found) {
      const runner = labels[RUNNER_LABEL] ?? "";
      const state = runnerState(parseRunnerProcess(labels[RUNNER_PROCESS_LABEL]), self);
      found = {
        bottle: { identity, runner, live: true, reason: "", containers: [], networks: [] },
        facts: { identity, runner, state, lease: null, newest: null },
        gate: null,
      };
      byIdentity.set(identity, found);
    }
    if (created && (found.facts.newest === null || created > found.facts.newest)) found.facts.newest = created;
    return found;
  };
  for (const c of containers) {
    const found = entry(c.labels, c.created);
    if (!found) continue;
    const role = c.labels[ROLE_LABEL] ?? "?";
    found.bottle.containers.push({ name: c.name, role, running: c.running ?? false });
    if (role === ROLES.gate) found.gate = c.id;
  }
  for (const n of networks) entry(n.labels, n.created)?.bottle.networks.push(n.name);
  const all = [...byIdentity.values()].sort((a, b) => a.bottle.identity.localeCompare(b.bottle.identity));
  // Runners this host cannot see are judged by their lease, in the engine's time.
  const elsewhere = all.filter((f) => f.facts.state === "elsewhere");
  await Promise.all(elsewhere.map(async (f) => (f.facts.lease = f.gate ? await readLease(docker, f.gate) : null)));
  const engineNow = elsewhere.length ? await docker.engineTime() : null;
  for (const f of all) {
    const verdict = judgeBottle(f.facts, engineNow);
    f.bottle.live = !verdict.reap;
    f.bottle.reason = verdict.reason;
  }
  return all;
}

export async function runningBottles(docker: DockerClient): Promise<RunningBottle[]> {
  return (await findBottles(docker)).map((f) => f.bottle);
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
      out.push({
        identity,
        agent: null,
        outcome: null,
        preserved: state.isPreserved(identity),
        sessionId: null,
        startedAt: null,
        endedAt: null,
        problem: errorMessage(error),
      });
    }
  }
  return out;
}

export interface CleanupReport {
  removed: { identity: string; containers: string[]; networks: string[]; reason: string }[];
  spared: { identity: string; runner: string; reason: string }[];
  failures: string[];
}

/**
 * Removes the containers and networks of every bottle `cleanup` may remove (see
 * reaping.ts); `identities` narrows it to those bottles, and `force` removes those
 * named whatever their runner.
 */
export async function cleanupOrphans(
  docker: DockerClient,
  options: {
    identities?: readonly string[];
    /** Removes the bottles of `identities` even when their runner may still be there. */
    force?: boolean;
    /** Runs before a dead runner's containers go, to save what they hold. */
    rescue?: (identity: string) => Promise<unknown>;
  } = {},
): Promise<CleanupReport> {
  if (options.force && !options.identities?.length)
    throw new Error("cleanupOrphans: force needs the identities it removes");
  const report: CleanupReport = { removed: [], spared: [], failures: [] };
  for (const { bottle } of await findBottles(docker, options.identities)) {
    const reason = options.force ? "named with --force" : bottle.reason;
    if (!options.force && bottle.live) {
      report.spared.push({ identity: bottle.identity, runner: bottle.runner, reason });
      continue;
    }
    if (options.rescue) {
      await options
        .rescue(bottle.identity)
        .catch((error: unknown) => report.failures.push(`rescuing ${bottle.identity}: ${errorMessage(error)}`));
    }
    const removed = { identity: bottle.identity, containers: [] as string[], networks: [] as string[], reason };
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
