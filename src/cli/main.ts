/**
 * `node runner <command>`: parses the command, prints help and the version itself,
 * and loads the rest (commands.ts: the launch, the manifest, the engine) only for a
 * command that does something. Progress and lifecycle lines go to stderr; stdout
 * carries only the final summary (or, with `--format json`, one JSON object), so
 * scripts can parse it. Exit codes: 0 success, 1 any other outcome or failed launch,
 * 2 bad input.
 */
import { errorMessage, isUserError } from "../errors.js";
import { type Command, parseCommand } from "./args.js";
import { helpText } from "./help.js";
import { type CliIo, safeIo } from "./output.js";
import { versionText } from "./version.js";

export type { CliIo } from "./output.js";

export async function main(argv: string[], rawIo: CliIo): Promise<number> {
  const io = safeIo(rawIo);
  try {
    const command: Command = parseCommand(argv);
    switch (command.command) {
      case "help":
        io.stdout(helpText(command.topic));
        return 0;
      case "version":
        io.stdout(versionText());
        return 0;
      default: {
        const { runCommand } = await import("./commands.js");
        return await runCommand(command, io);
      }
    }
  } catch (error) {
    if (isUserError(error)) {
      io.stderr(`claude-bottle: ${error.message}\n`);
      return 2;
    }
    io.stderr(`claude-bottle: ${errorMessage(error)}\n`);
    return 1;
  }
}
