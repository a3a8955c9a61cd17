/**
 * The `node runner` entry (bundled to dist/runner/index.js, which runner/index.js
 * loads). It wires the process — argv, environment, streams, signals, the Docker
 * engine — to `main` and sets the exit code.
 */
import { main } from "./main.js";

const controller = new AbortController();
let signalled = 0;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    signalled++;
    if (signalled === 1) {
      process.stderr.write(`claude-bottle: ${signal}: stopping claude, saving state, removing containers\n`);
      controller.abort();
    } else {
      process.stderr.write(`claude-bottle: ${signal} again: still cleaning up, please wait\n`);
    }
  });
}

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  docker: async () => (await import("../docker/dockerode.js")).connectDocker(),
  signal: controller.signal,
});
