/**
 * What a person reads after the job: the job summary (outcome, identity, session,
 * turns, cost, egress, the resume snippet) and the snippet itself as an output.
 */
import { createTwoFilesPatch } from "diff";
import { describeEgress } from "../bottle/egress-log.js";
import type { RunResult } from "../bottle/lifecycle.js";
import type { BottlePlan } from "../bottle/plan.js";
import type { Toolkit } from "./toolkit.js";

export interface SavedState {
  cacheKey: string | null;
  artifactId: number | null;
}

export function resumeSnippet(identity: string): string {
  return [`- uses: org/bottle-action@v1`, `  with:`, `    mode: resume`, `    identity: ${identity}`].join("\n");
}

export async function writeSummary(core: Toolkit, result: RunResult, saved: SavedState, plan: BottlePlan): Promise<void> {
  const rows = [
    ["outcome", `\`${result.outcome}\`${result.exitCode !== null ? ` (claude exit ${result.exitCode})` : ""}`],
    ["identity", `\`${result.identity}\``],
    ["agent", `${plan.agent} (${plan.mode === "resume" ? "resumed" : "started"})`],
    ["session", result.sessionId ? `\`${result.sessionId}\`` : "none"],
    ["turns", String(result.numTurns ?? "-")],
    ["cost", result.costUsd === null ? "-" : `$${result.costUsd.toFixed(4)}`],
    ["state", result.preserved ? `preserved${saved.cacheKey ? ` in cache key \`${saved.cacheKey}\`` : ""}` : "cleaned up"],
    ["egress", describeEgress(result.egress).replace(/^egress: /, "")],
  ];
  const lines = [
    `### claude-bottle: ${result.outcome}`,
    "",
    "| | |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ];
  if (plan.image.kind === "build" && plan.image.source === "per-bottle" && plan.image.replaces !== undefined) {
    const diff = createTwoFilesPatch("Dockerfile (before)", "Dockerfile (per-bottle)", plan.image.replaces, plan.image.dockerfile, "", "", { context: 3 });
    lines.push("", "<details><summary>This bottle runs on its own Dockerfile</summary>", "", "```diff", diff.trimEnd(), "```", "", "</details>");
  }
  if (result.preserved) {
    lines.push("", "Resume this bottle in a later job (or re-run this job):", "", "```yaml", resumeSnippet(result.identity), "```");
  }
  try {
    await core.summary.addRaw(`${lines.join("\n")}\n`).write();
  } catch (error) {
    core.info(`no job summary written (${error instanceof Error ? error.message : String(error)})`);
  }
}
