/**
 * An error the user fixes, whose message says what is wrong and how to fix it, so
 * both doors show it as it is: the CLI exits with code 2, the action fails the step
 * with the message alone. Its kinds: InputError, ManifestError (manifest/error.ts),
 * UnsafeArchiveError (state/archive.ts). Any other error is a fault of the runner or
 * of what it drives; the doors print its message after a `claude-bottle:` prefix.
 */
export class UserError extends Error {}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}

/**
 * The error a user fixes by changing what they typed: a flag, an action input, an
 * identity, a state directory they pointed at. It names the field, the value and
 * the fix.
 */
export class InputError extends UserError {
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
    const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  }
}

/** A message fit for a log line, whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Like errorMessage, with a system error's code in front when the message does not name it (`ECONNREFUSED: ...`). */
export function describeError(error: unknown): string {
  const message = errorMessage(error);
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}
