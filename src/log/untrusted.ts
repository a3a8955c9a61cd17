/**
 * Text the agent controls, made safe for a terminal and for a CI runner's log.
 *
 * A runner reads every stdout line of a step as a possible workflow command: a line
 * that starts with `::` once leading whitespace is trimmed (`::add-mask::`,
 * `::set-output`, `::save-state name=…::`, `::stop-commands::`, `::error::`), and
 * the older form `##[command]` anywhere in a line. A terminal obeys ESC sequences and
 * a bare CR rewrites the line above. So every line the runner prints goes through
 * `neutralise`:
 * - control characters (C0 but tab, DEL, C1) and the Unicode line and paragraph
 *   separators are shown as escapes (`\r`, `\x1b`, `\u2028`), so one line stays one
 *   line and nothing reaches the terminal as a control sequence;
 * - a line that would start with `::` gets a backslash before it (`\::add-mask::x`);
 * - `##[` becomes `##\[`.
 * Our own lines never need any of these, so the rule applies to every line, not only
 * to those we know carry agent text.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { "\r": "\\r", "\u001b": "\\x1b", "\u0000": "\\0" };

function escapeControl(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

function neutraliseLine(line: string): string {
  const escaped = line.replace(CONTROL, escapeControl).replaceAll("##[", "##\\[");
  return /^\s*::/.test(escaped) ? escaped.replace(/^(\s*)::/, "$1\\::") : escaped;
}

/** Each line of `text` (split on \n) neutralised; the line breaks themselves are kept. */
export function neutralise(text: string): string {
  return text.split("\n").map(neutraliseLine).join("\n");
}

/** The agent's words on one line (runs of whitespace made one space), at most `max` characters. */
export function clip(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
