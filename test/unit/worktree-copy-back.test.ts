/**
 * The copy-back on real directories and the host's real git: what lands in the work
 * tree, what never does, and the agent's commits coming back through a fetch.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, test } from "vitest";
import { copyWorkTreeBack, inGitDir } from "../../src/bottle/worktree-copy-back.js";

const root = mkdtempSync(join(tmpdir(), "copy-back-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let base: string;
let markers: string;
beforeEach(() => {
  base = mkdtempSync(join(root, "case-"));
  markers = join(base, "markers");
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=T", "-c", "user.email=t@example.com", ...args], {
    cwd,
    encoding: "utf8",
    env: { PATH: process.env.PATH, HOME: base, GIT_CONFIG_NOSYSTEM: "1" },
  });
}

const log = () => {
  const lines: string[] = [];
  return { lines, warn: (l: string) => lines.push(`warn: ${l}`), info: (l: string) => lines.push(l) };
};

function plantHook(gitDir: string, name: string): void {
  mkdirSync(join(gitDir, "hooks"), { recursive: true });
  writeFileSync(join(gitDir, "hooks", name), `#!/bin/sh\nmkdir -p ${markers}; echo ran >> ${markers}/${name}\n`);
  chmodSync(join(gitDir, "hooks", name), 0o755);
}

/** An origin with three commits, and a shallow checkout of it (as actions/checkout makes by default). */
function shallowCheckout(): { host: string } {
  const origin = join(base, "origin");
  mkdirSync(origin);
  git(origin, "init", "--quiet", "-b", "main");
  for (const i of [1, 2, 3]) {
    writeFileSync(join(origin, "file.txt"), `version ${i}\n`);
    git(origin, "add", "-A");
    git(origin, "commit", "--quiet", "-m", `commit ${i}`);
  }
  const host = join(base, "host");
  git(base, "clone", "--quiet", "--depth", "1", `file://${origin}`, host);
  return { host };
}

/** The bottle's copy of the host's work tree, as the snapshot holds it after the session. */
function bottleCopy(host: string): string {
  const snapshot = join(base, "snapshot");
  cpSync(host, snapshot, { recursive: true, verbatimSymlinks: true });
  return snapshot;
}

describe("what never comes back", () => {
  test.each([
    [".git", true],
    [".git/config", true],
    ["sub/.git/hooks/pre-commit", true],
    [".GIT/config", true],
    ["a/.Git", true],
    [".github/workflows/ci.yml", false],
    [".gitignore", false],
    ["x.git", false],
    ["src/.gitkeep", false],
  ])("%s in a git directory: %s", (rel, expected) => {
    expect(inGitDir(rel)).toBe(expected);
  });

  test("config, hooks and info of the agent's repository, nested repositories, files under the host's hooksPath", async () => {
    const { host } = shallowCheckout();
    git(host, "config", "core.hooksPath", ".husky");
    mkdirSync(join(host, ".husky"));
    writeFileSync(join(host, ".husky", "pre-commit"), "#!/bin/sh\nnpm test\n");
    const snapshot = bottleCopy(host);
    const hostConfig = readFileSync(join(host, ".git/config"), "utf8");
    git(snapshot, "config", "core.fsmonitor", `mkdir -p ${markers}; echo ran >> ${markers}/fsmonitor; false`);
    plantHook(join(snapshot, ".git"), "post-checkout");
    writeFileSync(join(snapshot, ".git/info/attributes"), "* filter=evil\n");
    writeFileSync(
      join(snapshot, ".husky", "pre-commit"),
      `#!/bin/sh\nmkdir -p ${markers}; echo ran >> ${markers}/husky\n`,
    );
    mkdirSync(join(snapshot, "vendor/lib/.git/hooks"), { recursive: true });
    writeFileSync(join(snapshot, "vendor/lib/.git/config"), "[core]\n\tfsmonitor = evil\n");
    writeFileSync(join(snapshot, "vendor/lib/index.js"), "module.exports = 1;\n");
    writeFileSync(join(snapshot, "new.txt"), "new\n");
    const l = log();

    const { notes } = await copyWorkTreeBack(snapshot, host, "w-abcde", l);
    expect(notes).toEqual([]);
    expect(readFileSync(join(host, "new.txt"), "utf8")).toBe("new\n");
    expect(readFileSync(join(host, "vendor/lib/index.js"), "utf8")).toBe("module.exports = 1;\n");
    expect(existsSync(join(host, "vendor/lib/.git"))).toBe(false);
    expect(readFileSync(join(host, ".git/config"), "utf8")).toBe(hostConfig);
    expect(readdirSync(join(host, ".git/hooks")).filter((h) => !h.endsWith(".sample"))).toEqual([]);
    expect(existsSync(join(host, ".git/info/attributes"))).toBe(false);
    expect(readFileSync(join(host, ".husky/pre-commit"), "utf8")).toBe("#!/bin/sh\nnpm test\n");
    expect(l.lines.join("\n")).toMatch(
      /left out the agent's \.git\/config, \.git\/hooks\/post-checkout, \.git\/info\/attributes .*\.husky\/pre-commit \(the host's git config runs \.husky\).*the \.git of 1 repository nested/,
    );
    git(host, "status");
    git(host, "checkout", "--quiet", "-b", "probe");
    git(host, "commit", "--quiet", "--no-verify", "--allow-empty", "-m", "probe");
    expect(existsSync(markers)).toBe(false);
  });

  test("a changed .gitmodules comes back with a note; an unchanged one without", async () => {
    const host = join(base, "host");
    const snapshot = join(base, "snapshot");
    mkdirSync(host);
    mkdirSync(snapshot);
    writeFileSync(join(host, ".gitmodules"), '[submodule "lib"]\n\turl = https://example.com/lib.git\n');
    writeFileSync(join(snapshot, ".gitmodules"), '[submodule "lib"]\n\turl = https://evil.test/lib.git\n');
    expect((await copyWorkTreeBack(snapshot, host, "w-abcde", log())).notes).toEqual([
      expect.stringContaining("the agent changed .gitmodules"),
    ]);
    expect(readFileSync(join(host, ".gitmodules"), "utf8")).toContain("evil.test");
    expect((await copyWorkTreeBack(snapshot, host, "w-abcde", log())).notes).toEqual([]);
  });

  test("nothing is written through a link on the host; a link in a file's way is replaced", async () => {
    const host = join(base, "host");
    const outside = join(base, "outside");
    mkdirSync(host);
    mkdirSync(outside);
    writeFileSync(join(outside, "target.txt"), "outside\n");
    symlinkSync("../outside", join(host, "docs"));
    symlinkSync("../outside/target.txt", join(host, "out.txt"));
    const snapshot = join(base, "snapshot");
    mkdirSync(join(snapshot, "docs"), { recursive: true });
    writeFileSync(join(snapshot, "docs/planted.md"), "x\n");
    writeFileSync(join(snapshot, "out.txt"), "the agent's\n");
    writeFileSync(join(snapshot, "a.txt"), "a\n");
    symlinkSync("a.txt", join(snapshot, "inner"));
    const l = log();
    await copyWorkTreeBack(snapshot, host, "w-abcde", l);
    expect(readdirSync(outside)).toEqual(["target.txt"]);
    expect(readFileSync(join(outside, "target.txt"), "utf8")).toBe("outside\n");
    expect(lstatSync(join(host, "out.txt")).isFile()).toBe(true);
    expect(readFileSync(join(host, "out.txt"), "utf8")).toBe("the agent's\n");
    expect(readlinkSync(join(host, "inner"))).toBe("a.txt");
    expect(l.lines.join("\n")).toContain("docs/ (a link on your side)");
  });
});

describe("the agent's commits come back through the host's git", () => {
  test("a shallow checkout: the branch moves forward, HEAD and the index follow, nothing of the agent's .git runs", async () => {
    const { host } = shallowCheckout();
    const snapshot = bottleCopy(host);
    writeFileSync(join(snapshot, "file.txt"), "fixed by the agent\n");
    git(snapshot, "commit", "--quiet", "-am", "agent fix");
    writeFileSync(join(snapshot, "wip.txt"), "uncommitted\n");
    // Plants that would run if git ever worked in the agent's repository.
    git(snapshot, "config", "core.fsmonitor", `mkdir -p ${markers}; echo ran >> ${markers}/fsmonitor; false`);
    git(
      snapshot,
      "config",
      "uploadpack.packObjectsHook",
      `sh -c 'mkdir -p ${markers}; echo ran >> ${markers}/pack-hook'; exec`,
    );
    git(
      snapshot,
      "config",
      "core.alternateRefsCommand",
      `sh -c 'mkdir -p ${markers}; echo ran >> ${markers}/alternate-refs'`,
    );
    for (const hook of ["pre-push", "reference-transaction", "post-checkout", "post-index-change"])
      plantHook(join(snapshot, ".git"), hook);
    writeFileSync(join(snapshot, ".git/objects/info/alternates"), `${join(base, "origin/.git/objects")}\n`);
    const agentHead = git(snapshot, "rev-parse", "HEAD").trim();

    const { notes } = await copyWorkTreeBack(snapshot, host, "w-abcde", log());
    expect(notes).toEqual([]);
    expect(git(host, "rev-parse", "HEAD").trim()).toBe(agentHead);
    expect(git(host, "log", "--format=%s").trim().split("\n")).toEqual(["agent fix", "commit 3"]);
    expect(git(host, "status", "--porcelain")).toBe("?? wip.txt\n");
    expect(git(host, "for-each-ref", "--format=%(refname)")).not.toContain("claude-bottle");
    expect(existsSync(join(host, ".git/objects/info/alternates"))).toBe(false);
    expect(existsSync(markers)).toBe(false);
  });

  test("rewritten history: the host's branch stays, the agent's is kept beside it and named", async () => {
    const { host } = shallowCheckout();
    const before = git(host, "rev-parse", "HEAD").trim();
    const snapshot = bottleCopy(host);
    git(snapshot, "commit", "--quiet", "--amend", "-m", "commit 3, reworded");
    const { notes } = await copyWorkTreeBack(snapshot, host, "w-abcde", log());
    expect(notes).toEqual([expect.stringContaining("kept as claude-bottle/w-abcde/main")]);
    expect(git(host, "rev-parse", "HEAD").trim()).toBe(before);
    expect(git(host, "log", "-1", "--format=%s", "claude-bottle/w-abcde/main").trim()).toBe("commit 3, reworded");
  });

  test("objects that do not hash to their names are refused by the host's git; the files still come back", async () => {
    const { host } = shallowCheckout();
    const snapshot = bottleCopy(host);
    writeFileSync(join(snapshot, "file.txt"), "changed\n");
    git(snapshot, "commit", "--quiet", "-am", "agent commit");
    const head = git(snapshot, "rev-parse", "HEAD").trim();
    // Swap the new commit's object for another's bytes under the same name.
    const obj = join(snapshot, ".git/objects", head.slice(0, 2), head.slice(2));
    const other = git(snapshot, "rev-parse", "HEAD^{tree}").trim();
    chmodSync(obj, 0o644);
    cpSync(join(snapshot, ".git/objects", other.slice(0, 2), other.slice(2)), obj);
    const { notes } = await copyWorkTreeBack(snapshot, host, "w-abcde", log());
    expect(notes).toEqual([expect.stringContaining("the agent's commits were not brought back")]);
    expect(readFileSync(join(host, "file.txt"), "utf8")).toBe("changed\n");
    expect(git(host, "log", "-1", "--format=%s").trim()).toBe("commit 3");
  });

  test("a directory with no repository of its own: the agent's .git stays out, with a note", async () => {
    const host = join(base, "plain");
    mkdirSync(host);
    const snapshot = join(base, "snapshot");
    mkdirSync(snapshot);
    git(snapshot, "init", "--quiet", "-b", "main");
    writeFileSync(join(snapshot, "hello.txt"), "hello\n");
    const { notes } = await copyWorkTreeBack(snapshot, host, "w-abcde", log());
    expect(notes).toEqual([expect.stringContaining("was not copied back")]);
    expect(readdirSync(host)).toEqual(["hello.txt"]);
  });
});
