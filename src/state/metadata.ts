/**
 * `metadata.json`: what `resume` needs to rebuild a bottle and continue its session.
 * It is read back from disk (and later from a restored cache archive), so it is
 * parsed through zod like any other outside input.
 */
import { z } from "zod";
import { IDENTITY_PATTERN } from "../bottle/identity.js";
import { OUTCOMES } from "../bottle/outcome.js";

export const MetadataSchema = z
  .object({
    version: z.literal(1),
    identity: z.string().regex(IDENTITY_PATTERN),
    agent: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/),
    /** Absolute path of the manifest, or "(embedded default)". */
    manifestPath: z.string().max(4096),
    /** The host directory the workspace was copied from, and where a success copies it back. */
    workspace: z.string().max(4096),
    sessionId: z.string().regex(/^[A-Za-z0-9-]{1,128}$/).nullable(),
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
    /** The bottle's `limits.state`, so a rescue of its state by `cleanup` keeps to it too. */
    stateLimitBytes: z.number().int().positive().optional(),
  })
  .strict();

export type Metadata = z.infer<typeof MetadataSchema>;
