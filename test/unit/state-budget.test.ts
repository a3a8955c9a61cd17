import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, test } from "vitest";
import { ROOT_OWNER, packFiles } from "../../src/bottle/archive.js";
import { extractInto } from "../../src/state/archive.js";
import { StateBudget, StateLimitExceeded, archiveBytes } from "../../src/state/budget.js";
import { StateStore } from "../../src/state/store.js";

const ID = "fixer-aaaaa";
const KIB = 1024;
const MIB = 1024 ** 2;

async function fresh(): Promise<StateStore> {
  const store = new StateStore(mkdtempSync(join(tmpdir(), "bottle-budget-")));
  await store.ensure(ID);
  return store;
}

/** An archive as the engine would stream it: one file of `bytes` bytes. */
async function archive(name: string, bytes: number, fill = "a"): Promise<Readable> {
  return Readable.from([await packFiles([{ name, content: fill.repeat(bytes) }], ROOT_OWNER)]);
}

/** What `snapshotWorkspace` does with a budget: counted while it streams, recorded once kept. */
async function snapshot(store: StateStore, budget: StateBudget, bytes: number, fill = "a"): Promise<void> {
  const meter = await budget.meter("workspace", "the work tree");
  const tar = await archive("big.bin", bytes, fill);
  await store.replaceSnapshot(ID, "workspace", (dir) => extractInto(meter.through(tar), dir));
  meter.kept();
}

describe("limits.state", () => {
  test("a snapshot that fits is kept and counted against the next one", async () => {
    const store = await fresh();
    const budget = await StateBudget.open(store, ID, 1 * MIB);
    await snapshot(store, budget, 300 * KIB);
    expect(readFileSync(join(store.path(ID, "workspace"), "big.bin"), "utf8")).toHaveLength(300 * KIB);
    // The transcript may now take what the work tree leaves.
    const meter = await budget.meter("transcript", "the transcript (~/.claude)");
    await expect(
      store.replaceSnapshot(ID, "transcript", (dir) =>
        archive("t.bin", 800 * KIB).then((tar) => extractInto(meter.through(tar), dir)),
      ),
    ).rejects.toThrow(
      /the transcript \(~\/\.claude\) is larger than the 0\.7 MiB that limits\.state \(1m\) leaves for it \(the rest of the state takes 0\.3 MiB\)/,
    );
  });

  test("a snapshot past the limit fails before it is written past it, and the previous one stays", async () => {
    const store = await fresh();
    const budget = await StateBudget.open(store, ID, 1 * MIB);
    await snapshot(store, budget, 200 * KIB, "a");
    const failure = snapshot(store, budget, 5 * MIB, "b");
    await expect(failure).rejects.toBeInstanceOf(StateLimitExceeded);
    expect(readFileSync(join(store.path(ID, "workspace"), "big.bin"), "utf8")).toBe("a".repeat(200 * KIB));
    expect(readdirSync(store.dir(ID)).filter((n) => n.startsWith("."))).toEqual([]);
    // A replacement of the same snapshot may use what the previous one took.
    await snapshot(store, budget, 900 * KIB, "c");
    expect(await archiveBytes(store.dir(ID))).toBeLessThanOrEqual(1 * MIB);
  });

  test("every archive of one snapshot counts against the same allowance", async () => {
    const store = await fresh();
    const budget = await StateBudget.open(store, ID, 1 * MIB);
    const meter = await budget.meter("transcript", "the transcript (~/.claude)");
    const filled = store.replaceSnapshot(ID, "transcript", async (dir) => {
      await extractInto(meter.through(await archive(".claude/a.bin", 600 * KIB)), dir);
      await extractInto(meter.through(await archive(".claude.json", 600 * KIB)), dir);
    });
    await expect(filled).rejects.toBeInstanceOf(StateLimitExceeded);
    expect(existsSync(store.path(ID, "transcript"))).toBe(false);
  });

  test("what an earlier launch left counts", async () => {
    const store = await fresh();
    await store.replaceSnapshot(ID, "transcript", async (dir) =>
      writeFileSync(join(dir, "old.bin"), "x".repeat(700 * KIB)),
    );
    const budget = await StateBudget.open(store, ID, 1 * MIB);
    await expect(snapshot(store, budget, 400 * KIB)).rejects.toBeInstanceOf(StateLimitExceeded);
    await snapshot(store, budget, 200 * KIB);
  });

  test("the logs may take a quarter of the limit; what they drop is reported once", async () => {
    const store = await fresh();
    const budget = await StateBudget.open(store, ID, 4 * MIB);
    expect(budget.droppedLogs()).toBeNull();
    expect(budget.admitLog(724 * KIB)).toBe(true);
    expect(budget.admitLog(300 * KIB)).toBe(true);
    expect(budget.admitLog(1)).toBe(false);
    expect(budget.admitLog(2 * MIB)).toBe(false);
    expect(budget.droppedLogs()).toBe(
      "2.0 MiB of claude's output and the gate's log were not kept in the state: the logs may take a quarter of limits.state (4m)",
    );
    // The snapshots keep the rest.
    await snapshot(store, budget, 2 * MIB);
  });

  test("archive bytes: a header per entry and contents in 512-byte blocks", async () => {
    const store = await fresh();
    const dir = store.dir(ID);
    writeFileSync(join(dir, "one"), "x");
    writeFileSync(join(dir, "block"), "x".repeat(512));
    expect(await archiveBytes(dir)).toBe(512 + (512 + 512) + (512 + 512));
    expect(await archiveBytes(join(dir, "missing"))).toBe(0);
  });
});
