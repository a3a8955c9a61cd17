// When transcript snapshots run during a session: once the requests of a burst have
// settled, one at a time, and never after claude has exited (the final snapshot
// follows then and reads the transcript itself).
import { describe, expect, test } from "vitest";
import { Snapshotter } from "../../src/bottle/launch/snapshots.js";

const SETTLE_MS = 30;
/** Long enough for any settle timer scheduled before it to have fired, even on a loaded machine. */
const AFTER_TIMERS_MS = SETTLE_MS * 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A snapshotter whose snapshots each wait until the test lets them finish (or finish at once when `open`). */
function controlled(open = false) {
  const warnings: string[] = [];
  const waiting: (() => void)[] = [];
  const startWaiters: (() => void)[] = [];
  let started = 0;
  let taken = 0;
  let running = 0;
  let mostAtOnce = 0;
  const snapshots = new Snapshotter(
    async () => {
      started++;
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      for (const wake of startWaiters.splice(0)) wake();
      if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
      taken++;
      running--;
    },
    { warn: (line: string) => warnings.push(line) } as never,
    SETTLE_MS,
  );
  return {
    snapshots,
    warnings,
    taken: () => taken,
    mostAtOnce: () => mostAtOnce,
    /** Resolves once `n` snapshots have started. */
    async started(n: number) {
      while (started < n) await new Promise<void>((resolve) => startWaiters.push(resolve));
    },
    /** Lets the snapshot under way finish. */
    finish() {
      waiting.shift()?.();
    },
  };
}

/** A controlled snapshotter with one snapshot under way, held until the test finishes it. */
async function oneUnderWay() {
  const s = controlled();
  s.snapshots.request();
  await s.started(1);
  return s;
}

describe("transcript snapshots during a session", () => {
  test("a burst of turn ends is one snapshot, taken once the burst has settled", async () => {
    const s = controlled(true);
    for (let i = 0; i < 5; i++) s.snapshots.request();
    expect(s.taken()).toBe(0);
    await s.started(1);
    await sleep(AFTER_TIMERS_MS);
    expect(s.taken()).toBe(1);
  });

  test("a session that ends before its last turn's snapshot starts takes none: the final snapshot follows", async () => {
    const s = controlled(true);
    s.snapshots.request();
    await s.snapshots.close();
    s.snapshots.request();
    await sleep(AFTER_TIMERS_MS);
    expect(s.taken()).toBe(0);
  });

  test("closing waits for the snapshot under way and drops the one asked for meanwhile", async () => {
    const s = await oneUnderWay();
    s.snapshots.request();
    await sleep(AFTER_TIMERS_MS);
    let closed = false;
    const closing = s.snapshots.close().then(() => (closed = true));
    await sleep(SETTLE_MS);
    expect(closed).toBe(false);
    s.finish();
    await closing;
    expect(s.taken()).toBe(1);
    await sleep(AFTER_TIMERS_MS);
    expect(s.taken()).toBe(1);
  });

  test("requests while one runs coalesce into one more, never two at once", async () => {
    const s = await oneUnderWay();
    for (let i = 0; i < 3; i++) {
      s.snapshots.request();
      await sleep(SETTLE_MS * 2);
    }
    await sleep(AFTER_TIMERS_MS);
    s.finish();
    await s.started(2);
    await sleep(AFTER_TIMERS_MS);
    s.finish();
    await sleep(AFTER_TIMERS_MS);
    expect(s.taken()).toBe(2);
    expect(s.mostAtOnce()).toBe(1);
  });

  test("a failed snapshot is a warning and the next one still runs", async () => {
    let calls = 0;
    const warnings: string[] = [];
    const snapshots = new Snapshotter(
      async () => {
        if (++calls === 1) throw new Error("archive refused");
      },
      { warn: (line: string) => warnings.push(line) } as never,
      SETTLE_MS,
    );
    snapshots.request();
    await sleep(AFTER_TIMERS_MS);
    snapshots.request();
    await sleep(AFTER_TIMERS_MS);
    expect(calls).toBe(2);
    expect(warnings).toEqual(["snapshot failed (the previous one is kept): archive refused"]);
  });
});
