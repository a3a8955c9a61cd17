/**
 * A per-bottle build as the engine gets it (no context, no secret build args, the
 * bottle's internal network with the gate as its proxy, only images the engine
 * has), and the removal of its images with the bottle's state.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { type BottleBuild, bottleBuildRequest, removeBottleState } from "../../src/bottle/bottle-image.js";
import { readTarFiles } from "../../src/bottle/archive.js";
import type { DockerClient, ResourceSummary } from "../../src/docker/client.js";
import { StateStore } from "../../src/state/store.js";

/** The part of an engine these functions use: the images it has, and what was removed. */
function engine(images: string[], labelled: ResourceSummary[] = []): DockerClient & { removed: string[] } {
  const removed: string[] = [];
  return {
    removed,
    imageExists: async (ref: string) => images.includes(ref),
    listImages: async () => labelled,
    removeImage: async (ref: string) => void removed.push(ref),
  } as unknown as DockerClient & { removed: string[] };
}

const BUILD: BottleBuild = {
  tag: "claude-bottle-bottle:fixer-abcde",
  dockerfile: "ARG BASE_IMAGE=node:24\nFROM ${BASE_IMAGE}\nRUN apt-get install -y golang\n",
  buildArgs: { BASE_IMAGE: "local/base:1", NPM_TOKEN: "npm_secret" },
  labels: { "claude-bottle.identity": "fixer-abcde" },
  network: "claude-bottle-fixer-abcde-internal",
  agentEnv: {
    HOME: "/home/node",
    HTTPS_PROXY: "http://gate:8080",
    https_proxy: "http://gate:8080",
    NO_PROXY: "gate",
    ANTHROPIC_API_KEY: "placeholder",
  },
};

describe("a per-bottle build", () => {
  test("runs on the bottle's internal network with the gate as its proxy, with only BASE_IMAGE and the Dockerfile", async () => {
    const request = await bottleBuildRequest(BUILD, engine(["local/base:1"]));
    expect(request).toMatchObject({
      tag: BUILD.tag,
      networkMode: BUILD.network,
      labels: { "claude-bottle.identity": "fixer-abcde", "claude-bottle.role": "bottle-image" },
    });
    expect(request.buildArgs).toEqual({
      BASE_IMAGE: "local/base:1",
      HTTPS_PROXY: "http://gate:8080",
      https_proxy: "http://gate:8080",
      NO_PROXY: "gate",
    });
    const files = await readTarFiles(request.context, 1024 * 1024);
    expect([...files.keys()]).toEqual([request.dockerfile]);
    expect(files.get(request.dockerfile)?.toString()).toBe(BUILD.dockerfile);
  });

  test.each([
    [
      "an image the engine does not have",
      "FROM 127.0.0.1:5000/tools:1\n",
      "127.0.0.1:5000/tools:1 (line 1) is not on this Docker engine, and a per-bottle build pulls nothing",
    ],
    [
      "COPY --from an image the engine does not have",
      "FROM local/base:1\nCOPY --from=busybox:1 /bin/sh /bin/\n",
      "busybox:1 (line 2) is not on this Docker engine",
    ],
    [
      "a base the build arg leaves empty",
      "ARG NOPE\nFROM ${NOPE}\n",
      "(an empty name) (line 2) is not on this Docker engine",
    ],
    [
      "an ADD, however it got here",
      "FROM local/base:1\nADD http://127.0.0.1/x /x\n",
      "the per-bottle Dockerfile is not usable: line 2: ADD",
    ],
  ])("is refused before it starts: %s", async (_name, dockerfile, message) => {
    await expect(bottleBuildRequest({ ...BUILD, dockerfile }, engine(["local/base:1"]))).rejects.toThrow(message);
  });
});

describe("removing a bottle's state", () => {
  test("removes its per-bottle image, and the untagged ones earlier builds left", async () => {
    const state = new StateStore(mkdtempSync(join(tmpdir(), "bottle-image-")));
    await state.writeDockerfile("fixer-abcde", "FROM x\n");
    const docker = engine([], [{ id: "sha256:old", name: "sha256:old", labels: {} }]);
    await removeBottleState("fixer-abcde", { docker, state, log: { warn: () => {} } });
    expect(state.exists("fixer-abcde")).toBe(false);
    expect(docker.removed).toEqual(["claude-bottle-bottle:fixer-abcde", "sha256:old"]);
  });

  test("a failed image removal is a warning; the state is gone all the same", async () => {
    const state = new StateStore(mkdtempSync(join(tmpdir(), "bottle-image-")));
    await state.writeDockerfile("fixer-abcde", "FROM x\n");
    const warnings: string[] = [];
    const docker = { listImages: async () => Promise.reject(new Error("engine gone")) } as unknown as DockerClient;
    await removeBottleState("fixer-abcde", { docker, state, log: { warn: (l) => warnings.push(l) } });
    expect(state.exists("fixer-abcde")).toBe(false);
    expect(warnings).toEqual(["removing the per-bottle image of fixer-abcde failed: engine gone"]);
  });
});
