/**
 * What the runner does when the agent asks for a different image (capability-block):
 * keep the proposal for a later run (`preserve`), rebuild and resume at once
 * (`rebuild`), or refuse it (`deny`). Free of zod, so the CLI's entry can check
 * `--capability-block` without loading the supervise config's schemas (config.ts).
 */
export const CAPABILITY_POLICIES = ["preserve", "rebuild", "deny"] as const;
export type CapabilityPolicy = (typeof CAPABILITY_POLICIES)[number];
