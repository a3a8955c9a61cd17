/**
 * A hardened sidecar (the gate, the supervise server): a Node program under
 * nobody's uid, with no capabilities, no new privileges and small limits, that
 * says `ready` on its stdout once it serves. Fail closed: anything else (an exit,
 * a `fatal` line, silence) is a LaunchError, and no agent is ever started.
 */
import type { ContainerRequest, DockerClient, Role } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import { type FileEntry, packFiles, ROOT_OWNER } from "../archive.js";
import type { BottlePlan } from "../plan.js";
import { roleLabels } from "./resources.js";
import { LaunchError } from "./types.js";

const READY_TIMEOUT_MS = 20_000;
const NOBODY = "65534:65534";
/** The setting that names the image both sidecars run on. */
const IMAGE_SETTING = "CLAUDE_BOTTLE_GATE_IMAGE";

export interface Sidecar {
  /** How the log names it: "the gate". */
  what: string;
  name: string;
  image: string;
  role: Role;
  /** Its program is `<dir>/<program>`, its config `<dir>/config.json`. */
  dir: string;
  program: string;
  network: string;
  aliases?: string[];
  env: Record<string, string>;
  memoryBytes: number;
  pidsLimit: number;
  dns?: string[];
}

export function sidecarConfigPath(sidecar: Pick<Sidecar, "dir">): string {
  return `${sidecar.dir}/config.json`;
}

export function hardenedSidecar(plan: BottlePlan, sidecar: Sidecar): ContainerRequest {
  return {
    name: sidecar.name,
    image: sidecar.image,
    cmd: ["node", `${sidecar.dir}/${sidecar.program}`, sidecarConfigPath(sidecar)],
    user: NOBODY,
    env: sidecar.env,
    labels: roleLabels(plan, sidecar.role),
    network: sidecar.network,
    ...(sidecar.aliases ? { networkAliases: sidecar.aliases } : {}),
    capDrop: ["ALL"],
    securityOpt: ["no-new-privileges"],
    memoryBytes: sidecar.memoryBytes,
    pidsLimit: sidecar.pidsLimit,
    ...(sidecar.dns?.length ? { dns: sidecar.dns } : {}),
    // A sidecar on two networks must not route between them: the gate's way out is shared with other
    // containers, which could otherwise send through it into the bottle's internal network.
    sysctls: { "net.ipv4.ip_forward": "0" },
  };
}

/**
 * Copies the program and its config (and any `extra` file) into the sidecar, starts it and waits until it is
 * ready; `whileStarting` runs once it has started, alongside the wait, and must succeed too.
 */
export async function installAndStart(
  docker: DockerClient,
  id: string,
  sidecar: Sidecar,
  files: { program: Buffer; config: unknown; extra?: FileEntry[] },
  whileStarting?: () => Promise<void>,
): Promise<void> {
  const entries: FileEntry[] = [
    { name: `${sidecar.dir}/${sidecar.program}`.slice(1), content: files.program, mode: 0o444 },
    { name: sidecarConfigPath(sidecar).slice(1), content: JSON.stringify(files.config), mode: 0o444 },
    ...(files.extra ?? []),
  ];
  await docker.putArchive(id, "/", await packFiles(entries, ROOT_OWNER));
  await startWhenReady(docker, id, sidecar, whileStarting);
}

/** What to check when a container of a Node image would not start. */
export function nodeHint(error: unknown, image: string): string {
  return /executable file not found|no such file/i.test(errorMessage(error))
    ? `; check that the image ${image} (${IMAGE_SETTING}) has Node >= 20`
    : "";
}

/** Starts a sidecar and waits for its `ready` line (and for `whileStarting`). */
async function startWhenReady(
  docker: DockerClient,
  id: string,
  sidecar: Sidecar,
  whileStarting = async () => {},
): Promise<void> {
  try {
    await docker.startContainer(id);
  } catch (error) {
    throw new LaunchError(
      `${sidecar.what} did not come up (${errorMessage(error)}); ` +
        `the agent was not started${nodeHint(error, sidecar.image)}`,
    );
  }
  // Both settle before either failure is thrown (the ready line's first), so nothing runs on after it.
  const [joined, ready] = await Promise.allSettled([whileStarting(), waitUntilReady(docker, id, sidecar)]);
  if (ready.status === "rejected") throw ready.reason;
  if (joined.status === "rejected") {
    throw new LaunchError(
      `${sidecar.what} did not come up (${errorMessage(joined.reason)}); the agent was not started`,
    );
  }
}

/** Waits for a started sidecar's `ready` line; its exit, a `fatal` line or silence is a LaunchError. */
async function waitUntilReady(docker: DockerClient, id: string, sidecar: Sidecar): Promise<void> {
  let reason = "";
  const ready = (line: string) => {
    try {
      const event = JSON.parse(line) as { event?: string; reason?: string };
      if (event.event === "fatal") reason = event.reason ?? "";
      return event.event === "ready";
    } catch {
      return false;
    }
  };
  const how = await docker.waitForLogLine(id, ready, READY_TIMEOUT_MS);
  if (how !== "matched") {
    const tail = await docker.logsTail(id, 20).catch(() => "");
    const why = how === "timeout" ? `no ready line within ${READY_TIMEOUT_MS / 1000}s` : "it exited";
    throw new LaunchError(
      `${sidecar.what} did not come up (${why})${reason ? `: ${reason}` : ""}; ` +
        `the agent was not started\n${tail.trim()}`,
    );
  }
}
