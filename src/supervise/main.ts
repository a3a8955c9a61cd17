/**
 * The supervise program: `node supervise.js <config.json>`, run in the supervise
 * sidecar. The sidecar frame (src/sidecar/program.ts) reads the config and speaks
 * the event lines; `ready` follows once the MCP endpoint listens, then the events
 * of `startSupervise`, which the runner follows.
 */
import { runSidecar } from "../sidecar/program.js";
import { SuperviseConfigSchema } from "./config.js";
import { startSupervise } from "./server.js";

void runSidecar("supervise", process.argv[2], SuperviseConfigSchema, async (config, emit) => {
  const server = await startSupervise(config, emit);
  emit({ event: "ready", port: server.port, policy: config.policy });
  return server;
});
