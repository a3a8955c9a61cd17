import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { Metadata } from "../../src/state/metadata.js";
import { StateStore } from "../../src/state/store.js";

const meta = (identity: string): Metadata => ({
  version: 1,
  identity,
  agent: "fixer",
  manifestPath: "/m.json",
  workspace: "/w",
  sessionId: null,
  outcome: "running",
  exitCode: null,
  startedAt: "2026-01-01T00:00:00.000Z",
  endedAt: null,
  launches: 1,
  numTurns: null,
  costUsd: null,
  image: null,
  origin: null,
  history: [],
});

const store = () => new StateStore(mkdtempSync(join(tmpdir(), "bottle-state-")));

describe("state store", () => {
  test("lives under $CLAUDE_BOTTLE_HOME/state, default ~/.claude-bottle", () => {
    expect(StateStore.fromEnv({ CLAUDE_BOTTLE_HOME: "/x/y" }).root).toBe("/x/y/state");
    expect(StateStore.fromEnv({}).root).toMatch(/\.claude-bottle\/state$/);
  });

  test("metadata round-trips and is validated on read", async () => {
    const s = store();
    await s.writeMetadata(meta("fixer-aaaaa"));
    expect(await s.readMetadata("fixer-aaaaa")).toEqual(meta("fixer-aaaaa"));
    writeFileSync(s.path("fixer-aaaaa", "metadata"), JSON.stringify({ ...meta("fixer-aaaaa"), outcome: "exploded" }));
    await expect(s.readMetadata("fixer-aaaaa")).rejects.toThrow(/outcome.*is not valid bottle metadata/);
  });

  test("metadata claiming another identity is refused", async () => {
    const s = store();
    await s.writeMetadata(meta("fixer-aaaaa"));
    writeFileSync(s.path("fixer-aaaaa", "metadata"), JSON.stringify(meta("other-bbbbb")));
    await expect(s.readMetadata("fixer-aaaaa")).rejects.toThrow(/does not match the directory/);
  });

  test("identities that are not valid never become paths", () => {
    expect(() => store().dir("../../etc")).toThrow(/is not a bottle identity/);
  });

  test("a snapshot replaces the previous one whole", async () => {
    const s = store();
    await s.replaceSnapshot("b-11111", "transcript", async (dir) => writeFileSync(join(dir, "one"), "1"));
    await s.replaceSnapshot("b-11111", "transcript", async (dir) => writeFileSync(join(dir, "two"), "2"));
    const dir = s.path("b-11111", "transcript");
    expect(existsSync(join(dir, "one"))).toBe(false);
    expect(readFileSync(join(dir, "two"), "utf8")).toBe("2");
  });

  test("a snapshot that fails half way leaves the previous one untouched", async () => {
    const s = store();
    await s.replaceSnapshot("b-11111", "transcript", async (dir) => writeFileSync(join(dir, "good"), "g"));
    await expect(
      s.replaceSnapshot("b-11111", "transcript", async (dir) => {
        writeFileSync(join(dir, "half"), "h");
        throw new Error("disk full");
      }),
    ).rejects.toThrow("disk full");
    const dir = s.path("b-11111", "transcript");
    expect(readFileSync(join(dir, "good"), "utf8")).toBe("g");
    expect(existsSync(join(dir, "half"))).toBe(false);
  });

  test("a kill between the two renames is repaired: the last complete snapshot comes back", async () => {
    const s = store();
    await s.replaceSnapshot("b-11111", "transcript", async (dir) => writeFileSync(join(dir, "good"), "g"));
    const dir = s.dir("b-11111");
    // The state a kill leaves right after `transcript` was moved aside, with a half-written next one.
    renameSync(join(dir, "transcript"), join(dir, ".transcript.prev"));
    mkdirSync(join(dir, ".transcript.next-dead"));
    await s.recover("b-11111");
    expect(readFileSync(join(dir, "transcript", "good"), "utf8")).toBe("g");
    expect(existsSync(join(dir, ".transcript.prev"))).toBe(false);
    expect(existsSync(join(dir, ".transcript.next-dead"))).toBe(false);
  });

  test("the preserve marker", async () => {
    const s = store();
    expect(s.isPreserved("b-11111")).toBe(false);
    await s.markPreserved("b-11111");
    expect(s.isPreserved("b-11111")).toBe(true);
    await s.clearPreserved("b-11111");
    expect(s.isPreserved("b-11111")).toBe(false);
  });
});
