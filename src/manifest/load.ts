/**
 * Finding, reading and validating the manifest. A bad one raises `ManifestError`
 * (error.ts), which lists every problem at once, each at its JSON path.
 *
 * Without an explicit path the manifest is `claude-bottle.json` in the working
 * directory, or the embedded default when there is none: a project needs no file
 * to run the default agent.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DEFAULT_MANIFEST } from "./default.js";
import { ManifestError } from "./error.js";
import { type Manifest, ManifestSchema, describeManifestIssue } from "./schema.js";

export const MANIFEST_FILE = "claude-bottle.json";
/** What `LoadedManifest.path` says for the embedded default; loading this path loads it again. */
export const EMBEDDED_MANIFEST_PATH = "(embedded default)";

export { ManifestError, type ManifestIssue } from "./error.js";

export interface LoadedManifest {
  manifest: Manifest;
  /** Absolute path of the file, or `(embedded default)`. */
  path: string;
  /** The directory a bottle's `dockerfile` is relative to. */
  dir: string;
  embedded: boolean;
}

export function loadManifest(opts: { path?: string | undefined; cwd: string }): LoadedManifest {
  if (opts.path === undefined || opts.path === EMBEDDED_MANIFEST_PATH) {
    const implicit = resolve(opts.cwd, MANIFEST_FILE);
    const text = opts.path === undefined ? readManifestFile(implicit) : undefined;
    if (text !== undefined)
      return { manifest: parseManifest(text, implicit), path: implicit, dir: dirname(implicit), embedded: false };
    return {
      manifest: validateManifest(DEFAULT_MANIFEST, EMBEDDED_MANIFEST_PATH),
      path: EMBEDDED_MANIFEST_PATH,
      dir: opts.cwd,
      embedded: true,
    };
  }
  const path = resolve(opts.cwd, opts.path);
  const text = readManifestFile(path);
  if (text === undefined) {
    throw new ManifestError(path, [
      {
        path: "(file)",
        message:
          `no such file; check the manifest path, or leave it out to use ./${MANIFEST_FILE} or the ` +
          `embedded default`,
      },
    ]);
  }
  return { manifest: parseManifest(text, path), path, dir: dirname(path), embedded: false };
}

/** Parses and validates manifest text; `file` only labels the errors. Throws ManifestError. */
export function parseManifest(text: string, file: string): Manifest {
  return validateManifest(parseJson(text, file), file);
}

/** Deeper than any real manifest; checked before validation, which recurses once per level. */
const MAX_DEPTH = 64;

function depthOf(value: unknown, limit: number): number {
  if (typeof value !== "object" || value === null) return 0;
  if (limit <= 0) return 1;
  let deepest = 0;
  for (const child of Object.values(value)) deepest = Math.max(deepest, depthOf(child, limit - 1));
  return deepest + 1;
}

function validateManifest(data: unknown, file: string): Manifest {
  if (depthOf(data, MAX_DEPTH) > MAX_DEPTH) {
    throw new ManifestError(file, [
      {
        path: "(file)",
        message:
          `is nested more than ${MAX_DEPTH} levels deep; a manifest is a few levels of objects, like { ` +
          `"bottles": { "default": {} } }`,
      },
    ]);
  }
  const result = ManifestSchema.safeParse(data, { reportInput: true, error: describeManifestIssue });
  if (result.success) return result.data;
  throw new ManifestError(
    file,
    result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
  );
}

/** The file's text, or undefined when there is no such file. */
function readManifestFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    const problem =
      code === "EISDIR"
        ? `is a directory; give the path of a JSON file like ${MANIFEST_FILE}`
        : `cannot be read (${code ?? (error as Error).message}); check the file's permissions`;
    throw new ManifestError(path, [{ path: "(file)", message: problem }]);
  }
}

function parseJson(text: string, file: string): unknown {
  // Editors on some platforms save a byte order mark; JSON.parse rejects it.
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (body.trim() === "") {
    throw new ManifestError(file, [
      {
        path: "(file)",
        message:
          'is empty; a manifest is a JSON object like { "bottles": { "default": {} }, "agents": { "claude": { ' +
          '"bottle": "default" } } }',
      },
    ]);
  }
  try {
    return JSON.parse(body);
  } catch (error) {
    const message = (error as Error).message;
    const { line, column } = lineAndColumn(body, syntaxErrorOffset(body, message));
    const reason = message
      .replace(/ in JSON at position \d+.*$/s, "")
      .replace(/ at position \d+.*$/s, "")
      // V8 quotes a snippet of the text, cut with "..." when long; the line and column say more.
      .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, "");
    throw new ManifestError(file, [
      { path: "(file)", message: `not valid JSON at line ${line}, column ${column}: ${reason}` },
    ]);
  }
}

/**
 * Where JSON.parse gave up. V8 reports a position for most errors but not for
 * "Unexpected token" or an early end; then the offending character is found by
 * bisecting for the shortest prefix that fails for a reason other than ending
 * too soon. Parsing is left to right, so once a prefix fails that way every
 * longer one does too.
 */
function syntaxErrorOffset(text: string, message: string): number {
  const reported = / at position (\d+)/.exec(message);
  if (reported !== null) return Number(reported[1]);
  if (message.includes("Unexpected end of JSON input")) return text.length;
  const failsHard = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return false;
    } catch (error) {
      const inner = (error as Error).message;
      if (inner.includes("Unexpected end of JSON input")) return false;
      const at = / at position (\d+)/.exec(inner);
      return at === null || Number(at[1]) < length;
    }
  };
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (failsHard(middle)) high = middle;
    else low = middle + 1;
  }
  return low - 1;
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lastBreak = before.lastIndexOf("\n");
  return { line: before.split("\n").length, column: offset - lastBreak };
}

/** `["bottles", "default", "egress", "routes", 0, "upstream"]` → `bottles.default.egress.routes[0].upstream`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path
    .map((segment, index) => {
      if (typeof segment === "number") return `[${segment}]`;
      const key = String(segment);
      if (/^[A-Za-z0-9_$-]+$/.test(key)) return index === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join("");
}
