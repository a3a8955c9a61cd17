/**
 * The action's main step (bundled to dist/main/index.js): wires the real toolkit,
 * Docker client, cache and artifact clients, and signals to `runMain`.
 */
import "../dirname-shim.js";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import { DockerodeClient } from "../docker/dockerode.js";
import { runMain } from "./run.js";

const controller = new AbortController();
// On cancel the runner sends SIGINT, then SIGTERM a few seconds later.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => controller.abort());

await runMain({
  core,
  docker: async () => new DockerodeClient(),
  cache,
  artifact: async () => {
    const { DefaultArtifactClient } = await import("@actions/artifact");
    return new DefaultArtifactClient();
  },
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
});
