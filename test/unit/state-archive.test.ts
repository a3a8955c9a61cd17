import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tarStream from "tar-stream";
import { describe, expect, test } from "vitest";
import { UnsafeArchiveError, checkStateArchive, packState, unpackState } from "../../src/state/archive.js";

const tmp = () => mkdtempSync(join(tmpdir(), "state-archive-"));

type Entry = Partial<tarStream.Header> & { name: string; body?: string };

async function tarOf(entries: Entry[]): Promise<string> {
  const pack = tarStream.pack();
  for (const { body, ...header } of entries) pack.entry(header, body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  const path = join(tmp(), "state.tar");
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}

const metadata: Entry = { name: "metadata.json", body: "{}" };

describe("state archives", () => {
  test("a state directory round-trips, inner symlinks included", async () => {
    const dir = tmp();
    mkdirSync(join(dir, "transcript/.claude/projects"), { recursive: true });
    writeFileSync(join(dir, "metadata.json"), '{"identity":"a-12345"}');
    writeFileSync(join(dir, "transcript/.claude/projects/s.jsonl"), "line\n");
    mkdirSync(join(dir, "workspace/node_modules/.bin"), { recursive: true });
    writeFileSync(join(dir, "workspace/tool.js"), "x");
    symlinkSync("../../tool.js", join(dir, "workspace/node_modules/.bin/tool"));
    const archive = join(tmp(), "state.tar");
    await packState(dir, archive);
    const target = join(tmp(), "state", "a-12345");
    await unpackState(archive, target);
    expect(readFileSync(join(target, "transcript/.claude/projects/s.jsonl"), "utf8")).toBe("line\n");
    expect(readFileSync(join(target, "workspace/node_modules/.bin/tool"), "utf8")).toBe("x");
  });

  test.each<[string, Entry[], RegExp]>([
    ["a .. path", [metadata, { name: "../escape.txt", body: "x" }], /"..\/escape.txt" climbs out/],
    ["a nested .. path", [metadata, { name: "transcript/../../escape.txt", body: "x" }], /climbs out/],
    ["an absolute path", [metadata, { name: "/etc/cron.d/evil", body: "x" }], /has an absolute path/],
    [
      "a symlink to /",
      [metadata, { name: "workspace/root", type: "symlink", linkname: "/" }],
      /symlink pointing outside/,
    ],
    [
      "a symlink climbing out",
      [metadata, { name: "workspace/up", type: "symlink", linkname: "../../.." }],
      /symlink pointing outside/,
    ],
    [
      "a file below an inner symlink",
      [
        metadata,
        { name: "transcript", type: "directory" },
        { name: "workspace/link", type: "symlink", linkname: "../transcript" },
        { name: "workspace/link/planted", body: "x" },
      ],
      /"workspace\/link\/planted" lies below the symlink "workspace\/link"/,
    ],
    [
      "a hardlink",
      [metadata, { name: "workspace/passwd", type: "link", linkname: "/etc/passwd" }],
      /is a link; only files/,
    ],
    [
      "a device",
      [metadata, { name: "workspace/sda", type: "block-device", devmajor: 8, devminor: 0 }],
      /is a block-device/,
    ],
    ["a fifo", [metadata, { name: "workspace/pipe", type: "fifo" }], /is a fifo/],
    ["no metadata", [{ name: "transcript/x", body: "x" }], /has no metadata.json/],
  ])("%s is refused and nothing is written", async (_name, entries, message) => {
    const archive = await tarOf(entries);
    const root = tmp();
    const target = join(root, "state", "a-12345");
    const error = await unpackState(archive, target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect(String((error as Error).message)).toMatch(message);
    expect(existsSync(target)).toBe(false);
    expect(existsSync(join(root, "escape.txt"))).toBe(false);
    expect(existsSync(join(root, "state")) ? readdirSync(join(root, "state")) : []).toEqual([]);
  });

  test("size and entry limits", async () => {
    const big = await tarOf([metadata, { name: "workspace/big", body: "x".repeat(10_000) }]);
    await expect(checkStateArchive(big, { maxBytes: 5_000, maxEntries: 100 })).rejects.toThrow(
      /larger than 5000 bytes/,
    );
    const many = await tarOf([metadata, ...Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, body: "" }))]);
    await expect(checkStateArchive(many, { maxBytes: 1e9, maxEntries: 10 })).rejects.toThrow(/more than 10 entries/);
  });

  test("garbage is refused as not a tar archive", async () => {
    const path = join(tmp(), "state.tar");
    writeFileSync(path, "this is not a tar file at all".repeat(40));
    await expect(checkStateArchive(path)).rejects.toThrow(UnsafeArchiveError);
  });
});

test("a tar cut inside an entry's data is refused as unreadable, not thrown past the caller", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cut-"));
  const pack = tarStream.pack();
  pack.entry({ name: "metadata.json" }, "{}");
  pack.entry({ name: "transcript/big.bin" }, Buffer.alloc(8192, 1));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  const archive = join(dir, "cut.tar");
  writeFileSync(archive, Buffer.concat(chunks).subarray(0, 512 * 4));
  await expect(unpackState(archive, join(dir, "state"))).rejects.toThrow(UnsafeArchiveError);
  await expect(unpackState(archive, join(dir, "state"))).rejects.toThrow(
    /^restored state refused: .*(cut short|Unexpected end of data)/,
  );
  expect(existsSync(join(dir, "state"))).toBe(false);
  expect(readdirSync(dir)).toEqual(["cut.tar"]);
});
