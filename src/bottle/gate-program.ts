/**
 * Finds the bundled gate program (dist/gate.js) that is copied into every gate
 * container. Next to the running bundle in dist/, or in dist/ when the sources run
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
    fileURLToPath(new URL("./gate.js", import.meta.url)),
    fileURLToPath(new URL("../../dist/gate.js", import.meta.url)),
  ].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`the gate program is missing (looked in ${candidates.join(", ")}); run \`npm run build\``);
  return found;
}
