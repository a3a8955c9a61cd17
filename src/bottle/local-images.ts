/**
 * Images without a registry. The bundled agent Dockerfile starts FROM a Node image
 * and the gate runs on one, both pulled from a registry; on a machine that reaches
 * none (air-gapped sites, many self-hosted Gitea and Forgejo runners) the pull fails.
 * Then, and only when the registry could not be reached, the runner falls back to
 * images built from Debian's mirror and the npm registry by scripts/local-images.sh,
 * says so once, and uses them through CLAUDE_BOTTLE_BASE_IMAGE and
 * CLAUDE_BOTTLE_GATE_IMAGE. They stay tagged, so the next run builds nothing.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DockerClient } from "../docker/client.js";
import { errorMessage } from "../errors.js";
import type { Log } from "../log/log.js";
import { lineSplitter } from "../stream/lines.js";
import { CLAUDE_CODE_VERSION, DEFAULT_BASE_IMAGE } from "./agent-dockerfile.js";
import { type BottlePlan, DEFAULT_GATE_IMAGE } from "./plan.js";

/** The gate's Node version: the one of the default gate image, so both run the same Node. */
export const LOCAL_NODE_VERSION = /^node:(\d+\.\d+\.\d+)-/.exec(DEFAULT_GATE_IMAGE)?.[1] ?? "24";

/** What scripts/local-images.sh builds: Debian minbase, + Node (the gate's), + claude-code (the agent's base). */
export const LOCAL_IMAGES = {
  debian: "claude-bottle-local/debian:bookworm",
  gate: `claude-bottle-local/node:${LOCAL_NODE_VERSION}`,
  base: `claude-bottle-local/agent-base:${CLAUDE_CODE_VERSION}`,
} as const;

/** The variable that names each image, and where the runner finds it. */
const SETTINGS = { base: "CLAUDE_BOTTLE_BASE_IMAGE", gate: "CLAUDE_BOTTLE_GATE_IMAGE" } as const;
type Role = keyof typeof SETTINGS;

/** The images a bottle of the bundled Dockerfile needs, as the plan picks them (plan.ts). */
export function wantedImages(env: NodeJS.ProcessEnv): Record<Role, string> {
  return {
    base: env.CLAUDE_BOTTLE_BASE_IMAGE || DEFAULT_BASE_IMAGE,
    gate: env.CLAUDE_BOTTLE_GATE_IMAGE ?? DEFAULT_GATE_IMAGE,
  };
}

/**
 * The images of a plan that have a stand-in built without a registry: the gate's, and
 * the bundled Dockerfile's base when the plan builds it. An image the manifest names
 * (`image`, its own Dockerfile) is the manifest's to provide.
 */
export function planImages(plan: BottlePlan): Partial<Record<Role, string>> {
  const base =
    plan.image.kind === "build" && plan.image.source === "bundled" ? plan.image.buildArgs.BASE_IMAGE : undefined;
  return { ...(base ? { base } : {}), gate: plan.gate.image };
}

/** What a pull's error says when no registry answered. */
const UNREACHABLE = new RegExp(
  [
    "no such host",
    "dial tcp",
    "connection refused",
    "network is unreachable",
    "no route to host",
    "i/o timeout",
    "timeout",
    "temporary failure in name resolution",
    "server misbehaving",
    "EAI_AGAIN",
    "ENOTFOUND",
  ].join("|"),
  "i",
);

/**
 * Whether a pull failed because no registry answered (a name that does not resolve, a
 * refused or timed-out connection), as opposed to one that answered no (no such image,
 * no access): only the first is worth a fallback; the second is a name to fix.
 */
export function registryUnreachable(error: unknown): boolean {
  const text = errorMessage(error);
  if (/manifest unknown|not found|pull access denied|unauthorized|denied/i.test(text)) return false;
  return UNREACHABLE.test(text);
}

/** The registry an image reference is pulled from: its first component when that names a host, else Docker Hub. */
export function registryOf(ref: string): string {
  const first = ref.split("/")[0] ?? "";
  return ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")
    ? first
    : "docker.io";
}

/** The engine's error text without dockerode's `(HTTP code 500) server error - ` prefix. */
function pullReason(error: unknown): string {
  return errorMessage(error)
    .replace(/^\(HTTP code \d+\)[^-]*- /, "")
    .trim();
}

export interface LocalImageDeps {
  docker: DockerClient;
  env: NodeJS.ProcessEnv;
  log: Pick<Log, "info" | "progress">;
  /** Runs scripts/local-images.sh with these arguments, each output line to `onLine` (tests replace it). */
  buildLocal?: (args: string[], onLine: (line: string) => void) => Promise<void>;
}

/**
 * Makes sure the base and gate images are on the engine: there already, pulled, or —
 * when no registry answers — the local ones, built once. Resolves with the variables
 * that point a plan at the local ones ({} when nothing fell back).
 */
export async function ensureBaseImages(
  deps: LocalImageDeps,
  wanted: Partial<Record<Role, string>> = wantedImages(deps.env),
): Promise<Record<string, string>> {
  const { docker, log } = deps;
  const unreachable: { role: Role; image: string; reason: string }[] = [];
  for (const role of ["base", "gate"] as const) {
    const image = wanted[role];
    if (image === undefined || (await docker.imageExists(image))) continue;
    // A registry that did not answer one pull is not asked again (a slow DNS timeout would double).
    const known = unreachable.find((u) => registryOf(u.image) === registryOf(image));
    if (known) {
      unreachable.push({ role, image, reason: known.reason });
      continue;
    }
    log.info(`pulling ${image}`);
    try {
      await docker.pullImage(image, (line) => log.progress(line));
    } catch (error) {
      if (!registryUnreachable(error)) {
        throw new Error(
          `${SETTINGS[role]}: pulling ${image} failed (${pullReason(error)}); give an image this engine has or ` +
            `can pull`,
        );
      }
      unreachable.push({ role, image, reason: pullReason(error) });
    }
  }
  if (unreachable.length === 0) return {};
  const needed = [LOCAL_IMAGES.debian, LOCAL_IMAGES.gate, LOCAL_IMAGES.base];
  const missing = [];
  for (const image of needed) if (!(await docker.imageExists(image))) missing.push(image);
  log.info(
    `cannot pull ${unreachable.map((u) => u.image).join(" or ")}: no registry answered (${unreachable[0]?.reason}); ` +
      `falling back to images built from Debian's mirror and npm ` +
      `(${unreachable.map((u) => LOCAL_IMAGES[u.role]).join(", ")})` +
      (missing.length
        ? `: building ${missing.length === needed.length ? "them" : missing.join(", ")} once (a few minutes), ` +
          `then they stay cached`
        : ", cached from an earlier run"),
  );
  if (missing.length) {
    const args = [...needed, LOCAL_NODE_VERSION, CLAUDE_CODE_VERSION];
    try {
      await (deps.buildLocal ?? runLocalImagesScript(deps.env))(args, (line) => log.progress(line));
    } catch (error) {
      throw new Error(
        `building the local images failed (${errorMessage(error)}); run \`bash ${localImagesScript()} ` +
          `${args.join(" ")}\` to see why, ` +
          `or set ${unreachable.map((u) => SETTINGS[u.role]).join(" and ")} to images this engine has`,
      );
    }
  }
  return Object.fromEntries(unreachable.map((u) => [SETTINGS[u.role], LOCAL_IMAGES[u.role]]));
}

/** scripts/local-images.sh, from a bundle in dist/<entry>/ and from the sources in src/bottle/ alike. */
export function localImagesScript(): string {
  // Joined at run time, so the bundler does not inline the file.
  const path = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "local-images.sh");
  if (!existsSync(path)) throw new Error(`${path} is missing: the runner needs the scripts/ folder of its checkout`);
  return path;
}

function runLocalImagesScript(
  env: NodeJS.ProcessEnv,
): (args: string[], onLine: (line: string) => void) => Promise<void> {
  return (args, onLine) =>
    new Promise((resolve, reject) => {
      const child = spawn("bash", [localImagesScript(), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      const tail: string[] = [];
      const split = lineSplitter((line) => {
        tail.push(line);
        if (tail.length > 5) tail.shift();
        onLine(line);
      });
      child.stdout.on("data", (chunk: Buffer) => split.push(chunk));
      child.stderr.on("data", (chunk: Buffer) => split.push(chunk));
      child.on("error", reject);
      child.on("close", (code) => {
        split.flush();
        if (code === 0) resolve();
        else reject(new Error(`exit ${code}: ${tail.at(-1) ?? "no output"}`));
      });
    });
}
