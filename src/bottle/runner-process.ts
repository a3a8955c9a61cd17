/**
 * Whether the runner that made a bottle is provably gone.
 *
 * A host name proves nothing here: a runner in a container has the container's
 * name, a container on the host network has the host's, and two hosts can share
 * one. A pid means something only inside one pid namespace of one running kernel.
 * So a runner labels its bottle with where its process lives, `<boot id>/<pid
 * namespace>/<pid>/<start time>` (RUNNER_PROCESS_LABEL), and another process judges
 * it by its pid only when the boot id and the pid namespace are its own. The start
 * time, in clock ticks since boot, tells the runner from a later process that got
 * its pid. Anything else (another host, another container, a runner that wrote no
 * such label) is `elsewhere`: its liveness is the lease's question (lease.ts).
 *
 * Linux only: where /proc is missing nothing is provable and every runner is
 * `elsewhere`.
 */
import { readFileSync, readlinkSync } from "node:fs";

export interface RunnerProcess {
  bootId: string;
  /** The pid namespace, as /proc/<pid>/ns/pid names it (`pid:[4026531836]`). */
  pidNamespace: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
  startTicks: string;
}

export type RunnerState = "running" | "gone" | "elsewhere";

/**
 * What the system says about one pid: its start time, `absent`, or `hidden` (it exists, its /proc entry
 * cannot be read).
 */
export type PidProbe = (pid: number) => { startTicks: string } | "absent" | "hidden";

/** The start time from the text of /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function startTicksOf(stat: string): string | null {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields are numbered from 1 and the first two (pid, comm) come before the ")".
  const ticks = fields[22 - 3];
  return ticks !== undefined && /^\d+$/.test(ticks) ? ticks : null;
}

/** This process, or null where /proc cannot say. */
export function currentProcess(): RunnerProcess | null {
  try {
    const startTicks = startTicksOf(readFileSync("/proc/self/stat", "utf8"));
    const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const pidNamespace = readlinkSync("/proc/self/ns/pid");
    if (startTicks === null || bootId === "") return null;
    return { bootId, pidNamespace, pid: process.pid, startTicks };
  } catch {
    return null;
  }
}

export function formatRunnerProcess(p: RunnerProcess): string {
  return `${p.bootId}/${p.pidNamespace}/${p.pid}/${p.startTicks}`;
}

export function parseRunnerProcess(text: string | undefined): RunnerProcess | null {
  const match = /^([0-9a-f-]{1,64})\/(pid:\[\d+\])\/([1-9]\d{0,9})\/(\d{1,20})$/i.exec(text ?? "");
  if (!match) return null;
  return { bootId: match[1]!, pidNamespace: match[2]!, pid: Number(match[3]), startTicks: match[4]! };
}

/** The system's answer for `pid` in this process's pid namespace. */
export const systemPidProbe: PidProbe = (pid) => {
  try {
    const ticks = startTicksOf(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return ticks === null ? "hidden" : { startTicks: ticks };
  } catch {
    // /proc may hide other users' processes (hidepid): ask the kernel whether the pid exists at all.
    try {
      process.kill(pid, 0);
      return "hidden";
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "EPERM" ? "hidden" : "absent";
    }
  }
};

/**
 * `recorded` (a bottle's RUNNER_PROCESS_LABEL) as seen from `self`: `running` or
 * `gone` when it lives in the same pid namespace of the same boot, else `elsewhere`.
 * A pid whose entry cannot be read counts as running: only what is proven is gone.
 */
export function runnerState(
  recorded: RunnerProcess | null,
  self: RunnerProcess | null,
  probe: PidProbe = systemPidProbe,
): RunnerState {
  if (recorded === null || self === null) return "elsewhere";
  if (recorded.bootId !== self.bootId || recorded.pidNamespace !== self.pidNamespace) return "elsewhere";
  if (recorded.pid === self.pid) return recorded.startTicks === self.startTicks ? "running" : "gone";
  const seen = probe(recorded.pid);
  if (seen === "absent") return "gone";
  if (seen === "hidden") return "running";
  return seen.startTicks === recorded.startTicks ? "running" : "gone";
}
