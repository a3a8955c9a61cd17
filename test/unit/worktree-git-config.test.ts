import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import {
  type ConfigEntry,
  parseConfigList,
  serializeConfig,
  stripCredentials,
  withoutCredentials,
} from "../../src/bottle/worktree-git-config.js";

const dir = mkdtempSync(join(tmpdir(), "git-config-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** git's own reading of a config file's text: the parser the runner uses. */
function gitList(text: string): string {
  const file = join(dir, `config-${n++}`);
  writeFileSync(file, text);
  return execFileSync("git", ["config", "--file", file, "--no-includes", "--null", "--list"], { encoding: "utf8" });
}

const TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");

/** A checkout's config as actions/checkout (v4, and v6's includeIf) and hand-made setups leave it. */
const CHECKOUT = `[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = false
\tlogallrefupdates = true
[remote "origin"]
\turl = https://x-access-token:${TOKEN}@github.com/octo/widgets
\tfetch = +refs/heads/*:refs/remotes/origin/*
[branch "main"]
\tremote = origin
\tmerge = refs/heads/main
[http "https://github.com/"]
\textraheader = AUTHORIZATION: basic ${BASIC}
[HTTP "https://github.com/"]
\tExtraHeader = AUTHORIZATION: basic ${BASIC}
[http]
\textraHeader = AUTHORIZATION: bearer ${TOKEN}
[credential]
\thelper = store --file=/runner/temp/.git-credentials
[credential "https://github.com"]
\tusername = x-access-token
[includeIf "gitdir:/home/runner/work/widgets/widgets/.git"]
\tpath = /home/runner/work/_temp/git-credentials-5c0b.config
[include]
\tpath = ../creds.inc
[url "https://x-access-token:${TOKEN}@github.com/"]
\tinsteadOf = https://github.com/
[url "https://${TOKEN}@gitea.example.com/"]
\tinsteadOf = https://gitea.example.com/
[url "ssh://git@github.com/"]
\tpushInsteadOf = https://github.com/
[submodule "lib"]
\turl = https://oauth2:${TOKEN}@gitea.example.com/octo/lib.git
\tactive = true
[core]
\taskPass = /runner/temp/askpass.sh
[remote "mirror"]
\turl = ssh://git:${TOKEN}@example.com/widgets.git
\tpushurl = git@github.com:octo/widgets.git
`;

describe("the credentials a checkout leaves in its config", () => {
  const { kept, removed } = stripCredentials(parseConfigList(gitList(CHECKOUT)));
  const text = serializeConfig(kept);

  test("none of the token's forms reach the bottle's config", () => {
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(BASIC);
    expect(text).not.toMatch(/extraheader|credential|include|askpass/i);
  });

  test("what the repository needs is kept, and URLs lose only their user and password", () => {
    const list = gitList(text);
    expect(list).toContain("remote.origin.url\nhttps://github.com/octo/widgets\0");
    expect(list).toContain("remote.origin.fetch\n+refs/heads/*:refs/remotes/origin/*\0");
    expect(list).toContain("branch.main.merge\nrefs/heads/main\0");
    expect(list).toContain("submodule.lib.url\nhttps://gitea.example.com/octo/lib.git\0");
    expect(list).toContain("url.ssh://git@github.com/.pushinsteadof\nhttps://github.com/\0");
    expect(list).toContain("remote.mirror.url\nssh://git@example.com/widgets.git\0");
    expect(list).toContain("remote.mirror.pushurl\ngit@github.com:octo/widgets.git\0");
    expect(list).toContain("core.repositoryformatversion\n0\0");
  });

  test("the log names what was removed, never a value or a URL's user and password", () => {
    expect(removed).toEqual([
      "remote.origin.url (its user and password)",
      "http.https://github.com/.extraheader",
      "http.extraheader",
      "credential.helper",
      "credential.https://github.com.username",
      "includeif.gitdir:/home/runner/work/widgets/widgets/.git.path",
      "include.path",
      "url.https://…@github.com/.insteadof",
      "url.https://…@gitea.example.com/.insteadof",
      "submodule.lib.url (its user and password)",
      "core.askpass",
      "remote.mirror.url (its user and password)",
    ]);
    expect(removed.join(" ")).not.toContain(TOKEN);
  });
});

describe("the written config reads back, through git, as exactly the entries kept", () => {
  const TRICKY = `; a comment
# another
[core]
\tbare
\teditor = "vim -c 'set tw=72'"
\tpager = less \\
  -R
\tquoted = "  spaces kept  "
\tescapes = "tab\\there, newline\\nthere, quote \\" and backslash \\\\"
\tsemi = "a;b#c"
\tempty =
[section "with \\"quotes\\" and \\\\ and.dots"]
\tkey = value
[old.Style]
\tkey = deprecated subsection syntax
[alias]
\tlg = log --graph --format='%h %s'
\tmulti = one
\tmulti = two
[remote "origin"]
\tfetch = +refs/heads/*:refs/remotes/origin/*
\tfetch = +refs/tags/*:refs/tags/*
`;

  test.each([
    ["a checkout's config", CHECKOUT],
    ["comments, continuations, escapes, bare booleans, odd subsections, repeated keys", TRICKY],
  ])("%s", (_name, text) => {
    const entries = parseConfigList(gitList(text));
    const { kept } = stripCredentials(entries);
    const written = serializeConfig(kept);
    expect(parseConfigList(gitList(written))).toEqual(kept);
  });

  test("a bare key stays a bare key (true), an empty value stays empty", () => {
    const entries = parseConfigList(gitList("[core]\n\tbare\n\tempty =\n"));
    expect(entries).toEqual<ConfigEntry[]>([
      { section: "core", subsection: null, name: "bare", value: null },
      { section: "core", subsection: null, name: "empty", value: "" },
    ]);
    expect(parseConfigList(gitList(serializeConfig(entries)))).toEqual(entries);
  });

  test("nothing but the entries: no comment or unparsed line survives", () => {
    const written = serializeConfig(parseConfigList(gitList(`# ${TOKEN}\n[core]\n\tbare = false ; ${TOKEN}\n`)));
    expect(written).toBe('[core]\n\tbare = "false"\n');
  });
});

describe("withoutCredentials", () => {
  test.each([
    ["https://x-access-token:tok@github.com/o/r", "https://github.com/o/r"],
    ["https://tok@github.com/o/r", "https://github.com/o/r"],
    ["HTTP://u:p@host:8080/x?y#z", "HTTP://host:8080/x?y#z"],
    ["ssh://git@github.com/o/r", "ssh://git@github.com/o/r"],
    ["ssh://git:secret@github.com/o/r", "ssh://git@github.com/o/r"],
    ["git@github.com:o/r.git", "git@github.com:o/r.git"],
    ["https://github.com/o/r", "https://github.com/o/r"],
    ["https://github.com/a@b", "https://github.com/a@b"],
    ["not a url user:pass@host", "not a url user:pass@host"],
  ])("%s → %s", (url, expected) => {
    expect(withoutCredentials(url)).toBe(expected);
  });
});
