/**
 * Which of the agent's branches and tags move the host's, and where the host's HEAD
 * ends up: the rules of bringing the agent's history back, apart from git.
 *
 * - A branch the host lacks is created; one the agent moved forward (a fast-forward of
 *   the host's) is moved; one whose history the agent rewrote leaves the host's as it
 *   is and is kept beside it as `claude-bottle/<identity>/<branch>`.
 * - A tag the host lacks is created; an existing tag never moves.
 * - Branches the agent deleted stay on the host.
 * - The host's HEAD follows the agent's to a branch that was brought back, or to a
 *   detached commit that fast-forwards the host's detached HEAD; otherwise it stays,
 *   and a detached commit of the agent's is kept as `claude-bottle/<identity>/head`.
 * - When the commit HEAD names changes, the index is reset to it (the work tree
 *   already holds the agent's files), so `git status` shows only what the agent left
 *   uncommitted.
 */

export interface Head {
  /** `refs/heads/<branch>`, or null when detached. */
  symref: string | null;
  /** null on an unborn branch. */
  oid: string | null;
}

export interface RefUpdate {
  ref: string;
  to: string;
  /** null: the ref must not exist yet. */
  from: string | null;
}

export interface RefPlan {
  updates: RefUpdate[];
  head: { symref: string } | { detached: string } | null;
  resetIndex: boolean;
  notes: string[];
}

export interface RefInput {
  identity: string;
  /** The host's `refs/heads/*` and `refs/tags/*`, name → object id. */
  host: ReadonlyMap<string, string>;
  /** The agent's, the same way. */
  agent: ReadonlyMap<string, string>;
  hostHead: Head;
  agentHead: Head;
  /** Whether `ancestor` is `descendant` or one of its ancestors (both present on the host). */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
}

const BRANCHES = "refs/heads/";
const TAGS = "refs/tags/";

function short(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, "");
}

export async function planRefs(input: RefInput): Promise<RefPlan> {
  const { identity, host, agent, hostHead, agentHead } = input;
  const updates: RefUpdate[] = [];
  const notes: string[] = [];
  const after = new Map(host);
  const side = (name: string) => `${BRANCHES}claude-bottle/${identity}/${name}`;

  for (const [ref, oid] of [...agent].sort(([a], [b]) => a.localeCompare(b))) {
    const old = host.get(ref);
    if (old === oid) continue;
    if (old === undefined) {
      updates.push({ ref, to: oid, from: null });
      after.set(ref, oid);
    } else if (ref.startsWith(TAGS)) {
      notes.push(`the agent's tag ${short(ref)} differs from yours; yours is left as it is`);
    } else if (await input.isAncestor(old, oid)) {
      updates.push({ ref, to: oid, from: old });
      after.set(ref, oid);
    } else {
      updates.push({ ref: side(short(ref)), to: oid, from: null });
      notes.push(
        `the agent rewrote the history of branch ${short(ref)}: yours is left as it is, the agent's is kept as ` +
          `${short(side(short(ref)))}`,
      );
    }
  }

  let head: RefPlan["head"] = null;
  let headOid = hostHead.symref !== null ? (after.get(hostHead.symref) ?? hostHead.oid) : hostHead.oid;
  if (agentHead.symref !== null && agentHead.oid !== null && after.get(agentHead.symref) === agentHead.oid) {
    if (agentHead.symref !== hostHead.symref) head = { symref: agentHead.symref };
    headOid = agentHead.oid;
  } else if (agentHead.symref === null && agentHead.oid !== null) {
    const n = agentHead.oid;
    if (
      hostHead.symref === null &&
      hostHead.oid !== null &&
      (hostHead.oid === n || (await input.isAncestor(hostHead.oid, n)))
    ) {
      if (hostHead.oid !== n) head = { detached: n };
      headOid = n;
    } else if (![...after.values()].includes(n)) {
      updates.push({ ref: side("head"), to: n, from: null });
      notes.push(`the agent's detached HEAD ${n.slice(0, 12)} is kept as branch ${short(side("head"))}`);
    }
  }
  return { updates, head, resetIndex: headOid !== null && headOid !== hostHead.oid, notes };
}
