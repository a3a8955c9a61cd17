/**
 * The pieces behind the CLI's progress and its units: Dockerfile steps cut from the
 * engine's build output, a pull's event stream folded into a few lines, and memory
 * sizes printed back the way the manifest writes them.
 */
import { describe, expect, test } from "vitest";
import { buildStep } from "../../src/docker/build-steps.js";
import { PullProgress } from "../../src/docker/pull-progress.js";
import { formatMemory, parseMemory } from "../../src/manifest/memory.js";

describe("buildStep", () => {
  test.each([
    ["Step 5/14 : RUN npm ci", "step 5/14 RUN npm ci"],
    ["Step 1/7 : ARG BASE_IMAGE=node:24-bookworm-slim", "step 1/7 ARG BASE_IMAGE=node:24-bookworm-slim"],
    [
      "Step 2/2 : RUN apt-get update &&     apt-get install -y jq",
      "step 2/2 RUN apt-get update && apt-get install -y jq",
    ],
    [`Step 3/9 : RUN ${"x".repeat(200)}`, `step 3/9 RUN ${"x".repeat(95)}…`],
  ])("%j -> %j", (line, step) => {
    expect(buildStep(line)).toBe(step);
  });

  test.each([
    " ---> Running in 9f8e7d",
    " ---> 1a2b3c4d",
    "Successfully built 1a2b3c4d",
    "added 12 packages in 3s",
    "Step five : RUN x",
    "",
  ])("%j is not a step", (line) => {
    expect(buildStep(line)).toBeUndefined();
  });
});

describe("PullProgress", () => {
  test("a line at most every interval with layers done and bytes fetched, then a closing line", () => {
    const lines: string[] = [];
    let now = 0;
    const progress = new PullProgress(
      "node:24",
      (line) => lines.push(line),
      () => now,
      2_000,
    );
    progress.event({ status: "Pulling from library/node", id: "24" });
    progress.event({ status: "Pulling fs layer", id: "a" });
    progress.event({ status: "Pulling fs layer", id: "b" });
    now = 1_000;
    progress.event({
      status: "Downloading",
      id: "a",
      progressDetail: { current: 10 * 1024 ** 2, total: 30 * 1024 ** 2 },
    });
    expect(lines).toEqual([]);
    now = 2_500;
    progress.event({
      status: "Downloading",
      id: "b",
      progressDetail: { current: 5 * 1024 ** 2, total: 10 * 1024 ** 2 },
    });
    now = 3_000;
    progress.event({ status: "Download complete", id: "b" });
    progress.event({ status: "Pull complete", id: "b" });
    now = 5_000;
    progress.event({ status: "Download complete", id: "a" });
    progress.event({ status: "Pull complete", id: "a" });
    progress.event({ status: "Digest: sha256:abc" });
    progress.end();
    expect(lines).toEqual([
      "pulling node:24: 0/2 layers, 15m of 40m",
      "pulling node:24: 1/2 layers, 40m of 40m",
      "pulled node:24: 2/2 layers, 40m of 40m",
    ]);
  });

  test("layers already on the engine count as done", () => {
    const lines: string[] = [];
    const progress = new PullProgress(
      "node:24",
      (line) => lines.push(line),
      () => 0,
    );
    progress.event({ status: "Already exists", id: "a" });
    progress.end();
    expect(lines).toEqual(["pulled node:24: 1/1 layers"]);
  });
});

describe("formatMemory", () => {
  test.each([
    [4 * 1024 ** 3, "4g"],
    [512 * 1024 ** 2, "512m"],
    [1.5 * 1024 ** 3, "1536m"],
    [6 * 1024 ** 2, "6m"],
    [2048, "2k"],
    [1000, "1000b"],
    [parseMemory("1.3g"), "1.3g"],
  ])("%d bytes is %s", (bytes, text) => {
    expect(formatMemory(bytes)).toBe(text);
  });

  test.each(["4g", "512m", "1536m", "6m", "16g", "100000k"])("%s reads back as the same size", (text) => {
    expect(parseMemory(formatMemory(parseMemory(text)))).toBe(parseMemory(text));
  });
});
