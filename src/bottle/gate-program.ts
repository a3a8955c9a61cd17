/**
 * Finds the bundled sidecar programs copied into the bottle's sidecars: the gate
 * (dist/gate/index.js) and the supervise server (dist/supervise/index.js). Beside
 * the running bundle in dist/, or in dist/ when the sources run directly (the
 * tests); `CLAUDE_BOTTLE_GATE_PROGRAM` / `CLAUDE_BOTTLE_SUPERVISE_PROGRAM` name
 * other files.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type SidecarProgram = "gate" | "supervise";

export function programLoader(name: SidecarProgram, env: NodeJS.ProcessEnv): () => Promise<Buffer> {
  let cached: Promise<Buffer> | null = null;
  return () => {
    cached ??= readFile(locateProgram(name, env));
    return cached;
  };
}

export function gateProgramLoader(env: NodeJS.ProcessEnv): () => Promise<Buffer> {
  return programLoader("gate", env);
}

export function locateProgram(name: SidecarProgram, env: NodeJS.ProcessEnv): string {
  // Paths are joined at run time: a literal `new URL(..., import.meta.url)` would make
  // the bundler inline the file as an asset of the runner bundle instead.
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    env[`CLAUDE_BOTTLE_${name.toUpperCase()}_PROGRAM`],
    // From a bundle in dist/<entry>/index.js, and from the sources in src/bottle/.
    join(here, "..", name, "index.js"),
    join(here, "..", "..", "dist", name, "index.js"),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error(`the ${name} program is missing (looked in ${candidates.join(", ")}); run \`npm run build\``);
  return found;
}
