/**
 * A CI job never builds the same agent image twice: the job that builds it saves the
 * engine's export to the cache, the next job on an emptied engine loads it and
 * builds nothing. A poisoned cache entry that would tag another image (the gate's)
 * is refused before the engine sees it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { imageCacheKey } from "../../src/action/image-cache.js";
import { newJob, runStep } from "../support/action.js";
import { saveFiles, tarOf } from "../support/cache-entries.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { FAKE_AGENT_IMAGE, GATE_IMAGE, fake, labelled, writeManifest } from "../support/runner.js";

const KEY = `sk-ant-image-${Math.random().toString(36).slice(2)}`;
const tags: string[] = [];

/** A bottle on the bundled Dockerfile, over the fake agent, with a build arg of its own so its tag is this test's. */
function checkout(nonce: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bottle-image-"));
  writeManifest(dir, {
    bottles: {
      built: {
        buildArgs: { BASE_IMAGE: FAKE_AGENT_IMAGE, CLAUDE_CODE_VERSION: `0.0.0-${nonce}` },
        egress: {
          routes: [
            {
              name: "anthropic",
              upstream: "http://127.0.0.1:9",
              inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
              role: "anthropic",
            },
          ],
        },
      },
    },
    agents: { fixer: { bottle: "built" } },
  });
  return dir;
}

function builtTag(stdout: string): string {
  const tag = /building agent image (claude-bottle-agent:\S+)/.exec(stdout)?.[1];
  if (!tag) throw new Error(`no build in:\n${stdout}`);
  tags.push(tag);
  return tag;
}

const imageId = (ref: string) =>
  execFileSync("docker", ["image", "inspect", "--format", "{{.Id}}", ref], { encoding: "utf8" }).trim();

let server: CacheServer;
beforeAll(async () => {
  server = await startCacheServer({ protocol: "v2", flavour: "github" });
});
afterAll(async () => {
  await server?.close();
  for (const tag of tags) execFileSync("docker", ["rmi", "-f", tag], { stdio: "ignore" });
});

const task = { agent: "fixer", prompt: fake({ end: "success" }), "anthropic-api-key": KEY };

test("the second job on an emptied engine loads the image the first one built, and builds nothing", async () => {
  const nonce = Math.random().toString(36).slice(2, 8);
  const first = await runStep(
    newJob({ workspace: checkout(nonce), runId: "4001", attempt: 1, cacheEnv: server.env }),
    "main",
    task,
  );
  expect(first.code, first.stdout).toBe(0);
  const tag = builtTag(first.stdout);
  expect(first.stdout).toContain(
    `agent image ${tag}: not in the cache yet; building it, then saving it for the next job`,
  );
  expect(first.stdout).toContain(`agent image ${tag}: saved to the cache as ${imageCacheKey(tag)}`);
  expect(server.entries().map((e) => e.key)).toContain(imageCacheKey(tag));

  execFileSync("docker", ["rmi", "-f", tag], { stdio: "ignore" });
  const second = await runStep(
    newJob({ workspace: checkout(nonce), runId: "4002", attempt: 1, cacheEnv: server.env }),
    "main",
    task,
  );
  expect(second.code, second.stdout).toBe(0);
  expect(second.stdout).toMatch(
    new RegExp(
      `agent image ${tag.replace(/[.:]/g, "\\$&")}: loaded from the cache in \\d+\\.\\d s \\(building it took \\d+\\.\\d s\\)`,
    ),
  );
  expect(second.stdout).not.toContain("building agent image");
  expect(second.stdout).not.toContain("saved to the cache as bottle-image");
  expect(labelled(second.outputs.identity)).toEqual({ containers: [], networks: [] });
});

test("a cached export that would tag the gate's image is refused; the job builds instead", async () => {
  const nonce = Math.random().toString(36).slice(2, 8);
  // Learn the tag this bottle builds (a dry run of the same plan would do; a real run is simplest), then empty the engine.
  const learn = await runStep(
    newJob({ workspace: checkout(nonce), runId: "4101", attempt: 1, cacheEnv: {} }),
    "main",
    task,
  );
  const tag = builtTag(learn.stdout);
  execFileSync("docker", ["rmi", "-f", tag], { stdio: "ignore" });
  const gateBefore = imageId(GATE_IMAGE);

  const workspace = checkout(nonce);
  const poison = await tarOf([
    { name: "manifest.json", body: JSON.stringify([{ Config: "x.json", RepoTags: [GATE_IMAGE, tag], Layers: [] }]) },
    { name: "x.json", body: "{}" },
  ]);
  await saveFiles(server, workspace, imageCacheKey(tag), {
    "image.tar": poison,
    "image.json": JSON.stringify({ buildMs: 1 }),
  });
  const run = await runStep(newJob({ workspace, runId: "4102", attempt: 1, cacheEnv: server.env }), "main", task);
  expect(run.code, run.stdout).toBe(0);
  expect(run.stdout).toContain(
    `agent image ${tag}: the cached copy was not used (the cached image export names ${JSON.stringify([GATE_IMAGE, tag])}, not only ${tag}; refusing to load it); building it instead`,
  );
  expect(run.stdout).toContain(`building agent image ${tag}`);
  expect(imageId(GATE_IMAGE)).toBe(gateBefore);
});
