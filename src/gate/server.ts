/**
 * The gate program: `node gate.js <config.json>`, run inside the gate container.
 * The sidecar frame (src/sidecar/program.ts) reads the config and speaks the event
 * lines; the routes print `ready` once every route and the egress policy are up.
 */
import { runSidecar } from "../sidecar/program.js";
import { GateConfigSchema } from "./config.js";
import { startRoutes } from "./routes.js";

void runSidecar("gate", process.argv[2], GateConfigSchema, (config, emit) => startRoutes(config, process.env, emit));
