/**
 * Sizes as people write them in a manifest, Docker style: `512m`, `4g`, `1.5g`,
 * `1048576` (a number with an optional unit b, k, m or g, powers of 1024). Memory and
 * the state limit read them the same way; each adds its own lower bound.
 */

const SIZE_PATTERN = /^(\d+(?:\.\d+)?)([bkmg]?)$/i;
/** Largest first. */
export const SIZE_UNITS = [
  ["g", 1024 ** 3],
  ["m", 1024 ** 2],
  ["k", 1024],
  ["b", 1],
] as const;
const UNITS: Record<string, number> = Object.fromEntries([["", 1], ...SIZE_UNITS]);

/** The value as one short line of an error. */
function shown(text: string): string {
  const json = JSON.stringify(text);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/** Bytes in `text`; `kind` names what the size is for in the message (`memory size`, `state size`). */
export function parseSize(text: string, kind: string, examples: string): number {
  const match = SIZE_PATTERN.exec(text);
  if (match === null) {
    throw new Error(
      `${shown(text)} is not a ${kind}; use a number with an optional unit b, k, m or g, like ${examples}`,
    );
  }
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes))
    throw new Error(`${shown(text)} is too large a ${kind}; use something like ${examples}`);
  return bytes;
}

/** `bytes` the way a manifest would say it: the largest unit that divides it evenly (`8m`, `2g`, `1536k`). */
export function formatSize(bytes: number): string {
  for (const unit of ["g", "m", "k"]) {
    const scale = UNITS[unit]!;
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}
