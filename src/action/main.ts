/**
 * The action's main step (bundled to dist/main.js): reads the inputs, runs one
 * bottle through the same core as `node runner start`, and sets the outputs. The
 * API key input goes only into the environment the gate is created from.
 */
import "../dirname-shim.js";
import { runAction } from "./run.js";

await runAction();
