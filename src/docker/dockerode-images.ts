/**
 * Images through dockerode: build, pull, list, remove, and the engine's own
 * export and import (`docker save` and `docker load`). Build and pull output is
 * followed to the end; an error the engine reports inside the stream rejects.
 */
import type Docker from "dockerode";
import type { Readable } from "node:stream";
import { lineSplitter } from "../stream/lines.js";
import { type BuildRequest, isNotFound, type ResourceSummary } from "./client.js";
import { labelFilters } from "./dockerode-fields.js";
import { type PullEvent, PullProgress } from "./pull-progress.js";

export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

export async function buildImage(docker: Docker, request: BuildRequest, onLog: (line: string) => void): Promise<void> {
  const stream = await docker.buildImage(request.context, {
    t: request.tag,
    dockerfile: request.dockerfile,
    buildargs: request.buildArgs,
    labels: request.labels,
    rm: true,
    forcerm: true,
    ...(request.networkMode ? { networkmode: request.networkMode } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
        if (error) return reject(error);
        const failed = output.find((o) => o.error);
        if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error));
        resolve();
      },
      (event: { stream?: string; status?: string }) => {
        const text = event.stream ?? event.status;
        if (text) for (const line of text.split("\n")) if (line.trim()) onLog(line);
      },
    );
  });
}

export async function pullImage(docker: Docker, ref: string, onProgress?: (line: string) => void): Promise<void> {
  const stream = await docker.pull(ref);
  const progress = onProgress ? new PullProgress(ref, onProgress) : null;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null) => (error ? reject(error) : resolve()),
      (event: PullEvent) => progress?.event(event),
    );
  });
  progress?.end();
}

export async function removeImage(docker: Docker, ref: string): Promise<void> {
  try {
    await docker.getImage(ref).remove({ force: true });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function exportImage(docker: Docker, ref: string): Promise<Readable> {
  return (await docker.getImage(ref).get()) as Readable;
}

/** The JSON line's `error`, if the line is JSON and has one. */
function errorOf(line: string): string | undefined {
  try {
    return (JSON.parse(line) as { error?: string }).error;
  } catch {
    return undefined;
  }
}

export async function importImage(docker: Docker, tar: Readable): Promise<void> {
  const response = (await docker.loadImage(tar, { quiet: true })) as Readable;
  // The engine answers with JSON lines; an error is one of them, not an HTTP status.
  const lines: string[] = [];
  const split = lineSplitter((line) => lines.push(line));
  for await (const chunk of response) split.push(chunk as Buffer);
  split.flush();
  for (const line of lines) {
    const message = errorOf(line);
    if (message) throw new Error(`loading the image failed: ${message}`);
  }
}

export async function listImages(docker: Docker, labels: string[]): Promise<ResourceSummary[]> {
  const images = await docker.listImages({ filters: labelFilters(labels) });
  return images.map((i) => ({
    id: i.Id,
    name: i.RepoTags?.find((t) => t !== "<none>:<none>") ?? i.Id,
    labels: i.Labels ?? {},
  }));
}
