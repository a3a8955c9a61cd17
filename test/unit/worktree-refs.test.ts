import { describe, expect, test } from "vitest";
import { type Head, type RefPlan, planRefs } from "../../src/bottle/worktree-refs.js";

// Commits as single letters; history is a → b → c on one line, with x branching off a.
const PARENT: Record<string, string | undefined> = { b: "a", c: "b", x: "a", y: "x" };
const oid = (c: string) => c.repeat(40);
async function isAncestor(a: string, b: string): Promise<boolean> {
  for (let at: string | undefined = b[0]; at !== undefined; at = PARENT[at]) if (oid(at) === a) return true;
  return false;
}
const refs = (m: Record<string, string>) => new Map(Object.entries(m).map(([k, v]) => [k, oid(v)]));
const on = (branch: string, commit: string | null): Head => ({
  symref: `refs/heads/${branch}`,
  oid: commit === null ? null : oid(commit),
});
const detached = (commit: string): Head => ({ symref: null, oid: oid(commit) });

interface Case {
  name: string;
  host: Record<string, string>;
  agent: Record<string, string>;
  hostHead: Head;
  agentHead: Head;
  want: Partial<Omit<RefPlan, "updates">> & { updates?: [string, string, string | null][] };
}

const CASES: Case[] = [
  {
    name: "the agent committed on the checked-out branch: it moves forward, the index follows",
    host: { "refs/heads/main": "a" },
    agent: { "refs/heads/main": "c" },
    hostHead: on("main", "a"),
    agentHead: on("main", "c"),
    want: { updates: [["refs/heads/main", "c", "a"]], head: null, resetIndex: true, notes: [] },
  },
  {
    name: "nothing committed: nothing moves",
    host: { "refs/heads/main": "a" },
    agent: { "refs/heads/main": "a" },
    hostHead: on("main", "a"),
    agentHead: on("main", "a"),
    want: { updates: [], head: null, resetIndex: false, notes: [] },
  },
  {
    name: "a new branch the agent switched to: created, HEAD follows",
    host: { "refs/heads/main": "a" },
    agent: { "refs/heads/main": "a", "refs/heads/fix": "b" },
    hostHead: on("main", "a"),
    agentHead: on("fix", "b"),
    want: { updates: [["refs/heads/fix", "b", null]], head: { symref: "refs/heads/fix" }, resetIndex: true },
  },
  {
    name: "rewritten history (an amend): the host's branch stays, the agent's is kept beside it",
    host: { "refs/heads/main": "b" },
    agent: { "refs/heads/main": "x" },
    hostHead: on("main", "b"),
    agentHead: on("main", "x"),
    want: {
      updates: [["refs/heads/claude-bottle/w-abcde/main", "x", null]],
      head: null,
      resetIndex: false,
      notes: [expect.stringContaining("rewrote the history of branch main") as unknown as string],
    },
  },
  {
    name: "a branch the agent deleted stays; a new tag is created; an existing tag never moves",
    host: { "refs/heads/main": "a", "refs/heads/old": "a", "refs/tags/v1": "a" },
    agent: { "refs/heads/main": "a", "refs/tags/v1": "b", "refs/tags/v2": "b" },
    hostHead: on("main", "a"),
    agentHead: on("main", "a"),
    want: {
      updates: [["refs/tags/v2", "b", null]],
      resetIndex: false,
      notes: [expect.stringContaining("tag v1 differs") as unknown as string],
    },
  },
  {
    name: "a detached checkout (a pull request) the agent committed on: HEAD moves forward, still detached",
    host: {},
    agent: {},
    hostHead: detached("a"),
    agentHead: detached("c"),
    want: { updates: [], head: { detached: oid("c") }, resetIndex: true },
  },
  {
    name: "the agent detached HEAD on a branch checkout: the commit is kept as a branch, HEAD stays",
    host: { "refs/heads/main": "a" },
    agent: { "refs/heads/main": "a" },
    hostHead: on("main", "a"),
    agentHead: detached("x"),
    want: { updates: [["refs/heads/claude-bottle/w-abcde/head", "x", null]], head: null, resetIndex: false },
  },
  {
    name: "an unborn branch: the agent's first commit creates it and fills the index",
    host: {},
    agent: { "refs/heads/main": "a" },
    hostHead: on("main", null),
    agentHead: on("main", "a"),
    want: { updates: [["refs/heads/main", "a", null]], head: null, resetIndex: true },
  },
  {
    name: "the agent moved main forward, then switched to a rewritten branch: main moves, HEAD stays on it",
    host: { "refs/heads/main": "a", "refs/heads/topic": "b" },
    agent: { "refs/heads/main": "b", "refs/heads/topic": "x" },
    hostHead: on("main", "a"),
    agentHead: on("topic", "x"),
    want: {
      updates: [
        ["refs/heads/main", "b", "a"],
        ["refs/heads/claude-bottle/w-abcde/topic", "x", null],
      ],
      head: null,
      resetIndex: true,
    },
  },
];

describe("which refs the agent's history moves", () => {
  test.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const plan = await planRefs({
      identity: "w-abcde",
      host: refs(c.host),
      agent: refs(c.agent),
      hostHead: c.hostHead,
      agentHead: c.agentHead,
      isAncestor,
    });
    const { updates, ...rest } = c.want;
    if (updates)
      expect(plan.updates).toEqual(
        updates.map(([ref, to, from]) => ({ ref, to: oid(to), from: from === null ? null : oid(from) })),
      );
    expect(plan).toMatchObject(rest);
  });
});
