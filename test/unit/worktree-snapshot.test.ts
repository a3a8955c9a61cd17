import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import * as tarStream from "tar-stream";
import { afterAll, describe, expect, test } from "vitest";
import { extractSnapshot } from "../../src/bottle/worktree-snapshot.js";

const root = mkdtempSync(join(tmpdir(), "snapshot-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

type Entry = Partial<tarStream.Header> & { name: string; body?: string };

/** An archive as the engine's getArchive of /home/node/workspace gives it: entries under `workspace/`. */
async function archive(entries: Entry[]): Promise<Readable> {
  const pack = tarStream.pack();
  for (const { body, ...header } of [{ name: "workspace", type: "directory" as const }, ...entries])
    pack.entry(header, body ?? "");
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Readable.from([Buffer.concat(chunks)]);
}

let n = 0;
async function snapshot(entries: Entry[]) {
  const base = join(root, `case-${n++}`);
  const dir = join(base, "snap");
  mkdirSync(base);
  writeFileSync(join(base, "neighbour.txt"), "untouched\n");
  const leftOut = await extractSnapshot(await archive(entries), dir, 1);
  return { base, dir, leftOut, names: leftOut.map((l) => l.path).sort() };
}

const isLink = (p: string) => {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
};

describe("a snapshot never fails on what the agent left in its work tree", () => {
  test("links inside stay links; links out, up or absolute are left out and reported", async () => {
    const { dir, names, base } = await snapshot([
      { name: "workspace/work.txt", body: "the work\n" },
      { name: "workspace/docs", type: "directory" },
      { name: "workspace/docs/guide.md", body: "guide\n" },
      { name: "workspace/inner", type: "symlink", linkname: "work.txt" },
      { name: "workspace/docs/up-one", type: "symlink", linkname: "../work.txt" },
      { name: "workspace/passwd", type: "symlink", linkname: "/etc/passwd" },
      { name: "workspace/inside-abs", type: "symlink", linkname: "/home/node/workspace/work.txt" },
      { name: "workspace/up", type: "symlink", linkname: "../neighbour.txt" },
      { name: "workspace/docs/far", type: "symlink", linkname: "../../../../.." },
    ]);
    expect(readFileSync(join(dir, "work.txt"), "utf8")).toBe("the work\n");
    expect(readlinkSync(join(dir, "inner"))).toBe("work.txt");
    expect(readlinkSync(join(dir, "docs/up-one"))).toBe("../work.txt");
    expect(names).toEqual(["docs/far", "inside-abs", "passwd", "up"]);
    for (const name of names) expect(isLink(join(dir, name))).toBe(false);
    expect(readdirSync(base).sort()).toEqual(["neighbour.txt", "snap"]);
  });

  test("a link that climbs out through another link is removed once both are there", async () => {
    // x/y -> .. is the top, so z -> x/y/.. is the directory above it, though it reads as x.
    const { dir, names } = await snapshot([
      { name: "workspace/x", type: "directory" },
      { name: "workspace/x/y", type: "symlink", linkname: ".." },
      { name: "workspace/z", type: "symlink", linkname: "x/y/../neighbour.txt" },
      { name: "workspace/chain", type: "symlink", linkname: "x/y/x" },
    ]);
    expect(names).toEqual(["z"]);
    expect(isLink(join(dir, "z"))).toBe(false);
    expect(readlinkSync(join(dir, "chain"))).toBe("x/y/x");
  });

  test("fifos and devices are left out; a hard link to a file stays, one to something left out goes", async () => {
    const { dir, names } = await snapshot([
      { name: "workspace/a.txt", body: "a\n" },
      { name: "workspace/same.txt", type: "link", linkname: "workspace/a.txt" },
      { name: "workspace/pipe", type: "fifo" },
      { name: "workspace/null", type: "character-device", devmajor: 1, devminor: 3 },
      { name: "workspace/to-pipe", type: "link", linkname: "workspace/pipe" },
      { name: "workspace/dangling", type: "symlink", linkname: "nowhere" },
    ]);
    expect(names).toEqual(["dangling", "null", "pipe", "to-pipe"]);
    expect(readFileSync(join(dir, "same.txt"), "utf8")).toBe("a\n");
    expect(lstatSync(join(dir, "same.txt")).ino).toBe(lstatSync(join(dir, "a.txt")).ino);
  });

  test("nothing is written through a link: an entry below one is left out, not followed", async () => {
    const base = join(root, "below-link");
    mkdirSync(join(base, "outside"), { recursive: true });
    const dir = join(base, "snap");
    const leftOut = await extractSnapshot(
      await archive([
        { name: "workspace/out", type: "symlink", linkname: "../outside" },
        { name: "workspace/out/pwned", body: "x" },
        { name: "workspace/d", type: "directory" },
        { name: "workspace/in", type: "symlink", linkname: "d" },
        { name: "workspace/in/planted", body: "x" },
        { name: "workspace/in/deeper/planted", body: "x" },
        { name: "workspace/f", body: "x" },
        { name: "workspace/f/below-a-file", body: "x" },
      ]),
      dir,
      1,
    );
    expect(leftOut.map((l) => l.path)).toEqual(["out", "in/planted", "in/deeper/planted", "f/below-a-file"]);
    expect(readdirSync(join(base, "outside"))).toEqual([]);
    expect(readdirSync(join(dir, "d"))).toEqual([]);
    expect(readFileSync(join(dir, "out/pwned"), "utf8")).toBe("x");
  });
});
