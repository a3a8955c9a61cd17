/**
 * The error a user fixes by changing what they typed: a flag, an action input, an
 * identity, a state directory they pointed at. It names the field, the value and
 * the fix, and the CLI maps it to exit code 2 with no stack trace. Everything
 * else that goes wrong is an ordinary Error with a prefixed message.
 */
export class InputError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${field}: ${InputError.show(value)} ${problem}; ${fix}`);
    this.name = "InputError";
  }

  private static show(value: unknown): string {
    if (value === undefined) return "(missing)";
    const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  }
}

/** A message fit for a log line, whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Like errorMessage, with a system error's code in front when the message does not name it (`ECONNREFUSED: ...`). */
export function describeError(error: unknown): string {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return code !== undefined && !errorMessage(error).includes(code) ? `${code}: ${errorMessage(error)}` : errorMessage(error);
}
