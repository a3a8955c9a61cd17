/**
 * `metadata.json`: what `resume` needs to rebuild a bottle and continue its session.
 * It is read back from disk (and later from a restored cache archive), so it is
 * parsed through zod like any other outside input.
 */
import { z } from "zod";
import { IDENTITY_PATTERN } from "./identity.js";
import { NAME_PATTERN } from "../names.js";
import { OUTCOMES } from "./outcome.js";

/** Where a launch ran: a CI run and its attempt, or null for a launch from the CLI. */
export const OriginSchema = z
  .object({ run: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), attempt: z.number().int().min(1).max(10_000) })
  .strict();
export type Origin = z.infer<typeof OriginSchema>;

/** One finished launch of the identity, as the history keeps it. */
export const LaunchRecordSchema = z
  .object({
    launch: z.number().int().min(1),
    origin: OriginSchema.nullable(),
    outcome: z.enum([...OUTCOMES, "running"]),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().nullable(),
    numTurns: z.number().int().nonnegative().nullable(),
    costUsd: z.number().nonnegative().nullable(),
  })
  .strict();
export type LaunchRecord = z.infer<typeof LaunchRecordSchema>;

/** The history keeps the newest launches only, so a bottle resumed forever stays small. */
export const HISTORY_LIMIT = 100;

export const MetadataSchema = z
  .object({
    version: z.literal(1),
    identity: z.string().regex(IDENTITY_PATTERN),
    agent: z.string().regex(NAME_PATTERN),
    /** Absolute path of the manifest, or "(embedded default)". */
    manifestPath: z.string().max(4096),
    /** The host directory the workspace was copied from, and where a success copies it back. */
    workspace: z.string().max(4096),
    sessionId: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,128}$/)
      .nullable(),
    /** "running" while a runner owns the bottle. */
    outcome: z.enum([...OUTCOMES, "running"]),
    exitCode: z.number().int().nullable(),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().nullable(),
    /** How many times this identity has been launched (1 for a fresh start). */
    launches: z.number().int().min(1),
    numTurns: z.number().int().nonnegative().nullable(),
    costUsd: z.number().nonnegative().nullable(),
    image: z.string().max(512).nullable(),
    /** Where this launch runs (see Origin). */
    origin: OriginSchema.nullable().default(null),
    /** The launches before this one, oldest first. */
    history: z.array(LaunchRecordSchema).max(HISTORY_LIMIT).default([]),
    /** The bottle's `limits.state`, so a rescue of its state by `cleanup` keeps to it too. */
    stateLimitBytes: z.number().int().positive().optional(),
  })
  .strict();

export type Metadata = z.output<typeof MetadataSchema>;

/**
 * `settled.json`: the mark of a bottle whose state was settled (a success cleans it
 * up). A state holding it is a tombstone: its metadata and nothing to resume. It
 * tells a later restore that the newest word on this bottle is that it finished.
 */
export const SettledSchema = z
  .object({
    outcome: z.enum(OUTCOMES),
    origin: OriginSchema.nullable(),
    at: z.iso.datetime(),
  })
  .strict();
export type Settled = z.infer<typeof SettledSchema>;

/** "run 501 attempt 2", or "a local run" for a launch from the CLI. */
export function describeOrigin(origin: Origin | null): string {
  return origin ? `run ${origin.run} attempt ${origin.attempt}` : "a local run";
}

/** This launch as a history entry. */
export function launchRecord(metadata: Metadata): LaunchRecord {
  const { launches: launch, origin, outcome, startedAt, endedAt, numTurns, costUsd } = metadata;
  return { launch, origin, outcome, startedAt, endedAt, numTurns, costUsd };
}

/** Every launch the state knows, oldest first, this one last. */
export function launchHistory(metadata: Metadata): LaunchRecord[] {
  return [...metadata.history, launchRecord(metadata)];
}

/** The history a new launch starts with: the previous launches and the one that just ended. */
export function historyAfter(previous: Metadata | null): LaunchRecord[] {
  return previous ? launchHistory(previous).slice(-HISTORY_LIMIT) : [];
}
