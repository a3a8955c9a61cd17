import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { readTarFiles } from "../../src/bottle/archive.js";
import { packWorkTree } from "../../src/bottle/worktree-copy-in.js";

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

  const copy = packWorkTree(ws, { uid: 1000, gid: 1000 }, "workspace");
  const files = await readTarFiles(copy.tar, 64 * 1024 * 1024);
  const { files: configs, removed } = await copy.configs();

  expect(files.has("workspace/.git/config")).toBe(false);
  expect(files.has("workspace/vendor/lib/.git/config")).toBe(false);
  expect(files.get("workspace/.git/refs/heads/config")?.toString()).toBe(`${"a".repeat(40)}\n`);
  expect(files.get("workspace/config")?.toString()).toContain("extraheader");
  expect(configs.map((f) => f.name).sort()).toEqual(["workspace/.git/config", "workspace/vendor/lib/.git/config"]);
  const text = configs.map((f) => String(f.content)).join("\n");
  expect(text).not.toMatch(/extraheader|c2VjcmV0|tok3n/);
  expect(text).toContain("https://gitea.example.com/o/lib.git");
  expect(text).toContain("repositoryformatversion");
  expect(removed).toEqual([
    "http.https://github.com/.extraheader",
    "remote.origin.url (its user and password) in vendor/lib/.git/config",
  ]);
});
