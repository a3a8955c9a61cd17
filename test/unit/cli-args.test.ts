import { describe, expect, test } from "vitest";
import { parseCommand } from "../../src/cli/args.js";
import { InputError } from "../../src/errors.js";

describe("node runner arguments", () => {
  test.each([
    [
      ["start", "fixer", "--prompt", "fix it"],
      { command: "start", agent: "fixer", prompt: "fix it", format: "text", dryRun: false },
    ],
    [
      [
        "start",
        "fixer",
        "--prompt=go",
        "--manifest",
        "m.json",
        "--workspace",
        "w",
        "--format",
        "json",
        "--dry-run",
        "--snapshot-interval",
        "10s",
      ],
      {
        command: "start",
        agent: "fixer",
        prompt: "go",
        manifest: "m.json",
        workspace: "w",
        format: "json",
        dryRun: true,
        snapshotIntervalMs: 10_000,
      },
    ],
    [["resume", "fixer-abc12"], { command: "resume", identity: "fixer-abc12", format: "text", dryRun: false }],
    [
      ["resume", "fixer-abc12", "--prompt", "also add tests", "--format", "json"],
      { command: "resume", identity: "fixer-abc12", prompt: "also add tests", format: "json", dryRun: false },
    ],
    [
      ["start", "fixer", "--prompt", "go", "--capability-block", "rebuild", "--max-rebuilds", "3"],
      {
        command: "start",
        agent: "fixer",
        prompt: "go",
        format: "text",
        dryRun: false,
        capabilityBlock: "rebuild",
        maxRebuilds: 3,
      },
    ],
    [
      ["resume", "fixer-abc12", "--capability-block", "deny"],
      { command: "resume", identity: "fixer-abc12", format: "text", dryRun: false, capabilityBlock: "deny" },
    ],
    [["list", "--format", "json"], { command: "list", format: "json" }],
    [["cleanup"], { command: "cleanup", identities: [], force: false, format: "text" }],
    [
      ["cleanup", "fixer-abc12", "fixer-xyz34", "fixer-abc12"],
      { command: "cleanup", identities: ["fixer-abc12", "fixer-xyz34"], force: false, format: "text" },
    ],
    [
      ["cleanup", "--force", "fixer-abc12"],
      { command: "cleanup", identities: ["fixer-abc12"], force: true, format: "text" },
    ],
    [["demo"], { command: "demo", format: "text" }],
    [[], { command: "help" }],
    [["--help"], { command: "help" }],
    [["help", "help"], { command: "help" }],
    [["start", "--help"], { command: "help", topic: "start" }],
    [["resume", "-h"], { command: "help", topic: "resume" }],
    [["help", "list"], { command: "help", topic: "list" }],
    [["start", "fixer", "--nonsense", "--help"], { command: "help", topic: "start" }],
    [["--version"], { command: "version" }],
    [["-V"], { command: "version" }],
  ])("%j", (argv, expected) => {
    expect(parseCommand(argv)).toEqual(expected);
  });

  test.each([
    [["launch"], /^command: "launch" is not a command; use one of: start, resume/],
    [["start"], /^start: \(missing\) needs agent/],
    [["start", "fixer"], /^--prompt: \(missing\) is required/],
    [["start", "fixer", "--prompt", "  "], /^--prompt: "  " is empty/],
    [["start", "Fixer", "--prompt", "x"], /^agent: "Fixer" is not an agent name/],
    [
      ["start", "fixer", "extra", "--prompt", "x"],
      /^start: "extra" got more arguments than it takes; .*quote a prompt/,
    ],
    [
      ["start", "fixer", "--prompt", "x", "--format", "yaml"],
      /^--format: "yaml" is not an output format; use --format text or --format json/,
    ],
    [
      ["start", "fixer", "--prompt", "x", "--colour"],
      /^--colour: "--colour" is not understood by `start`; see `node runner help start` for the flags of start$/,
    ],
    [
      ["start", "fixer", "-p", "x"],
      /^-p: "-p" is not understood by `start`; did you mean --prompt\? \(see `node runner help start`/,
    ],
    [["start", "fixer", "--PROMPT", "x"], /did you mean --prompt\?/],
    [["start", "fixer", "--prompt", "x", "--work", "w"], /did you mean --workspace\?/],
    [
      ["start", "fixer", "--prompt", "x", "-dry-run"],
      /^-d: "-d" is not understood by `start`; did you mean --dry-run\?/,
    ],
    [["start", "fixer", "--prompt", "x", "--snapshot-intervall", "1m"], /did you mean --snapshot-interval\?/],
    [["start", "fixer", "--prompt", "x", "--hepl"], /did you mean --help\?/],
    [["resume", "fixer-abc12", "--max-rebuild", "1"], /did you mean --max-rebuilds\?/],
    [["start", "fixer", "--prompt", "x", "-m", "m.json"], /did you mean --manifest, --max-rebuilds or --max-resumes\?/],
    [["resume", "fixer-abc12", "-m", "1"], /did you mean --max-rebuilds or --max-resumes\?/],
    [["start", "fixer", "--prompt", "x", "-c", "deny"], /did you mean --capability-block\?/],
    [["list", "-x"], /^-x: "-x" is not understood by `list`; see `node runner help list`/],
    [["START"], /^command: "START" is not a command; did you mean start\?/],
    [["toString"], /^command: "toString" is not a command/],
    [["help", "launch"], /^help: "launch" is not a command; use one of/],
    [["help", "start", "resume"], /^help: "start resume" takes at most one command/],
    [
      ["start", "fixer", "--prompt", "x", "--snapshot-interval", "5"],
      /^--snapshot-interval: "5" is not a snapshot interval/,
    ],
    [["start", "fixer", "--prompt", "x", "--snapshot-interval", "100ms"], /^--snapshot-interval: "100ms"/],
    [["resume", "../../etc"], /^identity: "..\/..\/etc" is not a bottle identity/],
    [["resume", "fixer-abc12", "--manifest", "m.json"], /^--manifest: "m.json" is not a flag of `resume`/],
    [["cleanup", "../x"], /^identity: "..\/x" is not a bottle identity/],
    [
      ["cleanup", "--force"],
      /^--force: \(missing\) needs the bottles it removes; name them: node runner cleanup --force <identity>/,
    ],
    [["list", "--force"], /^--force: true is not a flag of `list`/],
    [["list", "--dry-run"], /^--dry-run: true is not a flag of `list`/],
    [["start", "fixer", "--prompt"], /^--prompt: \(missing\) needs a value; write --prompt VALUE/],
    [
      ["start", "fixer", "--prompt", "x", "--capability-block", "approve"],
      /^--capability-block: "approve" is not a capability-block policy; use one of: preserve, rebuild, deny/,
    ],
    [
      ["start", "fixer", "--prompt", "x", "--max-rebuilds=-1"],
      /^--max-rebuilds: "-1" is not a number of rebuilds; give a whole number from 0 to 10/,
    ],
    [["start", "fixer", "--prompt", "x", "--max-rebuilds", "11"], /^--max-rebuilds: "11" is not a number of rebuilds/],
    [
      ["start", "fixer", "--prompt", "x", "--max-rebuilds", "2.5"],
      /^--max-rebuilds: "2.5" is not a number of rebuilds/,
    ],
    [["list", "--capability-block", "deny"], /^--capability-block: "deny" is not a flag of `list`/],
    [
      ["start", "fixer", "--prompt", "x", "--snapshot-interval", "-1s"],
      /^--snapshot-interval: "-1s" has a value that starts with "-".*; write --snapshot-interval=-1s if that value is meant/,
    ],
    [
      ["start", "fixer", "--prompt", "x", "--snapshot-interval=-1s"],
      /^--snapshot-interval: "-1s" is not a snapshot interval/,
    ],
    [
      ["start", "fixer", "--prompt", "x", "--max-rebuilds", "-1"],
      /^--max-rebuilds: "-1" has a value that starts with "-"/,
    ],
    [
      ["start", "fixer", "--manifest", "--prompt", "x"],
      /^--manifest: \(missing\) needs a value \(it is followed by the flag --prompt\); write --manifest VALUE before the next flag/,
    ],
    [["start", "fixer", "--prompt", "x", "--dry-run=yes"], /^--dry-run: "yes" takes no value; write --dry-run alone/],
  ])("%j is refused: %s", (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(InputError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
