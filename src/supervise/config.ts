/**
 * The supervise sidecar's config and the proposal file it writes: the runner writes
 * the config, the sidecar reads it at start; the sidecar writes a proposal, the
 * runner reads it back. Both sides import these schemas, so what one writes the
 * other accepts. The config holds no secrets — only the Dockerfile the bottle was
 * built from and the names and upstreams of its routes.
 *
 * Bundled into the sidecar, so it imports only `node:` built-ins and zod.
 */
import { z } from "zod";
import { CAPABILITY_POLICIES } from "./policies.js";

export const SUPERVISE_PORT = 8090;
/** The name the agent reaches the sidecar by on the bottle's internal network. */
export const SUPERVISE_HOST_ALIAS = "supervise";
/** Where the sidecar keeps accepted proposals, read back through the archive API. */
export const PROPOSALS_DIR = "/tmp/claude-bottle-proposals";
export const MAX_DOCKERFILE_BYTES = 64 * 1024;
/** A reason is a sentence or a paragraph, not a document. */
export const MAX_REASON_CHARS = 4_000;

export { CAPABILITY_POLICIES, type CapabilityPolicy } from "./policies.js";

export const SuperviseConfigSchema = z
  .object({
    version: z.literal(1),
    listen: z.object({ host: z.string().min(1), port: z.int().min(0).max(65535) }).strict(),
    policy: z.enum(CAPABILITY_POLICIES),
    maxDockerfileBytes: z.int().positive().default(MAX_DOCKERFILE_BYTES),
    proposalsDir: z.string().min(1).default(PROPOSALS_DIR),
    currentDockerfile: z
      .object({
        source: z.enum(["bundled", "manifest", "per-bottle", "prebuilt"]),
        text: z.string(),
        /**
         * The image built from it, which a proposal can start FROM (a per-bottle build has no context to COPY
         * from).
         */
        image: z.string().optional(),
      })
      .strict(),
    egress: z
      .object({
        mode: z.enum(["enforce", "audit"]),
        allow: z.array(z.string()),
        routes: z.array(z.object({ name: z.string(), upstream: z.string() }).strict()),
      })
      .strict(),
  })
  .strict();
export type SuperviseConfig = z.infer<typeof SuperviseConfigSchema>;

export const ProposalSchema = z
  .object({
    version: z.literal(1),
    id: z.int().min(1),
    dockerfile: z.string(),
    reason: z.string().max(MAX_REASON_CHARS),
    at: z.string(),
  })
  .strict();
export type Proposal = z.infer<typeof ProposalSchema>;

export function proposalFileName(id: number): string {
  return `${id}.json`;
}
