/**
 * The agent's commits, brought back into the host's repository without taking
 * anything else from the bottle's `.git`.
 *
 * The bottle's `.git` is agent-written: its config, hooks, `info/`, include files,
 * alternates, sequencer todo lists and submodule repositories could each make the
 * host's git run a program. So none of it is copied, and git never runs on it:
 *
 * 1. a scratch bare repository is made with the host's git and its own empty config;
 * 2. only the agent's object files (by their names: loose objects, packs), its
 *    branches, tags, HEAD and shallow list (each checked to be nothing but object ids
 *    and ref names) are copied into it;
 * 3. the host's repository fetches from it with `fetch.fsckObjects` (every object is
 *    hashed and checked by the host's git) into a namespace of its own;
 * 4. branches, tags and HEAD are moved as worktree-refs.ts decides, the namespace is
 *    removed, and the index is reset to the new HEAD.
 *
 * The host's `.git/config`, hooks and `info/` are never written.
 */
import { existsSync, lstatSync } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { git, gitOk, hostHasGit } from "./host-git.js";
import { type Head, planRefs } from "./worktree-refs.js";

const OID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const LOOSE_DIR = /^[0-9a-f]{2}$/;
const LOOSE_FILE = /^[0-9a-f]{38}(?:[0-9a-f]{24})?$/;
const PACK_FILE = /^pack-[0-9a-f]{40}(?:[0-9a-f]{24})?\.(?:pack|idx|rev)$/;
const INCOMING = "refs/claude-bottle/incoming";

/** A branch or tag name as git would accept it, and nothing that could be read as anything else. */
export function isPlainRefName(ref: string): boolean {
  if (!/^refs\/(heads|tags)\/[A-Za-z0-9._\-+@/]+$/.test(ref)) return false;
  return (
    ref
      .split("/")
      .every((part) => part !== "" && !part.startsWith(".") && !part.endsWith(".lock") && !part.endsWith(".")) &&
    !ref.includes("..") &&
    !ref.includes("@{")
  );
}

function isFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

function isDir(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The agent's branches and tags: loose ref files over packed-refs lines, each checked. */
async function readAgentRefs(gitDir: string): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  const packed = join(gitDir, "packed-refs");
  if (isFile(packed)) {
    for (const line of (await readFile(packed, "utf8")).split("\n")) {
      const m = /^([0-9a-f]{40,64}) (\S+)$/.exec(line);
      if (m && OID.test(m[1] as string) && isPlainRefName(m[2] as string)) refs.set(m[2] as string, m[1] as string);
    }
  }
  const visit = async (dir: string, ref: string): Promise<void> => {
    if (!isDir(dir)) return;
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const name = `${ref}/${entry.name}`;
      if (entry.isDirectory()) await visit(path, name);
      else if (entry.isFile() && isPlainRefName(name)) {
        const oid = (await readFile(path, "utf8")).trim();
        if (OID.test(oid)) refs.set(name, oid);
      }
    }
  };
  await visit(join(gitDir, "refs", "heads"), "refs/heads");
  await visit(join(gitDir, "refs", "tags"), "refs/tags");
  return refs;
}

async function readAgentHead(gitDir: string, refs: ReadonlyMap<string, string>): Promise<Head> {
  const text = isFile(join(gitDir, "HEAD")) ? (await readFile(join(gitDir, "HEAD"), "utf8")).trim() : "";
  const symref = /^ref: (\S+)$/.exec(text)?.[1];
  if (symref !== undefined)
    return isPlainRefName(symref) && symref.startsWith("refs/heads/")
      ? { symref, oid: refs.get(symref) ?? null }
      : { symref: null, oid: null };
  return { symref: null, oid: OID.test(text) ? text : null };
}

/** Links (or, across file systems, copies) the object files, picked by name only, into the scratch repository. */
async function copyObjects(from: string, to: string): Promise<void> {
  if (!isDir(from)) return;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(from, entry.name);
    const pattern = LOOSE_DIR.test(entry.name) ? LOOSE_FILE : entry.name === "pack" ? PACK_FILE : null;
    if (!pattern) continue;
    const files = (await readdir(dir, { withFileTypes: true })).filter((f) => f.isFile() && pattern.test(f.name));
    if (!files.length) continue;
    await mkdir(join(to, entry.name), { recursive: true });
    for (const f of files) {
      const [src, dst] = [join(dir, f.name), join(to, entry.name, f.name)];
      await link(src, dst).catch(() => copyFile(src, dst));
    }
  }
}

async function hostRefs(workspace: string): Promise<Map<string, string>> {
  const out = await gitOk(["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads", "refs/tags"], workspace);
  return new Map(
    out
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(l.indexOf(" ") + 1), l.slice(0, l.indexOf(" "))]),
  );
}

async function hostHead(workspace: string): Promise<Head> {
  const symref = (await git(["symbolic-ref", "-q", "HEAD"], workspace)).stdout.trim() || null;
  const oid = (await git(["rev-parse", "-q", "--verify", "HEAD^{commit}"], workspace)).stdout.trim() || null;
  return { symref, oid };
}

/**
 * Brings the commits of the agent's repository at `agentGitDir` into the repository
 * of `workspace`. Returns notes for the person (what was kept aside, what could not
 * be brought back); never throws for something the agent did.
 */
export async function bringBackHistory(agentGitDir: string, workspace: string, identity: string): Promise<string[]> {
  if (!isDir(agentGitDir)) return [];
  if (!existsSync(join(workspace, ".git"))) {
    return [`the bottle's repository (.git) was not copied back: ${workspace} has none of its own; its files were`];
  }
  if (!(await hostHasGit()))
    return ["git is not installed on this runner: the agent's commits were not brought back (its changed files were)"];
  // Beside the snapshot (in the state directory), so the objects can be linked rather than copied.
  const scratch = await mkdtemp(join(dirname(dirname(agentGitDir)), ".history-"));
  try {
    const format = (await git(["rev-parse", "--show-object-format"], workspace)).stdout.trim() || "sha1";
    await gitOk(["init", "--bare", "--quiet", "--template=", `--object-format=${format}`, scratch]);
    await copyObjects(join(agentGitDir, "objects"), join(scratch, "objects"));
    const agent = await readAgentRefs(agentGitDir);
    const agentHead = await readAgentHead(agentGitDir, agent);
    const offered = new Map(agent);
    if (agentHead.symref === null && agentHead.oid !== null)
      offered.set("refs/heads/claude-bottle-head", agentHead.oid);
    if (offered.size === 0) return [];
    await writeFile(join(scratch, "packed-refs"), [...offered].map(([ref, oid]) => `${oid} ${ref}\n`).join(""));
    const shallow = join(agentGitDir, "shallow");
    if (isFile(shallow)) {
      const lines = (await readFile(shallow, "utf8")).split("\n").filter(Boolean);
      if (lines.every((l) => OID.test(l))) await writeFile(join(scratch, "shallow"), `${lines.join("\n")}\n`);
    }
    const fetched = await git(
      [
        "-c",
        "fetch.fsckObjects=true",
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-recurse-submodules",
        "--no-write-fetch-head",
        "--update-shallow",
        scratch,
        `+refs/heads/*:${INCOMING}/heads/*`,
        `+refs/tags/*:${INCOMING}/tags/*`,
      ],
      workspace,
    );
    if (fetched.code !== 0) {
      return [
        `the agent's commits were not brought back (its changed files were): git fetch refused them: ` +
          `${fetched.stderr.trim().split("\n").slice(-2).join(" ")}`,
      ];
    }
    const plan = await planRefs({
      identity,
      host: await hostRefs(workspace),
      agent,
      hostHead: await hostHead(workspace),
      agentHead,
      isAncestor: async (a, b) => (await git(["merge-base", "--is-ancestor", a, b], workspace)).code === 0,
    });
    const notes = [...plan.notes];
    for (const u of plan.updates) {
      const run = await git(
        ["update-ref", "-m", `claude-bottle: from ${identity}`, u.ref, u.to, u.from ?? ""],
        workspace,
      );
      if (run.code !== 0) notes.push(`${u.ref} was not updated: ${run.stderr.trim()}`);
    }
    if (plan.head && "symref" in plan.head) await gitOk(["symbolic-ref", "HEAD", plan.head.symref], workspace);
    if (plan.head && "detached" in plan.head)
      await gitOk(["update-ref", "--no-deref", "HEAD", plan.head.detached], workspace);
    if (plan.resetIndex) await gitOk(["reset", "--quiet"], workspace);
    return notes;
  } catch (error) {
    return [
      `the agent's commits were not brought back (its changed files were): ` +
        `${error instanceof Error ? error.message : String(error)}`,
    ];
  } finally {
    await removeIncoming(workspace);
    await rm(scratch, { recursive: true, force: true });
  }
}

async function removeIncoming(workspace: string): Promise<void> {
  const refs = await git(["for-each-ref", "--format=%(refname)", INCOMING], workspace);
  const lines = refs.stdout.split("\n").filter(Boolean);
  for (const ref of lines) await git(["update-ref", "-d", ref], workspace);
}
