/**
 * Every bundle's entry starts on Node 20 and on Node 24. GitHub runs the action on
 * its own Node 24, act-based runners (Gitea, Forgejo) on the job image's node (often
 * 20), and a gate image only has to have Node >= 20. Each entry is run, from a job
 * container of that node, up to a first step that loads all of its code: main and
 * post read their inputs and state, `node runner` prints its usage and plans a
 * bottle with --dry-run, the gate
 * and the supervise server start serving on a config of their own.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { JOB_IMAGES, type JobContainer, startJobContainer } from "../support/job-container.js";
import { labelled, waitFor } from "../support/runner.js";

const SIDECAR_CONFIGS = {
  "gate.json": JSON.stringify({ version: 1, listen: { host: "127.0.0.1", port: 0 }, routes: [] }),
  "supervise.json": JSON.stringify({
    version: 1,
    listen: { host: "127.0.0.1", port: 0 },
    policy: "deny",
    currentDockerfile: { source: "prebuilt", text: "FROM bottle-test/fake-agent:latest\n" },
    egress: { mode: "enforce", allow: [], routes: [] },
  }),
};

describe.each(JOB_IMAGES)("the bundles on %s", (_name, image, version) => {
  let job: JobContainer;
  beforeAll(() => {
    job = startJobContainer(image);
    job.putFiles(`${job.root}/config`, SIDECAR_CONFIGS);
  });
  afterAll(() => job?.remove());

  /** Runs `node <args>` in the job container until it exits, or until `until` sees its output. */
  async function node(
    args: string[],
    env: NodeJS.ProcessEnv = {},
    until?: (out: string) => boolean,
  ): Promise<{ code: number | null; out: string }> {
    const child = job.spawnNode(args, { cwd: job.actionDir, env: { PATH: job.path, ...env } });
    let out = "";
    child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    if (!until) return { code: await exited, out };
    let ended = false;
    void exited.then(() => (ended = true));
    await waitFor(() => until(out) || ended, 30_000, `node ${args.join(" ")} to start`);
    // A server keeps running in the job container, which afterAll removes.
    child.kill();
    return { code: null, out };
  }

  test(`the job image runs node ${version}x`, () => {
    expect(job.exec(["node", "--version"])).toMatch(new RegExp(`^${version.replace(".", "\\.")}`));
  });

  test("dist/main loads every chunk and checks its inputs: a start without a prompt fails naming the input", async () => {
    const run = await node(["dist/main/index.js"]);
    expect(run.out).toContain(`claude-bottle: starting (node ${version}`);
    expect(run.out).toContain('::error::prompt: "" is required to start a bottle');
    expect(run.code, run.out).toBe(1);
  });

  test("dist/post reads what main saved: an unreadable state is a warning, and the step passes", async () => {
    const run = await node(["dist/post/index.js"], { STATE_main: "{not json" });
    expect(run.out).toContain("::warning::post: the state main saved is unreadable; nothing to clean up");
    expect(run.code, run.out).toBe(0);
  });

  test("node runner --help prints the usage", async () => {
    const run = await node(["runner", "--help"]);
    expect(run.out).toMatch(/^usage: node runner <command>/);
    expect(run.code, run.out).toBe(0);
  });

  test("node runner start --dry-run plans a bottle against the engine and creates nothing", async () => {
    const run = await node(["runner", "start", "claude", "--dry-run", "--format", "json", "--prompt", "x"], {
      HOME: job.root,
    });
    expect(run.code, run.out).toBe(0);
    const plan = JSON.parse(run.out) as { identity: string };
    expect(plan).toMatchObject({
      mode: "start",
      agent: "claude",
      manifest: "(embedded default)",
      workspace: job.actionDir,
    });
    expect(labelled(plan.identity)).toEqual({ containers: [], networks: [] });
  });

  test.each([
    ["dist/gate/index.js", "gate.json"],
    ["dist/supervise/index.js", "supervise.json"],
  ])("%s starts serving", async (bundle, config) => {
    const run = await node([bundle, `${job.root}/config/${config}`], {}, (out) => out.includes('"event":"ready"'));
    expect(run.out).toContain('"event":"ready"');
    expect(run.out).not.toContain('"event":"fatal"');
  });
});
