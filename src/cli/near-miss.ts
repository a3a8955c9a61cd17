/**
 * The flag or command a person most likely meant when they typed one the runner does
 * not know: `-p` for `--prompt` (the flags of that command starting with p; `-m`
 * gives `--manifest` or `--max-rebuilds`), `--work` for `--workspace` (the one flag
 * it starts), `--promt` or `--PROMPT` for `--prompt` (a slip of a letter or two, by
 * the same rule as the manifest's errors).
 */
import { closest } from "../closest.js";

/**
 * The flags (without dashes) of `known` that `typed` (as typed, with its dashes) was
 * meant to be: one, or for a short option, every flag starting with its letter.
 */
export function nearFlags(typed: string, known: readonly string[]): string[] {
  const name = (typed.replace(/^--?/, "").split("=")[0] ?? "").toLowerCase();
  if (name === "") return [];
  if (known.includes(name)) return [name];
  const starting = known.filter((flag) => flag.startsWith(name));
  // One letter after one dash is a short option; a longer start is an abbreviation.
  if (name.length === 1) return starting;
  if (typed.startsWith("--") && starting.length === 1) return starting;
  const near = closest(name, known);
  return near ? [near] : [];
}

/** The command of `known` that `typed` was meant to be. */
export function nearCommand(typed: string, known: readonly string[]): string | undefined {
  return typed === "" ? undefined : closest(typed, known);
}
