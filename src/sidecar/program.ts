/**
 * The frame both sidecar programs (the gate, the supervise server) run in: read and
 * check `<config.json>`, start, and speak one JSON event per stdout line. The runner
 * waits for `ready` and treats the process exiting first as a failed launch, so
 * anything wrong at start (an unreadable or invalid config, a missing secret, a
 * port in use) ends in one `fatal` line and exit code 1 before `ready` is printed.
 * SIGTERM/SIGINT print `stopped` and exit 0.
 *
 * Bundled into the sidecars, so it imports only `node:` built-ins, zod and src/errors.ts.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { errorMessage } from "../errors.js";

export type Emit = (event: object) => void;

function writeLine(event: object): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function fatal(reason: string, extra: object = {}): void {
  writeLine({ event: "fatal", reason, ...extra });
  process.exitCode = 1;
}

/** `start` prints `ready` itself (through `emit`) once it is serving. */
export async function runSidecar<S extends z.ZodType>(
  name: string,
  configPath: string | undefined,
  schema: S,
  start: (config: z.output<S>, emit: Emit) => Promise<{ close(): Promise<void> }>,
): Promise<void> {
  if (configPath === undefined) return fatal(`usage: ${name} <config.json>`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, "utf8"));
  } catch (error) {
    return fatal(`cannot read ${name} config ${configPath}: ${errorMessage(error)}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    return fatal(`invalid ${name} config ${configPath}:\n${z.prettifyError(parsed.error)}`, {
      issues: parsed.error.issues,
    });
  }
  try {
    const running = await start(parsed.data, writeLine);
    const stop = (signal: NodeJS.Signals): void => {
      writeLine({ event: "stopped", signal });
      running.close().then(
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
