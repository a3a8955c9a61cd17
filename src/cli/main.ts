/**
 * `node runner <command>`: turns a parsed command into calls on the shared core and
 * prints the result. Progress and lifecycle lines go to stderr; stdout carries only
 * the final summary (or, with `--format json`, one JSON object), so scripts can
 * parse it. Exit codes: 0 success, 1 any other outcome or failed launch, 2 bad input.
 */
import type { BottlePlan } from "../bottle/plan.js";
import { cleanupOrphans, runningBottles, savedStates } from "../bottle/inventory.js";
import { gateProgramLoader } from "../bottle/gate-program.js";
import { rescueBottle, runBottle } from "../bottle/lifecycle.js";
import { pauseFromEnv } from "../bottle/pause.js";
import { planResume, planStart } from "../bottle/prepare.js";
import { runDemo } from "../demo/demo.js";
import { InputError, errorMessage } from "../errors.js";
import { ManifestError } from "../manifest/load.js";
import { formatSize } from "../manifest/size.js";
import { StateStore } from "../state/store.js";
import { type Command, type Format, USAGE, parseCommand } from "./args.js";
import { type CliIo, printResult, stderrLog } from "./output.js";

export type { CliIo } from "./output.js";


export async function main(argv: string[], io: CliIo): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
    return await run(command, io);
  } catch (error) {
    if (error instanceof InputError || error instanceof ManifestError) {
      io.stderr(`claude-bottle: ${error.message}\n`);
      return 2;
    }
    io.stderr(`claude-bottle: ${errorMessage(error)}\n`);
    return 1;
  }
}

async function run(command: Command, io: CliIo): Promise<number> {
  const state = StateStore.fromEnv(io.env);
  switch (command.command) {
    case "help":
      io.stdout(`${USAGE}\n`);
      return 0;
    case "start":
    case "resume": {
      const pauseAt = pauseFromEnv(io.env, (line) => io.stderr(`claude-bottle: ${line}\n`));
      // A dry run still checks the plan against the engine's runtimes when one answers, but needs none.
      const docker = command.dryRun ? await io.docker().catch(() => null) : await io.docker();
      const deps = { docker, state, env: io.env };
      const plan =
        command.command === "start"
          ? await planStart({ ...command, cwd: io.cwd }, deps)
          : await planResume({ ...command, cwd: io.cwd }, deps);
      if (!plan.supervise && (command.capabilityBlock !== undefined || command.maxRebuilds !== undefined)) {
        io.stderr(`claude-bottle: warning: --capability-block and --max-rebuilds have no effect: bottle ${plan.bottle} is not supervised (set "supervise": true)\n`);
      }
      if (command.dryRun) {
        io.stdout(command.format === "json" ? `${JSON.stringify(describePlan(plan), null, 2)}\n` : planText(plan));
        return 0;
      }
      if (!docker) throw new Error("no Docker engine");
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
        rescue: (identity) => rescueBottle(identity, { docker, state, clock: { now: () => new Date() }, log }),
      });
      if (command.format === "json") io.stdout(`${JSON.stringify(report)}\n`);
      else {
        for (const r of report.removed) io.stdout(`removed ${r.identity}: ${[...r.containers, ...r.networks].join(", ")}\n`);
        for (const s of report.spared) io.stdout(`left ${s.identity}: its runner ${s.runner} is still running\n`);
        for (const f of report.failures) io.stderr(`claude-bottle: cleanup failed for ${f}\n`);
        if (report.removed.length === 0 && report.spared.length === 0) io.stdout("nothing to clean up\n");
      }
      return report.failures.length > 0 ? 1 : 0;
    }
    case "demo":
      return runDemo({ ...io, state, format: command.format });
  }
}

/** The plan as printed by --dry-run: everything but values that could be secrets. */
export function describePlan(plan: BottlePlan): Record<string, unknown> {
  return {
    identity: plan.identity,
    mode: plan.mode,
    agent: plan.agent,
    bottle: plan.bottle,
    manifest: plan.manifestPath,
    workspace: plan.workspace,
    resumeSession: plan.resumeSession,
    image:
      plan.image.kind === "prebuilt"
        ? { ref: plan.image.ref }
        : { build: plan.image.tag, dockerfile: plan.image.dockerfilePath ?? `(${plan.image.source})`, buildArgs: plan.image.buildArgs },
    agentContainer: {
      name: plan.agentContainer.name,
      user: plan.agentContainer.user,
      env: Object.keys(plan.agentContainer.env).sort(),
      anthropicBaseUrl: plan.agentContainer.env.ANTHROPIC_BASE_URL ?? null,
      memoryBytes: plan.agentContainer.memoryBytes,
      cpus: plan.agentContainer.nanoCpus / 1e9,
      pids: plan.agentContainer.pidsLimit,
      runtime: plan.agentContainer.runtime ?? "default",
      command: plan.agentContainer.command,
    },
    gate: {
      name: plan.gate.name,
      image: plan.gate.image,
      routes: plan.gate.config.routes.map((r) => ({ name: r.name, upstream: r.upstream, injects: r.inject?.header ?? null })),
      credentials: plan.gate.credentials,
    },
    egress: {
      mode: plan.egress.mode,
      allow: plan.egress.allow.map((a) => `${a.host}:${a.port}`),
      addedForClaudeCode: plan.egress.defaults,
      proxy: plan.agentContainer.env.HTTPS_PROXY ?? null,
    },
    supervise: plan.supervise
      ? { name: plan.supervise.name, policy: plan.supervise.policy, rebuildsLeft: plan.supervise.rebuildsLeft, currentDockerfile: plan.supervise.config.currentDockerfile.source }
      : null,
    networks: plan.networks,
    labels: plan.labels,
    timeoutMs: plan.timeoutMs,
    stateLimitBytes: plan.stateLimitBytes,
    snapshotIntervalMs: plan.snapshotIntervalMs,
  };
}

function planText(plan: BottlePlan): string {
  const d = describePlan(plan) as { image: Record<string, unknown>; gate: { routes: { name: string; upstream: string; injects: string | null }[] } };
  const lines = [
    `plan for ${plan.identity} (${plan.mode}, dry run: nothing created)`,
    `  agent:     ${plan.agent} (bottle ${plan.bottle}, manifest ${plan.manifestPath})`,
    `  workspace: ${plan.workspace}`,
    `  image:     ${JSON.stringify(d.image)}`,
    `  gate:      ${plan.gate.name} on ${plan.gate.image}`,
    ...d.gate.routes.map((r) => `    route ${r.name} -> ${r.upstream}${r.injects ? ` (injects ${r.injects})` : ""}`),
    ...plan.gate.credentials.map((c) => `    credential for ${c.route} from $${c.fromEnv}: ${c.present ? "set" : "NOT SET"}`),
    `  egress:    ${plan.egress.mode}; allow ${plan.egress.allow.length ? plan.egress.allow.map((a) => `${a.host}:${a.port}`).join(", ") : "nothing but the routes"}${plan.egress.defaults.length ? ` (${plan.egress.defaults.join(", ")} added for claude-code)` : ""}`,
    `  networks:  ${plan.networks.internal} (internal), ${plan.networks.egress}`,
    `  limits:    ${plan.agentContainer.memoryBytes} bytes, ${plan.agentContainer.nanoCpus / 1e9} cpus, ${plan.agentContainer.pidsLimit} pids, timeout ${plan.timeoutMs / 1000}s, state ${formatSize(plan.stateLimitBytes)}`,
    `  runtime:   ${plan.agentContainer.runtime ?? "engine default"}`,
    `  supervise: ${plan.supervise ? `${plan.supervise.name}; capability-block ${plan.supervise.policy}${plan.supervise.rebuildsLeft ? ` (up to ${plan.supervise.rebuildsLeft} rebuilds)` : ""}` : "off"}`,
  ];
  if (plan.resumeSession) lines.push(`  resumes:   claude session ${plan.resumeSession}`);
  return `${lines.join("\n")}\n`;
}

async function list(format: Format, state: StateStore, io: CliIo): Promise<number> {
  const states = await savedStates(state);
  const running = await io
    .docker()
    .then((d) => runningBottles(d))
    .catch((error: unknown) => {
      io.stderr(`claude-bottle: could not list running bottles: ${errorMessage(error)}\n`);
      return [];
    });
  if (format === "json") {
    io.stdout(`${JSON.stringify({ running, states })}\n`);
    return 0;
  }
  io.stdout(running.length ? "running:\n" : "running: none\n");
  for (const b of running) io.stdout(`  ${b.identity}  ${b.containers.map((c) => c.role).join("+")}  runner ${b.runner}${b.live ? "" : " (gone: `node runner cleanup`)"}\n`);
  io.stdout(states.length ? `states in ${state.root}:\n` : `states: none in ${state.root}\n`);
  for (const s of states) {
    io.stdout(`  ${s.identity}  ${s.agent ?? "?"}  ${s.outcome ?? "?"}${s.preserved ? "  preserved" : ""}  session ${s.sessionId ?? "-"}${s.problem ? `  (${s.problem})` : ""}\n`);
  }
  return 0;
}
