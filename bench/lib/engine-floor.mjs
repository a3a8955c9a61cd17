/**
 * The engine's own floor for a bottle's launch, with no runner at all: the two
 * networks a bottle needs (the internal one as the runner makes it, and an egress
 * one) created at once, then a container on each created and started at once (the
 * agent image on the internal network, the gate image on the egress one), each
 * only `sleep infinity`. Nothing is copied in and nothing waits for a program to
 * say ready, so a launch can only be slower than this. Timed through the engine's
 * API (dockerode), as the runner talks to it; everything made is removed after.
 */
import Docker from "dockerode";
import { IDENTITY_LABEL } from "./harness.mjs";

/** One floor run: ms from the first network's request until both containers have started. */
export async function engineFloor({ identity, agentImage, gateImage, label }) {
  const docker = new Docker();
  const [labelKey, labelValue] = label.split("=");
  const labels = { [IDENTITY_LABEL]: identity, [labelKey]: labelValue };
  const name = (role) => `${identity}-${role}`;
  const made = { networks: [], containers: [] };
  const network = async (role, internal) => {
    await docker.createNetwork({
      Name: name(role),
      Internal: internal,
      Labels: labels,
      ...(internal ? { Options: { "com.docker.network.bridge.inhibit_ipv4": "true" } } : {}),
    });
    made.networks.push(name(role));
  };
  const container = async (role, image, net) => {
    const c = await docker.createContainer({
      name: name(role),
      Image: image,
      Cmd: ["sleep", "infinity"],
      Labels: labels,
      HostConfig: { NetworkMode: name(net) },
    });
    made.containers.push(c.id);
    await c.start();
  };
  try {
    const started = performance.now();
    await Promise.all([network("internal", true), network("egress", false)]);
    await Promise.all([container("agent", agentImage, "internal"), container("gate", gateImage, "egress")]);
    return performance.now() - started;
  } finally {
    await Promise.allSettled(made.containers.map((id) => docker.getContainer(id).remove({ force: true })));
    await Promise.allSettled(made.networks.map((n) => docker.getNetwork(n).remove()));
  }
}
