// When transcript snapshots run during a session: once the requests of a burst have
// settled, one at a time, and never after claude has exited (the final snapshot
// follows then and reads the transcript itself).
import { describe, expect, test } from "vitest";
import { Snapshotter } from "../../src/bottle/launch/snapshots.js";

const SETTLE_MS = 30;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function counting(takeMs = 0) {
  const warnings: string[] = [];
  let taken = 0;
  let running = 0;
  let mostAtOnce = 0;
  const snapshots = new Snapshotter(
    async () => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await sleep(takeMs);
      taken++;
      running--;
    },
    { warn: (line: string) => warnings.push(line) } as never,
    SETTLE_MS,
  );
  return { snapshots, warnings, taken: () => taken, mostAtOnce: () => mostAtOnce };
}

describe("transcript snapshots during a session", () => {
  test("a burst of turn ends is one snapshot, taken once the burst has settled", async () => {
    const s = counting();
    for (let i = 0; i < 5; i++) s.snapshots.request();
    expect(s.taken()).toBe(0);
    await sleep(SETTLE_MS * 3);
    expect(s.taken()).toBe(1);
  });

  test("a session that ends before its last turn's snapshot starts takes none: the final snapshot follows", async () => {
    const s = counting();
    s.snapshots.request();
    await s.snapshots.close();
    s.snapshots.request();
    await sleep(SETTLE_MS * 3);
    expect(s.taken()).toBe(0);
  });

  test("closing waits for the snapshot under way and drops the one asked for meanwhile", async () => {
    const s = counting(SETTLE_MS * 10);
    s.snapshots.request();
    await sleep(SETTLE_MS * 2);
    s.snapshots.request();
    await sleep(SETTLE_MS * 2);
    // The first one still runs: it started after one settle and takes ten.
    await s.snapshots.close();
    expect(s.taken()).toBe(1);
    await sleep(SETTLE_MS * 5);
    expect(s.taken()).toBe(1);
  });

  test("requests while one runs coalesce into one more, never two at once", async () => {
    const s = counting(SETTLE_MS * 10);
    s.snapshots.request();
    await sleep(SETTLE_MS * 2);
    for (let i = 0; i < 3; i++) {
      s.snapshots.request();
      await sleep(SETTLE_MS * 2);
    }
    await sleep(SETTLE_MS * 25);
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
    await sleep(SETTLE_MS * 3);
    snapshots.request();
    await sleep(SETTLE_MS * 3);
    expect(calls).toBe(2);
    expect(warnings).toEqual(["snapshot failed (the previous one is kept): archive refused"]);
  });
});
