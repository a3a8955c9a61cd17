/**
 * The action around the shared core: inputs in, one launch, outputs and a failed
 * step for any outcome but success. Cache and artifact state come on top of this.
 */
import * as core from "@actions/core";
import { gateProgramLoader } from "../bottle/gate-program.js";
import { runBottle } from "../bottle/lifecycle.js";
import { planStart } from "../bottle/prepare.js";
import { DockerodeClient } from "../docker/dockerode.js";
import { errorMessage } from "../errors.js";
import { StateStore } from "../state/store.js";

export async function runAction(): Promise<void> {
  try {
    const apiKey = core.getInput("anthropic-api-key");
    if (apiKey) core.setSecret(apiKey);
    const env = { ...process.env, ...(apiKey ? { ANTHROPIC_API_KEY: apiKey } : {}) };
    const docker = new DockerodeClient();
    const state = StateStore.fromEnv(env);
    const controller = new AbortController();
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => controller.abort());
    const plan = await planStart(
      {
        agent: core.getInput("agent") || "claude",
        prompt: core.getInput("prompt", { required: true }),
        manifest: core.getInput("manifest") || undefined,
        workspace: core.getInput("workspace") || undefined,
        cwd: process.cwd(),
      },
      { docker, state, env },
    );
    const result = await runBottle(plan, {
      docker,
      state,
      clock: { now: () => new Date() },
      env,
      log: { info: (l) => core.info(l), warn: (l) => core.warning(l), progress: (l) => core.info(l) },
      signal: controller.signal,
      gateProgram: gateProgramLoader(env),
    });
    core.setOutput("identity", result.identity);
    core.setOutput("outcome", result.outcome);
    core.setOutput("exit-code", String(result.exitCode ?? ""));
    core.setOutput("session-id", result.sessionId ?? "");
    core.setOutput("preserved", String(result.preserved));
    if (result.outcome !== "success") core.setFailed(`claude ended with outcome ${result.outcome}; state kept in ${result.stateDir}`);
  } catch (error) {
    core.setFailed(errorMessage(error));
  }
}
