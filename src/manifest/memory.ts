/**
 * Memory sizes as people write them in a manifest, Docker style: `512m`, `4g`,
 * `1.5g`, `1048576` (bytes). The unit table lives here once, so what the runner
 * prints back (`4g` in a dry run) reads the way the manifest was written.
 */

const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)([bkmg]?)$/i;
/** Largest first: `formatMemory` picks the first unit that fits. */
const UNITS = [
  ["g", 1024 ** 3],
  ["m", 1024 ** 2],
  ["k", 1024],
  ["b", 1],
] as const;
const SCALE: Record<string, number> = Object.fromEntries([["", 1], ...UNITS]);
// Docker refuses a memory limit below 6 MiB.
const MIN_MEMORY_BYTES = 6 * 1024 ** 2;

function shown(text: string): string {
  const json = JSON.stringify(text);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

/** Bytes in a Docker-style memory size; throws an Error naming the value and the accepted forms. */
export function parseMemory(text: string): number {
  const match = MEMORY_PATTERN.exec(text);
  if (match === null) {
    throw new Error(`${shown(text)} is not a memory size; use a number with an optional unit b, k, m or g, like 512m or 4g`);
  }
  const bytes = Math.floor(Number(match[1]) * SCALE[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw new Error(`${shown(text)} is too large a memory size; use something like 4g or 16g`);
  if (bytes < MIN_MEMORY_BYTES) throw new Error(`${shown(text)} is below Docker's minimum of 6m; use at least 6m, like 512m or 4g`);
  return bytes;
}

/**
 * `bytes` in the largest unit that holds it whole (`4g`, `1536m`); a size no unit
 * holds whole is shown in the largest unit it reaches, to two decimals (`1.3g`).
 */
export function formatMemory(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return `${bytes}b`;
  const whole = UNITS.find(([, scale]) => bytes % scale === 0 && bytes >= scale);
  if (whole && whole[0] !== "b") return `${bytes / whole[1]}${whole[0]}`;
  const [unit, scale] = UNITS.find(([, scale]) => bytes >= scale) ?? UNITS[3];
  return `${Number((bytes / scale).toFixed(2))}${unit}`;
}
