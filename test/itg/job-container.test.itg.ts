/**
 * The action as Gitea's and Forgejo's act-based runners run it: main and post inside
 * a job container with Node 20 (and again with Node 24), the host's Docker socket
 * mounted, the checkout and RUNNER_TEMP at paths only that container has, and the v1
 * cache server Gitea embeds, which the job reaches at the host's address on Docker's
 * default bridge. Attempt 1 crashes and preserves; the re-run (attempt 2: a fresh job
 * container and checkout) resumes the same session; nothing is left on the engine.
 *
 * The agent must read the checkout and its work must come back into the re-run's
 * checkout. Had the action bind-mounted a job path, the bottle would get an empty
 * directory the engine makes on this host, and the test checks that none appears.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { newJob, runStep } from "../support/action.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { JOB_IMAGES, type JobContainer, startJobContainer } from "../support/job-container.js";
import {
  fake,
  FAKE_AGENT_IMAGE,
  FAKE_ROUTE,
  hostAddressForContainers,
  labelled,
  labelledImages,
} from "../support/runner.js";

const KEY = `sk-ant-job-${Math.random().toString(36).slice(2)}`;
const TOKEN = Math.random().toString(36).slice(2, 10);
const README = `a project checked out only inside the job container (${TOKEN})\n`;
const MANIFEST = {
  bottles: {
    fake: {
      image: FAKE_AGENT_IMAGE,
      egress: { routes: [FAKE_ROUTE] },
    },
  },
  agents: { fixer: { bottle: "fake" } },
};
// A tool result the agent could not get (README.md missing, half.txt missing) shows as "(1 failed)".
const TOOL_OK = /↳ 1 tool result$/m;

describe.each(JOB_IMAGES)("the action in a %s job container (act-based runner, cache v1)", (_name, image, version) => {
  let server: CacheServer;
  const containers: JobContainer[] = [];
  beforeAll(async () => {
    server = await startCacheServer({ protocol: "v1", flavour: "gitea", host: hostAddressForContainers() });
  });
  afterAll(async () => {
    for (const c of containers) c.remove();
    await server?.close();
  });

  /** A fresh job container with a fresh checkout, as a runner gives every attempt of a job. */
  function attempt(n: number) {
    const container = startJobContainer(image);
    containers.push(container);
    container.checkout({ "README.md": README, "claude-bottle.json": JSON.stringify(MANIFEST, null, 2) });
    // A job name of this file's own keeps its bottles' identities apart from other tests' on a shared engine.
    const env = { GITHUB_JOB: `job-container-${TOKEN}-${version}` };
    return {
      container,
      job: newJob({
        workspace: container.workspace,
        runId: "1201",
        attempt: n,
        cacheEnv: server.env,
        host: container,
        env,
      }),
    };
  }

  test("crash in attempt 1 → the re-run resumes the same session; nothing is left on the engine or on this host", async () => {
    const inputs = {
      agent: "fixer",
      prompt: fake({ steps: [{ run: "sed 's/^/seen: /' README.md > half.txt" }, { say: "first half" }], end: "crash" }),
      "anthropic-api-key": KEY,
      "save-state": "cache",
      // The gate runs on the job image's node too: a gate image only has to have Node >= 20.
      "gate-image": image,
    };
    const one = attempt(1);
    const first = await runStep(one.job, "main", inputs);
    expect(first.stdout).toContain(`claude-bottle: starting (node ${version}`);
    expect(first.code, first.stdout).toBe(1);
    expect(first.outputs).toMatchObject({ outcome: "crashed", preserved: "true", "exit-code": "137" });
    const identity = first.outputs.identity as string;
    expect(first.stdout).toMatch(TOOL_OK);
    expect(first.outputs["cache-key"]).toBe(`bottle-state-${identity}-1201-1`);
    expect(server.entries().map((e) => e.key)).toContain(`bottle-state-${identity}-1201-1`);
    const post1 = await runStep(one.job, "post");
    expect(post1.code, post1.stdout).toBe(0);
    expect(post1.stdout).not.toContain("post: main stopped early");
    expect(labelled(identity)).toEqual({ containers: [], networks: [] });

    const two = attempt(2);
    const second = await runStep(two.job, "main", {
      ...inputs,
      "resume-prompt": fake({ steps: [{ run: "grep -q '^seen: ' half.txt" }], end: "success" }),
    });
    expect(second.code, second.stdout).toBe(0);
    expect(second.outputs).toMatchObject({
      identity,
      outcome: "success",
      "session-id": first.outputs["session-id"],
      preserved: "false",
    });
    expect(second.stdout).toContain(`attempt 2: resuming ${identity}`);
    expect(second.stdout).toMatch(/resumed session \S+ with [1-9]\d* earlier entries/);
    expect(second.stdout).toMatch(TOOL_OK);
    // What the agent made of attempt 1's checkout is in attempt 2's, and nothing else is new there.
    const { container } = two;
    expect(container.exec(["cat", "half.txt"], { cwd: container.workspace })).toBe(`seen: ${README}`);
    expect(container.exec(["git", "status", "--porcelain"], { cwd: container.workspace })).toBe("?? half.txt\n");
    const post2 = await runStep(two.job, "post");
    expect(post2.code, post2.stdout).toBe(0);

    expect(labelled(identity)).toEqual({ containers: [], networks: [] });
    expect(labelledImages(identity)).toEqual([]);
    // A bind mount of a job path makes the engine create that path on this host.
    for (const { container: c } of [one, two]) expect(existsSync(c.root), `${c.root} exists on the host`).toBe(false);
    const logged = (first.stdout + second.stdout).split("\n").filter((l) => !l.startsWith("::add-mask::"));
    expect(logged.join("\n")).not.toContain(KEY);
  });
});
