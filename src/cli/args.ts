/**
 * The one place `node runner` arguments are parsed: node's parseArgs splits them,
 * the checks here read each value, and every mistake becomes an InputError naming
 * the flag, the value and the fix (exit code 2, nothing created). No schema library:
 * this file is in the CLI's entry, which `--help` and `--version` load alone.
 */
import { parseArgs } from "node:util";
import { parseIdentity } from "../state/identity.js";
import { InputError } from "../errors.js";
import { parseDuration } from "../manifest/duration.js";
import { NAME_PATTERN } from "../names.js";
import type { CapabilityPolicy } from "../supervise/policies.js";
import { parseMaxRebuilds, parseMaxResumes, parsePolicy } from "../bottle/policy.js";
import { nearCommand, nearFlags } from "./near-miss.js";

const FORMATS = ["text", "json"] as const;
export type Format = (typeof FORMATS)[number];

/** The values of LAUNCH_FLAGS, which start and resume share (the policy ones override the manifest's for one run). */
interface LaunchFlags {
  workspace?: string;
  format: Format;
  dryRun: boolean;
  snapshotIntervalMs?: number;
  capabilityBlock?: CapabilityPolicy;
  maxRebuilds?: number;
  maxResumes?: number;
}

export type Command =
  | ({ command: "start"; agent: string; prompt: string; manifest?: string } & LaunchFlags)
  | ({ command: "resume"; identity: string; prompt?: string } & LaunchFlags)
  | { command: "list"; format: Format }
  | { command: "cleanup"; identities: string[]; force: boolean; format: Format }
  | { command: "demo"; format: Format }
  | { command: "help"; topic?: CommandName }
  | { command: "version" };

const FLAGS = {
  prompt: { type: "string" },
  manifest: { type: "string" },
  workspace: { type: "string" },
  format: { type: "string" },
  "dry-run": { type: "boolean" },
  "snapshot-interval": { type: "string" },
  "capability-block": { type: "string" },
  "max-rebuilds": { type: "string" },
  "max-resumes": { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The commands that do something (help and version only print). */
export type CommandName = "start" | "resume" | "list" | "cleanup" | "demo";

/** The flags start and resume share: the work tree, the output and the launch's settings. */
const LAUNCH_FLAGS: (keyof typeof FLAGS)[] = [
  "workspace",
  "format",
  "dry-run",
  "snapshot-interval",
  "capability-block",
  "max-rebuilds",
  "max-resumes",
];

/** Which flags each command takes; anything else is an error naming the flag. */
export const ALLOWED: Record<CommandName, (keyof typeof FLAGS)[]> = {
  start: ["prompt", "manifest", ...LAUNCH_FLAGS],
  resume: ["prompt", ...LAUNCH_FLAGS],
  list: ["format"],
  cleanup: ["format", "force"],
  demo: ["format"],
};

/** parseArgs's refusal as an InputError: which flag, what was wrong with it, and how to write it. */
function flagError(error: unknown, args: string[], command: CommandName): InputError {
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(-[^' ]+)/.exec(message)?.[1] ?? args.join(" ");
  if (/argument missing/.test(message)) {
    return new InputError(flag, undefined, "needs a value", `write ${flag} VALUE (quote values with spaces)`);
  }
  if (/argument is ambiguous/.test(message)) {
    // The next word starts with "-": a forgotten value before another flag, or a value such as "-1s".
    const next = args[args.indexOf(flag) + 1];
    const name = next?.replace(/^--?/, "").split("=")[0] ?? "";
    if (next === undefined || name in FLAGS) {
      return new InputError(
        flag,
        undefined,
        `needs a value (it is followed by the flag ${next})`,
        `write ${flag} VALUE before the next flag`,
      );
    }
    return new InputError(
      flag,
      next,
      'has a value that starts with "-", which reads as a flag',
      `write ${flag}=${next} if that value is meant`,
    );
  }
  if (/does not take an argument/.test(message)) {
    const given = args.find((a) => a.startsWith(`${flag}=`));
    return new InputError(
      flag,
      given?.slice(flag.length + 1),
      "takes no value",
      `write ${flag} alone to turn it on, or leave it out`,
    );
  }
  const meant = nearFlags(flag, [...ALLOWED[command], "help"]).map((f) => `--${f}`);
  const see = `see \`node runner help ${command}\` for the flags of ${command}`;
  return new InputError(
    flag,
    flag,
    `is not understood by \`${command}\``,
    meant.length
      ? `did you mean ${meant.length > 1 ? `${meant.slice(0, -1).join(", ")} or ${meant.at(-1)}` : meant[0]}? (${see})`
      : see,
  );
}

/** `name` as a command that does something, or an InputError suggesting the one meant. */
function commandName(name: string, field: string): CommandName {
  if (Object.hasOwn(ALLOWED, name)) return name as CommandName;
  const names = Object.keys(ALLOWED);
  const meant = nearCommand(name, [...names, "help"]);
  throw new InputError(
    field,
    name,
    "is not a command",
    `${meant ? `did you mean ${meant}? ` : ""}use one of: ${names.join(", ")} (see \`node runner help\`)`,
  );
}

export function parseCommand(argv: string[]): Command {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") return { command: "help" };
  if (name === "--version" || name === "-V") return { command: "version" };
  if (name === "help") {
    if (rest.length > 1)
      throw new InputError("help", rest.join(" "), "takes at most one command", "write node runner help <command>");
    return rest[0] === undefined || rest[0] === "help"
      ? { command: "help" }
      : { command: "help", topic: commandName(rest[0], "help") };
  }
  const command = commandName(name, "command");
  // Asking for help wins over any mistake elsewhere on the line, as in most Unix tools.
  const end = rest.indexOf("--");
  if ((end < 0 ? rest : rest.slice(0, end)).some((arg) => arg === "--help" || arg === "-h"))
    return { command: "help", topic: command };
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true; strict: true; args: string[] }>
  >;
  try {
    parsed = parseArgs({ args: rest, options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    throw flagError(error, rest, command);
  }
  const { values, positionals } = parsed;
  for (const key of Object.keys(values) as (keyof typeof FLAGS)[]) {
    if (key !== "help" && !ALLOWED[command].includes(key)) {
      throw new InputError(
        `--${key}`,
        values[key],
        `is not a flag of \`${command}\``,
        `${command} takes: ${ALLOWED[command].map((f) => `--${f}`).join(" ") || "no flags"}`,
      );
    }
  }
  const format = parseFormat(values.format);
  const snapshotIntervalMs =
    values["snapshot-interval"] === undefined ? undefined : parseInterval(values["snapshot-interval"]);
  const policy = {
    ...(values["capability-block"] !== undefined
      ? { capabilityBlock: parsePolicy("--capability-block", values["capability-block"]) }
      : {}),
    ...(values["max-rebuilds"] !== undefined
      ? { maxRebuilds: parseMaxRebuilds("--max-rebuilds", values["max-rebuilds"]) }
      : {}),
    ...(values["max-resumes"] !== undefined
      ? { maxResumes: parseMaxResumes("--max-resumes", values["max-resumes"]) }
      : {}),
  };
  // The values of LAUNCH_FLAGS.
  const launchFlags = (): LaunchFlags => ({
    ...(values.workspace !== undefined ? { workspace: nonEmpty("--workspace", values.workspace) } : {}),
    format,
    dryRun: values["dry-run"] ?? false,
    ...(snapshotIntervalMs !== undefined ? { snapshotIntervalMs } : {}),
    ...policy,
  });
  const expectPositionals = (count: number, what: string) => {
    if (positionals.length !== count) {
      const extra = positionals.slice(count);
      throw new InputError(
        command,
        positionals.length < count ? undefined : extra.join(" "),
        positionals.length < count ? `needs ${what}` : "got more arguments than it takes",
        `usage: node runner ${command}${count ? ` <${what}>` : ""} [options]; quote a prompt with spaces`,
      );
    }
  };
  switch (command) {
    case "start": {
      expectPositionals(1, "agent");
      const agent = positionals[0] as string;
      if (!NAME_PATTERN.test(agent)) {
        throw new InputError(
          "agent",
          agent,
          "is not an agent name",
          "agent names are lowercase letters, digits and hyphens, as defined under `agents` in the manifest",
        );
      }
      const prompt = requirePrompt(values.prompt, true) as string;
      return {
        command,
        agent,
        prompt,
        ...(values.manifest !== undefined ? { manifest: nonEmpty("--manifest", values.manifest) } : {}),
        ...launchFlags(),
      };
    }
    case "resume": {
      expectPositionals(1, "identity");
      const prompt = requirePrompt(values.prompt, false);
      return {
        command,
        identity: parseIdentity(positionals[0], "identity"),
        ...(prompt !== undefined ? { prompt } : {}),
        ...launchFlags(),
      };
    }
    case "cleanup": {
      const identities = [...new Set(positionals.map((p) => parseIdentity(p, "identity")))];
      const force = values.force ?? false;
      if (force && identities.length === 0) {
        throw new InputError(
          "--force",
          undefined,
          "needs the bottles it removes",
          "name them: node runner cleanup --force <identity> (see `node runner list`)",
        );
      }
      return { command, identities, force, format };
    }
    case "list":
    case "demo":
      expectPositionals(0, "");
      return { command, format };
  }
}

function parseFormat(value: string | undefined): Format {
  const format = FORMATS.find((f) => f === (value ?? "text"));
  if (format === undefined)
    throw new InputError("--format", value, "is not an output format", "use --format text or --format json");
  return format;
}

function parseInterval(value: string): number {
  try {
    const ms = parseDuration(value);
    if (ms < 1000) throw new Error("too short");
    return ms;
  } catch {
    throw new InputError(
      "--snapshot-interval",
      value,
      "is not a snapshot interval",
      "use a duration of at least 1s, like 10s or 1m",
    );
  }
}

function requirePrompt(value: string | undefined, required: boolean): string | undefined {
  if (value === undefined) {
    if (required)
      throw new InputError("--prompt", undefined, "is required", 'give the task, like --prompt "fix the failing test"');
    return undefined;
  }
  if (value.trim() === "") throw new InputError("--prompt", value, "is empty", "give the task as text");
  return value;
}

function nonEmpty(flag: string, value: string): string {
  if (value.trim() === "") throw new InputError(flag, value, "is empty", `give a path after ${flag}`);
  return value;
}
