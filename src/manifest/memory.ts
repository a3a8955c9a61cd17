/**
 * Memory sizes: the manifest's `limits.memory` (Docker's minimum applies), and
 * amounts shown to people as they go by (`1.3g` of a pull). The unit table is size.ts's;
 * a size printed back as the manifest says it is size.ts's `formatSize`.
 */
import { SIZE_UNITS, parseSize } from "./size.js";

// Docker refuses a memory limit below 6 MiB.
const MIN_MEMORY_BYTES = 6 * 1024 ** 2;

/** Bytes in a Docker-style memory size; throws an Error naming the value and the accepted forms. */
export function parseMemory(text: string): number {
  const bytes = parseSize(text, "memory size", "512m or 4g");
  if (bytes < MIN_MEMORY_BYTES)
    throw new Error(`${JSON.stringify(text)} is below Docker's minimum of 6m; use at least 6m, like 512m or 4g`);
  return bytes;
}

/**
 * `bytes` in the largest unit that holds it whole (`4g`, `1536m`); a size no unit
 * holds whole is shown in the largest unit it reaches, to two decimals (`1.3g`).
 */
export function formatMemory(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return `${bytes}b`;
  const whole = SIZE_UNITS.find(([, scale]) => bytes % scale === 0 && bytes >= scale);
  if (whole && whole[0] !== "b") return `${bytes / whole[1]}${whole[0]}`;
  const [unit, scale] =
    SIZE_UNITS.find(([, scale]) => bytes >= scale) ?? (SIZE_UNITS[3] as (typeof SIZE_UNITS)[number]);
  return `${Number((bytes / scale).toFixed(2))}${unit}`;
}
