/**
 * Whether `cleanup` may remove a bottle: the one rule, as a pure function of what
 * was found about it.
 *
 * A bottle is removed only when its runner is provably gone (it lived in this pid
 * namespace of this boot and no longer does), when its runner elsewhere let its
 * lease expire, or when a person named it with `--force`. A bottle whose runner
 * cannot be seen and whose lease cannot be read is kept: removing a live bottle
 * loses an agent's work, keeping a dead one costs a `--force`. The one exception is a
 * bottle that never got a gate (so never a lease), older than a lease would hold:
 * a launch that died while it was setting up, with nothing of value in it.
 */
import type { LeaseReading } from "./lease.js";
import { LEASE_TTL_MS } from "./lease.js";
import type { RunnerState } from "./runner-process.js";

export interface BottleFacts {
  identity: string;
  /** The runner label (`<host>/<pid>`), for people. */
  runner: string;
  state: RunnerState;
  /** What its gate holds, or null when it has no gate container. */
  lease: LeaseReading | null;
  /** When its newest container or network was created, by the engine's clock. */
  newest: Date | null;
}

export interface Verdict {
  reap: boolean;
  reason: string;
}

/**
 * `facts` judged at `engineNow` (the engine's clock, needed only for a runner elsewhere); `force` is a
 * person's say-so.
 */
export function judgeBottle(facts: BottleFacts, engineNow: Date | null, force = false): Verdict {
  const { runner, identity } = facts;
  const keep = (why: string): Verdict => ({
    reap: false,
    reason: `${why}; \`node runner cleanup --force ${identity}\` removes it anyway`,
  });
  if (force) return { reap: true, reason: "named with --force" };
  if (facts.state === "running") return { reap: false, reason: `its runner ${runner} is still running on this host` };
  if (facts.state === "gone") return { reap: true, reason: `its runner ${runner} on this host is gone` };
  const elsewhere = `its runner ${runner} is not a process this host can see`;
  const lease = facts.lease;
  if (lease === null) {
    if (facts.newest === null || engineNow === null) return keep(`${elsewhere}, it has no gate and no creation time`);
    const age = engineNow.getTime() - facts.newest.getTime();
    if (age <= LEASE_TTL_MS)
      return keep(`${elsewhere} and it is still being set up (no gate yet, created ${facts.newest.toISOString()})`);
    return { reap: true, reason: `${elsewhere}, and it never got a gate (created ${facts.newest.toISOString()})` };
  }
  if ("missing" in lease)
    return keep(`${elsewhere} and its gate holds no lease (a runner of an earlier version, or one still starting)`);
  if ("problem" in lease) return keep(`${elsewhere} and ${lease.problem}`);
  const expires = Date.parse(lease.lease.expiresAt);
  if (engineNow === null) return keep(`${elsewhere} and the engine's time is unknown`);
  if (engineNow.getTime() <= expires) {
    return keep(
      `${elsewhere}; it renewed its lease at ${lease.lease.renewedAt}, which holds until ${lease.lease.expiresAt}`,
    );
  }
  return { reap: true, reason: `${elsewhere}, and its lease expired at ${lease.lease.expiresAt}` };
}
