/**
 * The commands that do something — start, resume, list, cleanup, demo — as calls on
 * the shared core. main.ts loads this file only for them, so `--help`, `--version`
 * and a mistyped flag never load the launch, the manifest's schema or the archive
 * code; `demo` loads its stub model only when it runs.
 */
import { cleanupOrphans, runningBottles, savedStates } from "../bottle/inventory.js";
import { gateProgramLoader } from "../bottle/gate-program.js";
import { rescueBottle } from "../bottle/launch/rescue.js";
import { runBottle } from "../bottle/launch/run-bottle.js";
import { ensureBaseImages, planImages } from "../bottle/local-images.js";
import { pauseFromEnv } from "../bottle/pause.js";
import { planResume, planStart, savedSession } from "../bottle/prepare.js";
import { errorMessage } from "../errors.js";
import { StateStore } from "../state/store.js";
import type { Command, Format } from "./args.js";
import { type CliIo, jsonText, printResult, stderrLog } from "./output.js";
import { describePlan, planText } from "./plan-text.js";

export type WorkCommand = Exclude<Command, { command: "help" } | { command: "version" }>;

export async function runCommand(command: WorkCommand, io: CliIo): Promise<number> {
  const state = StateStore.fromEnv(io.env);
  switch (command.command) {
    case "start":
    case "resume": {
      const pauseAt = pauseFromEnv(io.env, (line) => io.stderr(`claude-bottle: ${line}\n`));
      // A resume of a state that is not there is bad input, whatever the engine's condition.
      if (command.command === "resume") await savedSession(command.identity, state);
      // A dry run still checks the plan against the engine's runtimes when one answers, but needs none.
      const docker = command.dryRun ? await io.docker().catch(() => null) : await io.docker();
      if (!docker)
        io.stderr("claude-bottle: no Docker engine answered; the plan assumes the engine's default runtime\n");
      const warn = (line: string) => io.stderr(`claude-bottle: warning: ${line}\n`);
      const planWith = (env: NodeJS.ProcessEnv, identity?: string) =>
        command.command === "start"
          ? planStart({ ...command, ...(identity ? { identity } : {}), cwd: io.cwd }, { docker, state, env, warn })
          : planResume({ ...command, cwd: io.cwd }, { docker, state, env, warn });
      let plan = await planWith(io.env);
      if (!plan.supervise && (command.capabilityBlock !== undefined || command.maxRebuilds !== undefined)) {
        io.stderr(
          `claude-bottle: warning: --capability-block and --max-rebuilds have no effect: bottle ${plan.bottle} ` +
            `is not supervised (set "supervise": true)\n`,
        );
      }
      if (command.dryRun) {
        io.stdout(command.format === "json" ? jsonText(describePlan(plan), 2) : planText(plan));
        return 0;
      }
      if (!docker) throw new Error("no Docker engine");
      // Where no registry answers, the base and gate images built without one, under the same identity.
      const localImages = await ensureBaseImages(
        { docker, env: io.env, log: stderrLog(io, plan.identity) },
        planImages(plan),
      );
      if (Object.keys(localImages).length > 0) plan = await planWith({ ...io.env, ...localImages }, plan.identity);
      await pauseAt?.("plan");
      const result = await runBottle(plan, {
        ...(pauseAt ? { pauseAt } : {}),
        docker,
        state,
        clock: { now: () => new Date() },
        env: io.env,
        log: stderrLog(io, plan.identity),
        signal: io.signal,
        gateProgram: gateProgramLoader(io.env),
      });
      printResult(result, command.format, io);
      return result.outcome === "success" ? 0 : 1;
    }
    case "list":
      return list(command.format, state, io);
    case "cleanup": {
      const docker = await io.docker();
      const log = stderrLog(io, "cleanup");
      const report = await cleanupOrphans(docker, {
        ...(command.identities.length ? { identities: command.identities, force: command.force } : {}),
        rescue: (identity) => rescueBottle(identity, { docker, state, clock: { now: () => new Date() }, log }),
      });
      if (command.format === "json") io.stdout(jsonText(report));
      else {
        for (const r of report.removed)
          io.stdout(`removed ${r.identity}: ${[...r.containers, ...r.networks].join(", ")} (${r.reason})\n`);
        for (const s of report.spared) io.stdout(`left ${s.identity}: ${s.reason}\n`);
        for (const f of report.failures) io.stderr(`claude-bottle: cleanup failed for ${f}\n`);
        if (report.removed.length === 0 && report.spared.length === 0) {
          io.stdout(
            command.identities.length
              ? `no Docker resources of ${command.identities.join(", ")} on this engine\n`
              : "nothing to clean up\n",
          );
        }
      }
      return report.failures.length > 0 ? 1 : 0;
    }
    case "demo": {
      const { runDemo } = await import("./demo/demo.js");
      return runDemo({ ...io, state, format: command.format });
    }
  }
}

/**
 * Saved states are read from disk either way; running bottles need the engine. When it
 * cannot be asked, `list` says so (running: unknown, `null` in JSON) and exits 1, so a
 * script never reads "nothing running" from a look that did not happen.
 */
async function list(format: Format, state: StateStore, io: CliIo): Promise<number> {
  const states = await savedStates(state);
  const running = await io
    .docker()
    .then((d) => runningBottles(d))
    .catch((error: unknown) => {
      io.stderr(`claude-bottle: could not list running bottles: ${errorMessage(error)}\n`);
      return null;
    });
  if (format === "json") {
    io.stdout(jsonText({ running, states }));
    return running ? 0 : 1;
  }
  io.stdout(
    running === null
      ? "running: unknown (could not reach the Docker engine)\n"
      : running.length
        ? "running:\n"
        : "running: none\n",
  );
  for (const b of running ?? [])
    io.stdout(
      `  ${b.identity}  ${b.containers.map((c) => c.role).join("+")}  runner ` +
        `${b.runner}${b.live ? "" : ` (${b.reason}: \`node runner cleanup\`)`}\n`,
    );
  io.stdout(states.length ? `states in ${state.root}:\n` : `states: none in ${state.root}\n`);
  for (const s of states) {
    io.stdout(
      `  ${s.identity}  ${s.agent ?? "?"}  ${s.outcome ?? "?"}${s.preserved ? "  preserved" : ""}  session ` +
        `${s.sessionId ?? "-"}${s.problem ? `  (${s.problem})` : ""}\n`,
    );
  }
  return running ? 0 : 1;
}
