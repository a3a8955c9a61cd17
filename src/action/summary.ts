/**
 * What a person reads after the job: the job summary (outcome, identity, session,
 * turns, cost, egress, what the agent asked for with capability-block and the
 * Dockerfile diff, a failed build's log, the resume snippet) and the snippet
 * itself as an output.
 */
import { readFileSync } from "node:fs";
import { createTwoFilesPatch } from "diff";
import { describeEgress } from "../bottle/egress-log.js";
import { clip } from "../log/untrusted.js";
import type { RunResult } from "../bottle/launch/types.js";
import type { BottlePlan } from "../bottle/plan.js";
import { type LaunchRecord, type Metadata, type Settled, describeOrigin, launchHistory } from "../state/metadata.js";
import type { SavedState } from "./outputs.js";
import type { Toolkit } from "./toolkit.js";

/** A step that resumes the bottle, naming the action the way this workflow did. */
export function resumeSnippet(identity: string, uses: string): string {
  return [`- uses: ${uses}`, `  with:`, `    mode: resume`, `    identity: ${identity}`].join("\n");
}

/** A fenced block whose fence is longer than any backtick run inside: text the agent wrote cannot close it. */
function codeBlock(lang: string, text: string): string[] {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  return [`${fence}${lang}`, text, fence];
}

/** Every launch of the bottle the state knows: where it ran and how it ended. */
function historyTable(history: LaunchRecord[]): string[] {
  if (history.length < 2) return [];
  const rows = history.map((h) => {
    return (
      `| ${h.launch} | ${describeOrigin(h.origin)} | \`${h.outcome}\` | ${h.numTurns ?? "-"} | ` +
      `${h.costUsd === null ? "-" : `$${h.costUsd.toFixed(4)}`} |`
    );
  });
  return [
    "",
    "#### This bottle's launches",
    "",
    "| launch | where | outcome | turns | cost |",
    "|---|---|---|---|---|",
    ...rows,
  ];
}

/** A resume job that found the bottle already finished. */
export async function writeSettledSummary(
  core: Toolkit,
  metadata: Metadata,
  settled: Settled,
  uses: string,
): Promise<void> {
  const lines = [
    `### claude-bottle: already finished (${settled.outcome})`,
    "",
    `Bottle \`${metadata.identity}\` finished in ${describeOrigin(settled.origin)}; there is nothing to resume. ` +
      `Start it again with \`mode: start\` (${uses}).`,
    ...historyTable(launchHistory({ ...metadata, outcome: settled.outcome })),
  ];
  await writeLines(core, lines);
}

async function writeLines(core: Toolkit, lines: string[]): Promise<void> {
  try {
    await core.summary.addRaw(`${lines.join("\n")}\n`).write();
  } catch (error) {
    core.info(`no job summary written (${error instanceof Error ? error.message : String(error)})`);
  }
}

export async function writeSummary(
  core: Toolkit,
  result: RunResult,
  saved: SavedState,
  plan: BottlePlan,
  uses: string,
): Promise<void> {
  const rows = [
    ["outcome", `\`${result.outcome}\`${result.exitCode !== null ? ` (claude exit ${result.exitCode})` : ""}`],
    ["identity", `\`${result.identity}\``],
    ["agent", `${plan.agent} (${plan.mode === "resume" ? "resumed" : "started"})`],
    ["session", result.sessionId ? `\`${result.sessionId}\`` : "none"],
    ["turns", String(result.numTurns ?? "-")],
    ["cost", result.costUsd === null ? "-" : `$${result.costUsd.toFixed(4)}`],
    [
      "state",
      result.preserved ? `preserved${saved.cacheKey ? ` in cache key \`${saved.cacheKey}\`` : ""}` : "cleaned up",
    ],
    ["egress", describeEgress(result.egress).replace(/^egress: /, "")],
  ];
  const lines = [
    `### claude-bottle: ${result.outcome}`,
    "",
    "| | |",
    "|---|---|",
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ];
  for (const [i, c] of result.capabilityBlocks.entries()) {
    const what =
      c.policy === "rebuild"
        ? c.result === "build-failed"
          ? "rebuild failed: the proposal did not build"
          : "rebuilt and resumed in this run"
        : "preserved for a resume on the new image";
    lines.push(
      "",
      `#### The agent asked for a different image` +
        (result.capabilityBlocks.length > 1 ? ` (${i + 1} of ${result.capabilityBlocks.length})` : "") +
        `: ${what}`,
      "",
      `> ${clip(c.reason, 1000)}`,
      "",
    );
    const diff = createTwoFilesPatch(
      `Dockerfile (${c.before.source})`,
      "Dockerfile (proposed)",
      c.before.text,
      c.proposed,
      "",
      "",
      { context: 3 },
    );
    lines.push(...codeBlock("diff", diff.trimEnd()));
  }
  if (result.workTreeNotes?.length)
    lines.push("", "#### The work tree", "", ...result.workTreeNotes.map((n) => `- ${clip(n, 500)}`));
  if (result.buildLog) {
    let tail = "";
    try {
      tail = readFileSync(result.buildLog, "utf8").trimEnd().split("\n").slice(-30).join("\n");
    } catch {
      tail = "(the build log could not be read)";
    }
    lines.push("", "#### The per-bottle Dockerfile did not build", "", ...codeBlock("text", tail));
  }
  if (
    result.capabilityBlocks.length === 0 &&
    plan.image.kind === "build" &&
    plan.image.source === "per-bottle" &&
    plan.image.replaces !== undefined
  ) {
    const diff = createTwoFilesPatch(
      "Dockerfile (before)",
      "Dockerfile (per-bottle)",
      plan.image.replaces,
      plan.image.dockerfile,
      "",
      "",
      { context: 3 },
    );
    lines.push(
      "",
      "<details><summary>This bottle runs on its own Dockerfile</summary>",
      "",
      ...codeBlock("diff", diff.trimEnd()),
      "",
      "</details>",
    );
  }
  lines.push(...historyTable(result.history));
  if (result.preserved) {
    const why =
      result.outcome === "capability-block"
        ? "Approve the new image by resuming this bottle in a later job (it builds from the proposed Dockerfile):"
        : "Resume this bottle in a later job (or re-run this job):";
    lines.push("", why, "", "```yaml", resumeSnippet(result.identity, uses), "```");
  }
  await writeLines(core, lines);
}
