/**
 * Durations as people write them in a manifest or a flag: `90s`, `30m`, `1h30m`,
 * `500ms`, `1d`. Units go largest first and each appears at most once, so a
 * value reads one way only; a bare number is refused because nobody can tell
 * whether `30` meant seconds or minutes.
 */

const UNITS = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
] as const;

// `m(?!s)` keeps the minutes group from eating the `m` of a trailing `ms`.
const DURATION_PATTERN = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

const ACCEPTED = "use a number with a unit, like 90s, 30m or 1h30m (units d, h, m, s, ms, largest first)";

/** Milliseconds in `text`; throws an Error naming the value and the accepted forms. */
export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (text === "" || match === null) {
    throw new Error(`${JSON.stringify(text)} is not a duration; ${ACCEPTED}`);
  }
  let total = 0;
  UNITS.forEach(([, scale], index) => {
    const digits = match[index + 1];
    if (digits !== undefined) total += Number(digits) * scale;
  });
  if (!Number.isSafeInteger(total)) {
    throw new Error(`${JSON.stringify(text)} is too long to be a duration; ${ACCEPTED}`);
  }
  if (total === 0) {
    throw new Error(`${JSON.stringify(text)} is zero; a duration must be longer than that, like 90s, 30m or 1h30m`);
  }
  return total;
}

/** The shortest text `parseDuration` reads back as `ms` (rounded to whole milliseconds). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return "0s";
  let text = "";
  for (const [unit, scale] of UNITS) {
    const count = Math.floor(rest / scale);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * scale;
  }
  return ms < 0 ? `-${text}` : text;
}
