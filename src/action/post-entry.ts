/**
 * The action's post step (action.yml runs.post, dist/post/index.js, calls it from
 * the shared action bundle): wires the real toolkit, Docker client and cache client
 * to `runPost`, which it loads, like main, as chunks shared with the main step.
 */
import * as core from "@actions/core";

export async function post(): Promise<void> {
  const [{ runPost }, cache, { connectDocker }] = await Promise.all([
    import("./post.js"),
    import("@actions/cache"),
    import("../docker/dockerode.js"),
  ]);
  await runPost({ core, docker: connectDocker, cache, env: process.env, cwd: process.cwd() });
}
