// Which bottles `cleanup` may remove, as a table of what it found about each.
import { describe, expect, test } from "vitest";
import { LEASE_TTL_MS, type LeaseReading, leaseAt } from "../../src/bottle/lease.js";
import { type BottleFacts, judgeBottle } from "../../src/bottle/reaping.js";

const NOW = new Date("2026-12-02T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const leaseRenewed = (msAgo: number): LeaseReading => ({ lease: leaseAt("ci-7f86/1", ago(msAgo)) });
const facts = (changes: Partial<BottleFacts>): BottleFacts => ({
  identity: "fixer-abc12",
  runner: "ci-7f86/1",
  state: "elsewhere",
  lease: leaseRenewed(5_000),
  newest: ago(60_000),
  ...changes,
});

describe("cleanup's verdict", () => {
  test.each([
    ["a runner on this host that runs", facts({ state: "running" }), false, /still running on this host/],
    ["a runner on this host that is gone", facts({ state: "gone", lease: null }), true, /on this host is gone/],
    ["a runner elsewhere that renewed its lease", facts({}), false, /renewed its lease at .*holds until/],
    [
      "a runner elsewhere whose lease has just a moment left",
      facts({ lease: leaseRenewed(LEASE_TTL_MS) }),
      false,
      /holds until/,
    ],
    [
      "a runner elsewhere whose lease expired",
      facts({ lease: leaseRenewed(LEASE_TTL_MS + 1) }),
      true,
      /lease expired at/,
    ],
    [
      "a runner elsewhere whose gate holds no lease (an earlier version)",
      facts({ lease: { missing: true } }),
      false,
      /holds no lease/,
    ],
    [
      "a runner elsewhere whose lease cannot be read",
      facts({ lease: { problem: "reading the lease in g failed: boom" } }),
      false,
      /failed: boom/,
    ],
    [
      "elsewhere, no gate yet, created a moment ago",
      facts({ lease: null, newest: ago(10_000) }),
      false,
      /still being set up/,
    ],
    [
      "elsewhere, no gate, older than a lease holds",
      facts({ lease: null, newest: ago(LEASE_TTL_MS + 1) }),
      true,
      /never got a gate/,
    ],
    ["elsewhere, no gate and no creation time", facts({ lease: null, newest: null }), false, /no creation time/],
  ])("%s", (_, found, reap, reason) => {
    const verdict = judgeBottle(found, NOW);
    expect(verdict.reap).toBe(reap);
    expect(verdict.reason).toMatch(reason);
    if (!reap && found.state !== "running") expect(verdict.reason).toContain("node runner cleanup --force fixer-abc12");
  });

  test("--force removes whatever the runner", () => {
    for (const state of ["running", "gone", "elsewhere"] as const) {
      expect(judgeBottle(facts({ state }), NOW, true)).toEqual({ reap: true, reason: "named with --force" });
    }
  });
});
