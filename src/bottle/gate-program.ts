/**
 * Finds the bundled gate program (dist/gate/index.js) that is copied into every gate
 * container. Beside the running bundle in dist/, or in dist/ when the sources run
 * directly (the tests); `CLAUDE_BOTTLE_GATE_PROGRAM` names another file.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export function gateProgramLoader(env: NodeJS.ProcessEnv): () => Promise<Buffer> {
  let cached: Promise<Buffer> | null = null;
  return () => {
    cached ??= readFile(locateGateProgram(env));
    return cached;
  };
}

export function locateGateProgram(env: NodeJS.ProcessEnv): string {
  // Paths are joined at run time: a literal `new URL(..., import.meta.url)` would make
  // the bundler inline the file as an asset of the runner bundle instead.
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    env.CLAUDE_BOTTLE_GATE_PROGRAM,
    // From a bundle in dist/<entry>/index.js, and from the sources in src/bottle/.
    join(here, "..", "gate", "index.js"),
    join(here, "..", "..", "dist", "gate", "index.js"),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`the gate program is missing (looked in ${candidates.join(", ")}); run \`npm run build\``);
  return found;
}
