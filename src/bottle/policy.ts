/**
 * The capability-block policy as a person overrides it for one run: the CLI's
 * `--capability-block` / `--max-rebuilds` and the action's inputs of the same names
 * read through these, so both say the same thing about a bad value.
 */
import { InputError } from "../errors.js";
import { CAPABILITY_POLICIES, type CapabilityPolicy } from "../supervise/policies.js";

/** A capability-block policy, from a CLI flag or an action input (`field` names which). */
export function parsePolicy(field: string, value: string): CapabilityPolicy {
  const found = CAPABILITY_POLICIES.find((p) => p === value.trim());
  if (!found)
    throw new InputError(
      field,
      value,
      "is not a capability-block policy",
      `use one of: ${CAPABILITY_POLICIES.join(", ")}`,
    );
  return found;
}

/** How many rebuilds one run may do: 0 to 10. */
export function parseMaxRebuilds(field: string, value: string): number {
  const trimmed = value.trim();
  const n = /^\d{1,2}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(n >= 0 && n <= 10))
    throw new InputError(field, value, "is not a number of rebuilds", "give a whole number from 0 to 10");
  return n;
}

/** The most crash resumes one run may make (input max-resumes, flag --max-resumes). */
export const MAX_RESUMES_LIMIT = 10;

/** How many times a crashed session is resumed at once in one run: 0 to MAX_RESUMES_LIMIT. */
export function parseMaxResumes(field: string, value: string): number {
  const trimmed = value.trim();
  const n = /^\d{1,2}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!(n >= 0 && n <= MAX_RESUMES_LIMIT)) {
    throw new InputError(
      field,
      value,
      "is not a number of resumes",
      `give a whole number from 0 to ${MAX_RESUMES_LIMIT} (0: a crash ends the run and preserves the bottle)`,
    );
  }
  return n;
}
