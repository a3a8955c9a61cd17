/**
 * The gate program: `node gate.js <config.json>`, run inside the gate container.
 *
 * Every line on stdout is one JSON event. The runner waits for `ready` and treats
 * the process exiting first as a failed launch, so anything wrong at start (an
 * unreadable or invalid config, a missing secret, a port in use) ends in one
 * `fatal` line and exit code 1 before `ready` could ever be printed.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { errorMessage } from "../errors.js";
import { GateConfigSchema } from "./config.js";
import { startRoutes } from "./routes.js";

function writeLine(event: object): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function fatal(reason: string, extra: object = {}): void {
  writeLine({ event: "fatal", reason, ...extra });
  process.exitCode = 1;
}

async function main(configPath: string | undefined): Promise<void> {
  if (configPath === undefined) return fatal("usage: gate <config.json>");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, "utf8"));
  } catch (error) {
    return fatal(`cannot read gate config ${configPath}: ${errorMessage(error)}`);
  }
  const parsed = GateConfigSchema.safeParse(raw);
  if (!parsed.success) {
    return fatal(`invalid gate config ${configPath}:\n${z.prettifyError(parsed.error)}`, { issues: parsed.error.issues });
  }
  try {
    const gate = await startRoutes(parsed.data, process.env, writeLine);
    const stop = (signal: NodeJS.Signals): void => {
      writeLine({ event: "stopped", signal });
      gate.close().then(
        () => process.exit(0),
        () => process.exit(0),
      );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  } catch (error) {
    // Startup errors name routes and variables, never secret values.
    fatal(errorMessage(error));
  }
}

void main(process.argv[2]);
