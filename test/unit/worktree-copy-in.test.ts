import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { pipeline } from "node:stream/promises";
import * as tarStream from "tar-stream";
import { packParts } from "../../src/bottle/archive.js";
import { workTreePart } from "../../src/bottle/worktree-copy-in.js";

const dir = mkdtempSync(join(tmpdir(), "copy-in-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, { cwd, env: { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_NOSYSTEM: "1" } });

test("every repository config is held back from the archive and comes after it without credentials; nothing else is touched", async () => {
  const ws = join(dir, "ws");
  mkdirSync(ws);
  git(ws, "init", "--quiet", "-b", "main");
  git(ws, "config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0");
  // A branch named config, and a work-tree file named config: data, not configs.
  mkdirSync(join(ws, ".git/refs/heads"), { recursive: true });
  writeFileSync(join(ws, ".git/refs/heads/config"), `${"a".repeat(40)}\n`);
  writeFileSync(join(ws, "config"), "app settings with extraheader in them\n");
  // A nested clone, with its own token.
  mkdirSync(join(ws, "vendor/lib"), { recursive: true });
  git(join(ws, "vendor/lib"), "init", "--quiet");
  git(join(ws, "vendor/lib"), "config", "remote.origin.url", "https://oauth2:tok3n@gitea.example.com/o/lib.git");

  const said: string[] = [];
  const part = workTreePart(ws, { uid: 1000, gid: 1000 }, "home/node/workspace", { info: (l) => said.push(l) });
  const names: string[] = [];
  const files = new Map<string, Buffer>();
  const extract = tarStream.extract();
  extract.on("entry", (header, stream, next) => {
    names.push(header.name);
    const chunks: Buffer[] = [];
    stream.on("data", (c) => chunks.push(c as Buffer));
    stream.on("end", () => (files.set(header.name, Buffer.concat(chunks)), next()));
  });
  await pipeline(packParts([part]) as unknown as NodeJS.ReadableStream, extract as unknown as NodeJS.WritableStream);

  const configNames = ["home/node/workspace/.git/config", "home/node/workspace/vendor/lib/.git/config"];
  // Each config comes once, after every other entry: the tree is in place when it is written.
  expect(names.filter((n) => configNames.includes(n)).sort()).toEqual(configNames);
  expect(names.slice(-2).sort()).toEqual(configNames);
  // No directory entry rides along with them (it would reset the modes of the tree's directories).
  expect(names.filter((n) => n === "home/node/workspace/.git")).toHaveLength(1);
  expect(files.get("home/node/workspace/.git/refs/heads/config")?.toString()).toBe(`${"a".repeat(40)}\n`);
  expect(files.get("home/node/workspace/config")?.toString()).toContain("extraheader");
  const text = configNames.map((n) => String(files.get(n))).join("\n");
  expect(text).not.toMatch(/extraheader|c2VjcmV0|tok3n/);
  expect(text).toContain("https://gitea.example.com/o/lib.git");
  expect(text).toContain("repositoryformatversion");
  expect(said).toHaveLength(1);
  expect(said[0]).toContain(
    "removed credentials from the bottle's copy of the repository config: http.https://github.com/.extraheader, " +
      "remote.origin.url (its user and password) in vendor/lib/.git/config.",
  );
});
