/**
 * The engine's own floor for a bottle's launch, with no runner at all: the bottle's
 * internal network (made as the runner makes it) created while the gate's container
 * is created on the engine's default bridge, its way out; then the agent's container
 * created on the internal network; then both started at once. Each runs only
 * `sleep infinity`: nothing is copied in, no second network is joined and nothing
 * waits for a program to say ready, so a launch can only be slower than this. Timed
 * through the engine's API (dockerode), as the runner talks to it; everything made
 * is removed after.
 */
import Docker from "dockerode";
import { IDENTITY_LABEL } from "./harness.mjs";

/** One floor run: ms from the first request until both containers have started. */
export async function engineFloor({ identity, agentImage, gateImage, label }) {
  const docker = new Docker();
  const [labelKey, labelValue] = label.split("=");
  const labels = { [IDENTITY_LABEL]: identity, [labelKey]: labelValue };
  const name = (role) => `${identity}-${role}`;
  const made = { networks: [], containers: [] };
  const container = async (role, image, network) => {
    const created = await docker.createContainer({
      name: name(role),
      Image: image,
      Cmd: ["sleep", "infinity"],
      Labels: labels,
      HostConfig: { NetworkMode: network },
    });
    made.containers.push(created.id);
    return created;
  };
  try {
    const started = performance.now();
    const internal = docker
      .createNetwork({
        Name: name("internal"),
        Internal: true,
        Labels: labels,
        Options: { "com.docker.network.bridge.inhibit_ipv4": "true" },
      })
      .then(() => made.networks.push(name("internal")));
    const [gate, agent] = await Promise.all([
      container("gate", gateImage, "bridge"),
      internal.then(() => container("agent", agentImage, name("internal"))),
    ]);
    await Promise.all([gate.start(), agent.start()]);
    return performance.now() - started;
  } finally {
    await Promise.allSettled(made.containers.map((id) => docker.getContainer(id).remove({ force: true })));
    await Promise.allSettled(made.networks.map((n) => docker.getNetwork(n).remove()));
  }
}
