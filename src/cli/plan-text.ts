/**
 * What `--dry-run` prints: the resolved plan, never a value that could be a secret.
 * The JSON form keeps numbers in base units (bytes, milliseconds) for scripts; the
 * text form speaks the manifest's own units (`4g`, `30m`), through the same unit
 * tables the manifest is parsed with, and says in words where the image comes from.
 */
import type { BottlePlan } from "../bottle/plan.js";
import type { ImagePlan } from "../bottle/plan-image.js";
import { formatDuration } from "../manifest/duration.js";
import { formatSize } from "../manifest/size.js";

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
        : {
            build: plan.image.tag,
            dockerfile: plan.image.dockerfilePath ?? `(${plan.image.source})`,
            buildArgs: plan.image.buildArgs,
          },
    agentContainer: {
      name: plan.agentContainer.name,
      user: plan.agentContainer.user,
      env: Object.keys(plan.agentContainer.env).sort(),
      anthropicBaseUrl: plan.agentContainer.env.ANTHROPIC_BASE_URL ?? null,
      memoryBytes: plan.agentContainer.memoryBytes,
      cpus: plan.agentContainer.nanoCpus / 1e9,
      pids: plan.agentContainer.pids,
      runtime: plan.agentContainer.runtime ?? "default",
      command: plan.agentContainer.command,
    },
    gate: {
      name: plan.gate.name,
      image: plan.gate.image,
      routes: plan.gate.config.routes.map((r) => ({
        name: r.name,
        upstream: r.upstream,
        injects: r.inject?.header ?? null,
      })),
      credentials: plan.gate.credentials,
    },
    egress: {
      mode: plan.egress.mode,
      allow: plan.egress.allow.map((a) => `${a.host}:${a.port}`),
      addedForClaudeCode: plan.egress.defaults,
      proxy: plan.agentContainer.env.HTTPS_PROXY ?? null,
    },
    supervise: plan.supervise
      ? {
          name: plan.supervise.name,
          policy: plan.supervise.policy,
          rebuildsLeft: plan.supervise.rebuildsLeft,
          currentDockerfile: plan.supervise.config.currentDockerfile.source,
        }
      : null,
    networks: plan.networks,
    labels: plan.labels,
    timeoutMs: plan.timeoutMs,
    snapshotIntervalMs: plan.snapshotIntervalMs,
    stateLimitBytes: plan.stateLimitBytes,
    maxResumes: plan.autoResume.left,
  };
}

/** Where the agent image comes from, in words: `build from bundled Dockerfile (base node:24-bookworm-slim) as …`. */
export function imageText(image: ImagePlan): string {
  if (image.kind === "prebuilt") return `${image.ref} (prebuilt; pulled when the engine lacks it)`;
  const args = Object.entries(image.buildArgs);
  const base = image.buildArgs.BASE_IMAGE;
  const from =
    image.source === "bundled"
      ? `bundled Dockerfile (base ${base})`
      : image.source === "manifest"
        ? `${image.dockerfilePath}`
        : `the per-bottle Dockerfile in the state (${image.dockerfilePath})`;
  const shownArgs = image.source === "bundled" ? args.filter(([name]) => name !== "BASE_IMAGE") : args;
  const argText = shownArgs.length
    ? `, build args ${shownArgs.map(([name, value]) => `${name}=${value}`).join(" ")}`
    : "";
  return `build from ${from}${argText} as ${image.tag}${image.reuse ? " (reused when already built)" : ""}`;
}

export function planText(plan: BottlePlan): string {
  const { agentContainer: agent } = plan;
  const lines = [
    `plan for ${plan.identity} (${plan.mode}, dry run: nothing created)`,
    `  agent:     ${plan.agent} (bottle ${plan.bottle}, manifest ${plan.manifestPath})`,
    `  workspace: ${plan.workspace}`,
    `  image:     ${imageText(plan.image)}`,
    `  gate:      ${plan.gate.name} on ${plan.gate.image}`,
    ...plan.gate.config.routes.map(
      (r) => `    route ${r.name} -> ${r.upstream}${r.inject ? ` (injects ${r.inject.header})` : ""}`,
    ),
    ...plan.gate.credentials.map(
      (c) => `    credential for ${c.route} from $${c.fromEnv}: ${c.present ? "set" : "NOT SET"}`,
    ),
    `  egress:    ${plan.egress.mode}; allow ` +
      (plan.egress.allow.length
        ? plan.egress.allow.map((a) => `${a.host}:${a.port}`).join(", ")
        : "nothing but the routes") +
      (plan.egress.defaults.length ? ` (${plan.egress.defaults.join(", ")} added for claude-code)` : ""),
    `  networks:  ${plan.networks.internal} (internal), ${plan.networks.egress} ` +
      (plan.networks.ownEgress ? "(the engine's default bridge, the gate's way out)" : "(the gate's way out)"),
    `  limits:    memory ${formatSize(agent.memoryBytes)}, ${agent.nanoCpus / 1e9} cpus, ${agent.pids} pids, ` +
      `timeout ${formatDuration(plan.timeoutMs)}, state ${formatSize(plan.stateLimitBytes)}`,
    `  snapshots: every ${formatDuration(plan.snapshotIntervalMs)} and after each turn`,
    `  runtime:   ${agent.runtime ?? "engine default"}`,
    `  supervise: ` +
      (plan.supervise
        ? `${plan.supervise.name}; capability-block ${plan.supervise.policy}` +
          (plan.supervise.rebuildsLeft ? ` (up to ${plan.supervise.rebuildsLeft} rebuilds)` : "")
        : "off"),
  ];
  if (plan.resumeSession) lines.push(`  resumes:   claude session ${plan.resumeSession}`);
  if (plan.autoResume.left > 0)
    lines.push(`  crashes:   resumed at once, up to ${plan.autoResume.left} times in this run`);
  return `${lines.join("\n")}\n`;
}
