/**
 * The OCI runtime a bottle's agent runs under, and what its pid limit means there.
 *
 * gVisor (`runsc`) is chosen whenever the engine has it registered. Its ptrace
 * platform backs every process in the bottle with a host process and threads of its
 * own (measured: an idle sandbox holds 39 host tasks, and each `sleep` in it adds 10),
 * while the engine's pid limit counts host tasks; and when gVisor cannot create one,
 * it ends the whole sandbox rather than failing the guest's fork. So under runsc the
 * engine's limit is scaled, for the manifest's `limits.pids` to keep meaning processes.
 */
export const GVISOR_RUNTIME = "runsc";

/** Host tasks allowed per process of the bottle under gVisor: the measured ten, with room for threads. */
export const GVISOR_TASKS_PER_PROCESS = 16;

/** The runtime for a bottle's agent, from the engine's registered runtimes; null is the engine's default. */
export function agentRuntime(runtimes: readonly string[]): string | null {
  return runtimes.includes(GVISOR_RUNTIME) ? GVISOR_RUNTIME : null;
}

/** The pid limit to give the engine for a bottle allowed `pids` processes under `runtime`. */
export function enginePidsLimit(pids: number, runtime: string | null): number {
  return runtime === GVISOR_RUNTIME ? pids * GVISOR_TASKS_PER_PROCESS : pids;
}
