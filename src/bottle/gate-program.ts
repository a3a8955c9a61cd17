/**
 * Finds the bundled gate program (dist/gate/index.js) that is copied into every gate
 * container. Beside the running bundle in dist/, or in dist/ when the sources run
 * directly (the tests); `CLAUDE_BOTTLE_GATE_PROGRAM` names another file.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export function gateProgramLoader(env: NodeJS.ProcessEnv): () => Promise<Buffer> {
  let cached: Promise<Buffer> | null = null;
  return () => {
    cached ??= readFile(locateGateProgram(env));
    return cached;
  };
}

export function locateGateProgram(env: NodeJS.ProcessEnv): string {
  const candidates = [
    env.CLAUDE_BOTTLE_GATE_PROGRAM,
    // From a bundle in dist/<entry>/index.js, and from the sources in src/bottle/.
    fileURLToPath(new URL("../gate/index.js", import.meta.url)),
    fileURLToPath(new URL("../../dist/gate/index.js", import.meta.url)),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`the gate program is missing (looked in ${candidates.join(", ")}); run \`npm run build\``);
  return found;
}
