/**
 * Shared by the malformed-input and restored-state fault suites: child processes run
 * a few at a time, what a user would notice in their output (a stack trace), the
 * labelled Docker resources before and after a batch and which of them a case made,
 * tar archives of our own making, and the result table each suite prints.
 */
import { execFileSync, spawn } from "node:child_process";
import { hostname } from "node:os";
import * as tarStream from "tar-stream";

/** A stack frame line: `    at fn (file:1:2)` or `    at file:1:2`. */
export const STACK = /^\s+at .+(\(.*:\d+:\d+\)|:\d+:\d+)$/m;

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  out: string;
  pid: number;
  ms: number;
}

export function run(
  cmd: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs?: number },
): Promise<Ran> {
  const started = Date.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      out += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr, out, pid: child.pid ?? -1, ms: Date.now() - started });
    });
  });
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
export async function pool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** What a user should never see: a stack frame or node's internals. */
export function stackTrace(out: string): string | null {
  const frame = STACK.exec(out);
  if (frame) return frame[0];
  const internal = /^.*node:internal.*$/m.exec(out);
  return internal ? internal[0] : null;
}

// --- Docker resources ------------------------------------------------------------------------

export interface Resource {
  kind: "container" | "network" | "image";
  id: string;
  name: string;
  labels: Record<string, string>;
}

const LABEL = "claude-bottle.identity";

function lines(args: string[]): string[] {
  return execFileSync("docker", args, { encoding: "utf8" }).split("\n").filter(Boolean);
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/** Every container, network and image carrying the identity label, with its labels. */
export function inventory(): Resource[] {
  const containers = lines([
    "ps",
    "-a",
    "--no-trunc",
    "--filter",
    `label=${LABEL}`,
    "--format",
    "{{.ID}}\t{{.Names}}\t{{.Labels}}",
  ]).map((l) => {
    const [id = "", name = "", labels = ""] = l.split("\t");
    return { kind: "container" as const, id, name, labels: parseLabels(labels) };
  });
  const networks = lines([
    "network",
    "ls",
    "--no-trunc",
    "--filter",
    `label=${LABEL}`,
    "--format",
    "{{.ID}}\t{{.Name}}\t{{.Labels}}",
  ]).map((l) => {
    const [id = "", name = "", labels = ""] = l.split("\t");
    return { kind: "network" as const, id, name, labels: parseLabels(labels) };
  });
  const imageIds = [...new Set(lines(["images", "-q", "--no-trunc", "--filter", `label=${LABEL}`]))];
  const images = imageIds.map((id) => {
    const labels = JSON.parse(
      execFileSync("docker", ["image", "inspect", "--format", "{{json .Config.Labels}}", id], { encoding: "utf8" }) ||
        "{}",
    ) as Record<string, string> | null;
    return { kind: "image" as const, id, name: id.slice(7, 19), labels: labels ?? {} };
  });
  return [...containers, ...networks, ...images];
}

/** Resources in `after` that were not in `before`. */
export function added(before: Resource[], after: Resource[]): Resource[] {
  const seen = new Set(before.map((r) => `${r.kind}:${r.id}`));
  return after.filter((r) => !seen.has(`${r.kind}:${r.id}`));
}

/** The runner label a process of ours stamps on what it creates. */
export function runnerLabel(pid: number): string {
  return `${hostname()}/${pid}`;
}

/** Resources that a case made: stamped with its process as their runner, or named for its identity. */
export function madeBy(
  resources: Resource[],
  who: { pid: number; identities?: (string | null | undefined)[] },
): Resource[] {
  const runner = runnerLabel(who.pid);
  const identities = new Set((who.identities ?? []).filter((i): i is string => typeof i === "string"));
  return resources.filter((r) => r.labels["claude-bottle.runner"] === runner || identities.has(r.labels[LABEL] ?? ""));
}

export function describeResources(resources: Resource[]): string {
  return resources
    .map(
      (r) =>
        `${r.kind} ${r.name} (${Object.entries(r.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(", ")})`,
    )
    .join("; ");
}

// --- tar archives ----------------------------------------------------------------------------

export type TarEntry = Partial<tarStream.Header> & { name: string; body?: string | Buffer };

export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const { body, ...header } of entries) {
    const data = body ?? "";
    pack.entry(
      { ...header, ...(header.type === undefined || header.type === "file" ? { size: Buffer.byteLength(data) } : {}) },
      data,
    );
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

// --- the result table ------------------------------------------------------------------------

/** A markdown table, printed as one block so it can be copied into docs/reliability.md. */
export function table(title: string, head: string[], rows: (string | number)[][]): string {
  return [
    `\n${title}`,
    "",
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ].join("\n");
}
