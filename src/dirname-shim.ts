/**
 * Imported first by every bundled entry: some CommonJS dependencies (ssh2, pulled in
 * by dockerode's modem) read `__dirname` at load, which an ESM bundle lacks.
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const scope = globalThis as { __dirname?: string; __filename?: string };
scope.__filename ??= fileURLToPath(import.meta.url);
scope.__dirname ??= dirname(scope.__filename);
