/**
 * Execs through dockerode. The output is demultiplexed with the modem's own
 * demuxer into stdout and stderr, the stream is awaited to its end and destroyed
 * in `finally`, so a failed exec never leaves a socket open, and the exit code is
 * read from the engine once it has one. An aborted `signal` gives the exec up early.
 */
import type Docker from "dockerode";
import { PassThrough, type Readable } from "node:stream";
import { type ExecHandlers, type ExecRequest, isNotFound, type RunningExec } from "./client.js";
import { envList } from "./dockerode-fields.js";

export async function exec(
  docker: Docker,
  container: string,
  request: ExecRequest,
  handlers: ExecHandlers = {},
): Promise<number> {
  const created = await docker.getContainer(container).exec({
    Cmd: request.cmd,
    User: request.user,
    ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
    Env: envList(request.env),
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
  });
  const stream = (await created.start({ hijack: true, stdin: false })) as unknown as Readable;
  try {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    stdout.on("data", (c: Buffer) => handlers.stdout?.(c));
    stderr.on("data", (c: Buffer) => handlers.stderr?.(c));
    docker.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
      if (handlers.signal?.aborted) resolve();
      handlers.signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  } finally {
    stream.destroy();
  }
  if (handlers.signal?.aborted) {
    const info = await created.inspect().catch(() => null);
    return info && !info.Running ? (info.ExitCode ?? -1) : -1;
  }
  // The output stream can close a moment before the engine records the exit code.
  for (let i = 0; i < 100; i++) {
    const info = await created.inspect();
    if (!info.Running) return info.ExitCode ?? -1;
    await new Promise((r) => setTimeout(r, 50));
  }
  return -1;
}

export async function runningExecs(docker: Docker, container: string): Promise<RunningExec[]> {
  let ids: string[];
  try {
    ids = (await docker.getContainer(container).inspect()).ExecIDs ?? [];
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const execs = await Promise.all(
    ids.map((id) =>
      docker
        .getExec(id)
        .inspect()
        // An exec the engine has already forgotten is not running.
        .catch((error: unknown) => (isNotFound(error) ? null : Promise.reject(error))),
    ),
  );
  const running: RunningExec[] = [];
  for (const e of execs) {
    if (e?.Running) running.push({ id: e.ID, command: [e.ProcessConfig.entrypoint, ...e.ProcessConfig.arguments] });
  }
  return running;
}
