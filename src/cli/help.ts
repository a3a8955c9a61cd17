/**
 * What `node runner help`, `node runner help <command>` and `node runner <command>
 * --help` print: the overview, and for each command its usage, its flags and an
 * example. The flags each command accepts are decided in args.ts; a unit test holds
 * this text to that table, so the help never names a flag the parser refuses.
 */
import type { CommandName } from "./args.js";

export const USAGE = `usage: node runner <command> [options]

commands:
  start <agent> --prompt TEXT   launch a bottle for <agent> and run the task headlessly
  resume <identity>             continue a preserved bottle's claude session
  list                          running bottles and saved states
  cleanup [<identity>...]       remove the bottles whose runner is gone (--force: the named ones)
  demo                          crash -> preserve -> resume with a stub model, no API key
  help [<command>]              this text, or a command's flags and an example

options:
  -h, --help                    help (after a command: that command's help)
  -V, --version                 the runner's version

run \`node runner help <command>\` for its flags and an example.
exit codes: 0 success, 1 any other outcome, a failed launch or no engine, 2 bad input`;

interface CommandHelp {
  usage: string;
  summary: string;
  /** Flag (as typed, with its value) and what it does. */
  flags: [string, string][];
  example: string;
}

const FORMAT: [string, string] = [
  "--format text|json",
  "text for people (default), or one JSON object on stdout for scripts",
];
const POLICY: [string, string][] = [
  ["--capability-block preserve|rebuild|deny", "override the manifest's capabilityBlock for this run"],
  ["--max-rebuilds N", "override the manifest's maxRebuilds (0-10) for this run"],
  ["--max-resumes N", "resume a crashed session at once, up to N times (0-10, default 0) in this run"],
];

export const COMMAND_HELP: Record<CommandName, CommandHelp> = {
  start: {
    usage: "node runner start <agent> --prompt TEXT [options]",
    summary:
      "Launch a bottle for <agent> (from claude-bottle.json, or the embedded `claude`) and run the task headlessly.\n" +
      "A run that does not end cleanly keeps its state and prints the resume command.",
    flags: [
      ["--prompt TEXT", "the task for claude (required)"],
      ["--manifest PATH", "the manifest (default ./claude-bottle.json, else the embedded default)"],
      ["--workspace DIR", "the work tree copied into the bottle (default the current directory)"],
      FORMAT,
      ["--dry-run", "print the resolved plan and create nothing"],
      ["--snapshot-interval 30s", "how often the transcript is snapshotted during the session (at least 1s)"],
      ...POLICY,
    ],
    example: 'node runner start fixer --prompt "make the failing test in test/parse.test.ts pass"',
  },
  resume: {
    usage: "node runner resume <identity> [options]",
    summary:
      "Continue a preserved bottle's claude session: the same identity, transcript and work tree.\n" +
      "Rebuilds from the per-bottle Dockerfile when the state has one.",
    flags: [
      ["--prompt TEXT", "what to tell claude (default: continue where you left off)"],
      ["--workspace DIR", "resume in another directory than the one recorded"],
      FORMAT,
      ["--dry-run", "print the resolved plan and create nothing"],
      ["--snapshot-interval 30s", "how often the transcript is snapshotted during the session (at least 1s)"],
      ...POLICY,
    ],
    example: 'node runner resume fixer-k3x9a --prompt "now run the tests too"',
  },
  list: {
    usage: "node runner list [--format text|json]",
    summary:
      "Running bottles (by label, with whether their runner is alive) and saved states.\nExits 1 when the " +
      "Docker engine cannot be reached (saved states are still listed).",
    flags: [FORMAT],
    example: "node runner list --format json",
  },
  cleanup: {
    usage: "node runner cleanup [<identity>...] [--force] [--format text|json]",
    summary:
      "Remove the containers and networks of bottles whose runner is provably gone (no such process on this host,\n" +
      "or silent past its lease), keeping what their state needs to resume. Identities narrow it to those bottles.",
    flags: [["--force", "remove the named bottles even if their runner may still be alive"], FORMAT],
    example: "node runner cleanup claude-k3x9a",
  },
  demo: {
    usage: "node runner demo [--format text|json]",
    summary:
      "Crash -> preserve -> resume on the embedded default agent with a stub model: no API key needed.\n" +
      "Where no image registry answers, it builds its images from Debian's mirror and npm once " +
      "(scripts/local-images.sh).",
    flags: [FORMAT],
    example: "node runner demo",
  },
};

/** The overview, or one command's usage, flags and example. */
export function helpText(topic?: CommandName): string {
  if (topic === undefined) return `${USAGE}\n`;
  const help = COMMAND_HELP[topic];
  const width = Math.max(...help.flags.map(([flag]) => flag.length), "-h, --help".length) + 2;
  const flags = [...help.flags, ["-h, --help", "this text"] as const].map(
    ([flag, text]) => `  ${flag.padEnd(width)}${text}`,
  );
  return [
    `usage: ${help.usage}`,
    "",
    help.summary,
    "",
    "options:",
    ...flags,
    "",
    "example:",
    `  ${help.example}`,
    "",
  ].join("\n");
}
