/**
 * The action's main step (action.yml runs.main, dist/main/index.js, calls it from
 * the shared action bundle): wires the real toolkit, Docker client, cache and
 * artifact clients, and signals to `runMain`.
 *
 * Only @actions/core is loaded up front, so the step says it has started at once;
 * the rest (dockerode, the cache client, the lifecycle) are chunks loaded after
 * that first line.
 */
import * as core from "@actions/core";

export async function main(): Promise<void> {
  const controller = new AbortController();
  // On cancel the runner sends SIGINT, then SIGTERM a few seconds later.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => controller.abort());

  core.info(`claude-bottle: starting (node ${process.version})`);
  const [{ runMain }, cache, { connectDocker }] = await Promise.all([
    import("./run.js"),
    import("@actions/cache"),
    import("../docker/dockerode.js"),
  ]);

  await runMain({
    core,
    docker: connectDocker,
    cache,
    artifact: async () => {
      const { DefaultArtifactClient } = await import("@actions/artifact");
      return new DefaultArtifactClient();
    },
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  });
}
