/**
 * Starting the gate, the bottle's only way out: on the egress network, joined to
 * the internal one as `gate` while its program starts (claude, exec'd only once the
 * gate is ready, finds it there), holding the route credentials from the runner's
 * environment. It serves clients on the internal network only; the Docker host's
 * addresses and the bottle's subnets are added to what it refuses, and its lease
 * is written in before it starts.
 */
import { ROLES } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import { GATE_HOST_ALIAS } from "../../gate/config.js";
import type { HostAddressProbe } from "../host-addresses.js";
import type { BottleLease } from "../lease.js";
import type { BottlePlan } from "../plan.js";
import type { BottleResources } from "./resources.js";
import { hardenedSidecar, installAndStart, nodeHint, type Sidecar } from "./sidecar.js";
import { LaunchError, type LaunchDeps } from "./types.js";

export interface GateStart {
  resources: BottleResources;
  lease: BottleLease;
  hostProbe: HostAddressProbe;
  /** The bottle's networks being made: the gate is created meanwhile, and configured once they exist. */
  networks: Promise<void>;
}

/** Creates, configures and starts the gate; returns its container id once it is ready. */
export async function startGate(
  plan: BottlePlan,
  deps: LaunchDeps,
  { resources, lease, hostProbe, networks }: GateStart,
): Promise<string> {
  const { docker } = deps;
  const egress = await resources.wayOut();
  const sidecar = gateSidecar(plan, egress, gateSecrets(plan, deps.env));
  // The lease's clock is read from the start; a failure below waits for it too, so nothing runs on after.
  const leaseBegun = lease.begin();
  const leaseSettled = leaseBegun.then(
    () => {},
    () => {},
  );
  // Created on its way out while the internal network is made; both settle before a failure is thrown.
  const [made, created] = await Promise.allSettled([
    networks,
    resources.createContainer(hardenedSidecar(plan, sidecar)),
  ]);
  if (made.status === "rejected") throw await leaseSettled.then(() => made.reason);
  if (created.status === "rejected") throw await leaseSettled.then(() => created.reason);
  const id = created.value;
  // What it is configured with is read once the networks exist.
  const [hostAddresses, leaseFile, subnets] = await Promise.allSettled([
    hostProbe.addresses([egress, plan.networks.internal]),
    leaseBegun,
    resources.subnets(),
  ] as const);
  if (hostAddresses.status === "rejected") {
    const hint = nodeHint(hostAddresses.reason, plan.gate.image);
    throw new LaunchError(
      `the gate did not come up (${errorMessage(hostAddresses.reason)})${hint}; the agent was not started`,
    );
  }
  if (leaseFile.status === "rejected") {
    throw new LaunchError(
      `reading the engine's clock for the bottle's lease failed: ${errorMessage(leaseFile.reason)}; ` +
        "the agent was not started",
    );
  }
  if (hostAddresses.value.length)
    deps.log.info(`the gate refuses the Docker host's own addresses: ${hostAddresses.value.join(", ")}`);
  const proxy = plan.gate.config.proxy ?? {};
  if (subnets.status === "rejected") {
    throw new LaunchError(
      `reading the subnets of the bottle's networks failed: ${errorMessage(subnets.reason)}; the agent was not started`,
    );
  }
  const { internal, denied } = subnets.value;
  // Fail closed: with no network to admit clients from, the gate would serve its way out's neighbours.
  if (internal.length === 0) {
    throw new LaunchError(
      `the bottle's network ${plan.networks.internal} has no subnet for the gate to take clients from; ` +
        "the agent was not started",
    );
  }
  const deniedCidrs = [...(proxy.deniedCidrs ?? []), ...denied];
  const config = {
    ...plan.gate.config,
    // Its clients are on the internal network only: the way out is shared with other containers.
    listen: { ...plan.gate.config.listen, clients: internal },
    proxy: { ...proxy, deniedCidrs, hostAddresses: hostAddresses.value },
  };
  const files = { program: await deps.gateProgram(), config, extra: [leaseFile.value] };
  // Started on the egress network alone: a container starts faster on one network, and the gate
  // joins the internal one (where the agent finds it) while its program starts, before it is ready.
  await installAndStart(docker, id, sidecar, files, () =>
    docker.connectNetwork(id, plan.networks.internal, [GATE_HOST_ALIAS]),
  );
  lease.keep(id);
  return id;
}

function gateSidecar(plan: BottlePlan, egress: string, env: Record<string, string>): Sidecar {
  return {
    what: "the gate",
    name: plan.gate.name,
    image: plan.gate.image,
    role: ROLES.gate,
    dir: "/opt/claude-bottle-gate",
    program: "gate.mjs",
    network: egress,
    env,
    memoryBytes: 256 * 1024 * 1024,
    pidsLimit: 128,
    dns: plan.gate.dns,
  };
}

/** The gate's environment: each injecting route's credential, read from the runner's environment only now. */
function gateSecrets(plan: BottlePlan, env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const credential of plan.gate.credentials) {
    const value = env[credential.fromEnv];
    if (!value) {
      throw new LaunchError(
        `route ${credential.route} injects ${credential.header} from ${credential.fromEnv}, which is not set in the ` +
          "runner's environment; export it and retry",
      );
    }
    const route = plan.gate.config.routes.find((r) => r.name === credential.route);
    if (route?.inject) secrets[route.inject.secretEnv] = value;
  }
  return secrets;
}
