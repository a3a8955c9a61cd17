/**
 * The supervise sidecar's part of a plan: the agent's MCP server for
 * capability-block, on the internal network only. Its policy says what a
 * proposal does in this launch: "rebuild" only while rebuilds are left, else
 * "preserve"; each rebuild uses one up.
 */
import {
  type CapabilityPolicy,
  MAX_DOCKERFILE_BYTES,
  PROPOSALS_DIR,
  SUPERVISE_HOST_ALIAS,
  SUPERVISE_PORT,
  type SuperviseConfig,
} from "../supervise/config.js";

export interface SupervisePlan {
  name: string;
  image: string;
  /** What a proposal does in this launch: "rebuild" only while rebuilds are left, else "preserve". */
  policy: CapabilityPolicy;
  /** Rebuilds this run may still do after this launch's proposal. */
  rebuildsLeft: number;
  /** Written into the sidecar at launch. */
  config: SuperviseConfig;
}

export interface SuperviseRequest {
  name: string;
  image: string;
  /** The manifest's `capabilityBlock`, or the flag or input over it. */
  policy: CapabilityPolicy;
  maxRebuilds: number;
  /** What the agent is told it runs on. */
  currentDockerfile: SuperviseConfig["currentDockerfile"];
  /** Where the bottle may connect, for the agent to read. */
  egress: SuperviseConfig["egress"];
}

export function supervisePlan(request: SuperviseRequest): SupervisePlan {
  const policy = request.policy === "rebuild" && request.maxRebuilds === 0 ? "preserve" : request.policy;
  return {
    name: request.name,
    image: request.image,
    policy,
    rebuildsLeft: request.policy === "rebuild" ? request.maxRebuilds : 0,
    config: {
      version: 1,
      listen: { host: "0.0.0.0", port: SUPERVISE_PORT },
      policy,
      maxDockerfileBytes: MAX_DOCKERFILE_BYTES,
      proposalsDir: PROPOSALS_DIR,
      currentDockerfile: request.currentDockerfile,
      egress: request.egress,
    },
  };
}

/** The same sidecar for the launch after a rebuild: one rebuild fewer, telling the agent its new Dockerfile. */
export function afterRebuild(
  supervise: SupervisePlan,
  currentDockerfile: SuperviseConfig["currentDockerfile"],
): SupervisePlan {
  const last = supervise.rebuildsLeft <= 1;
  return {
    ...supervise,
    policy: last ? "preserve" : supervise.policy,
    rebuildsLeft: Math.max(0, supervise.rebuildsLeft - 1),
    config: { ...supervise.config, policy: last ? "preserve" : supervise.config.policy, currentDockerfile },
  };
}

/** The `--mcp-config` document that points claude at the supervise sidecar. */
export function superviseMcpConfig(): string {
  const url = `http://${SUPERVISE_HOST_ALIAS}:${SUPERVISE_PORT}/mcp`;
  return JSON.stringify({ mcpServers: { supervise: { type: "http", url } } });
}
