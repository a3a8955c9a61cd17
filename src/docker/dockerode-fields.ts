/**
 * How the engine's API spells what `DockerClient` passes as plain values: an
 * environment as `KEY=value` lines, a label filter as JSON, a creation time in
 * seconds (containers) or RFC 3339 (networks).
 */

export function envList(env: Record<string, string> | undefined): string[] {
  return Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);
}

export function labelFilters(labels: string[]): string {
  return JSON.stringify({ label: labels });
}

/** `created` from the engine's timestamp, when it is readable. */
export function createdAt(value: number | string | undefined): { created?: Date } {
  if (value === undefined) return {};
  const time = new Date(typeof value === "number" ? value * 1000 : value);
  return Number.isNaN(time.getTime()) ? {} : { created: time };
}

/** The HTTP status of an engine error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}
