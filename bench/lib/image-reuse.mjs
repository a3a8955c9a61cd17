// The image-reuse benchmark of bench/run.mjs: the agent image across two CI jobs, as
// test/itg/action-image-cache.test.itg.ts drives it. The action's main step
// (dist/main/index.js) runs twice against the tests' Actions cache server
// (test/support/cache-server.ts, github.com's v2 protocol): the first job builds the
// bundled Dockerfile and saves the engine's export to the cache; the image is removed
// from the engine; the second job loads it (src/action/image-cache.ts). Each round
// uses a build arg of its own, so its first job really builds. The figures: what the
// second job's load took beside the build it replaced (both as the action reports
// them), and how many builds the second job ran (must be 0).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import {
  FAKE_AGENT_IMAGE,
  GATE_IMAGE,
  NODE,
  ROOT,
  anthropicRoute,
  docker,
  fake,
  format,
  quietly,
  stats,
  table,
} from "./harness.mjs";

const KEY = "sk-ant-bench-not-a-real-key";
const LOADED = /agent image (\S+): loaded from the cache in (\d+(?:\.\d+)?) s \(building it took (\d+(?:\.\d+)?) s\)/;
const BUILDING = /building agent image (claude-bottle-agent:\S+)/g;

async function loadCacheServer() {
  try {
    return await import(pathToFileURL(join(ROOT, "test/support/cache-server.ts")).href);
  } catch (error) {
    throw new Error(
      `cannot load test/support/cache-server.ts with node ${process.version} (${error.message}); run the bench with npm run bench, which uses the project's Node 24`,
    );
  }
}

/** The action hands its anthropic-api-key input to the gate as ANTHROPIC_API_KEY. */
const actionRoute = { ...anthropicRoute(), inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" } };

/** A checkout whose claude-bottle.json builds the bundled Dockerfile FROM the fake agent, with a version of its own. */
function checkout(dir, agent, nonce) {
  const workspace = join(dir, `checkout-${nonce}`);
  mkdirSync(workspace);
  const manifest = {
    bottles: {
      built: {
        buildArgs: { BASE_IMAGE: FAKE_AGENT_IMAGE, CLAUDE_CODE_VERSION: `0.0.0-bench-${nonce}` },
        egress: { routes: [actionRoute] },
      },
    },
    agents: { [agent]: { bottle: "built" } },
  };
  writeFileSync(join(workspace, "claude-bottle.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return workspace;
}

/**
 * One job's main step on a fresh runner directory: its stdout lines with the ms since
 * the spawn each arrived at, and the wall time.
 */
function job(dir, workspace, runId, agent, cacheEnv) {
  const runner = mkdtempSync(join(dir, "runner-"));
  const temp = join(runner, "temp");
  mkdirSync(temp);
  for (const file of ["output", "state", "summary"]) writeFileSync(join(runner, file), "");
  const env = {
    PATH: process.env.PATH,
    HOME: runner,
    RUNNER_TEMP: temp,
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: join(runner, "output"),
    GITHUB_STATE: join(runner, "state"),
    GITHUB_STEP_SUMMARY: join(runner, "summary"),
    GITHUB_REPOSITORY: "octo/widgets",
    GITHUB_WORKFLOW_REF: "octo/widgets/.github/workflows/agent.yml@refs/heads/main",
    GITHUB_REF: "refs/heads/main",
    GITHUB_JOB: "agent",
    GITHUB_ACTION: "bottle",
    GITHUB_RUN_ID: runId,
    GITHUB_RUN_ATTEMPT: "1",
    CLAUDE_BOTTLE_GATE_IMAGE: GATE_IMAGE,
    ...cacheEnv,
    INPUT_AGENT: agent,
    INPUT_PROMPT: fake({ end: "success" }),
    "INPUT_ANTHROPIC-API-KEY": KEY,
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
  };
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(NODE, [join(ROOT, "dist/main/index.js")], {
      cwd: workspace,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines = [];
    let rest = "";
    const take = (text) => {
      const at = performance.now() - t0;
      rest += text;
      for (let end = rest.indexOf("\n"); end !== -1; end = rest.indexOf("\n")) {
        lines.push({ at, text: rest.slice(0, end) });
        rest = rest.slice(end + 1);
      }
    };
    child.stdout.setEncoding("utf8").on("data", take);
    child.stderr.setEncoding("utf8").on("data", take);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10 * 60_000);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, wall: performance.now() - t0, lines, text: lines.map((l) => l.text).join("\n") });
    });
  });
}

/** ms from a `::group::<name>` line to the `::endgroup::` after it, by arrival. */
function groupMs(run, name) {
  const start = run.lines.findIndex((l) => l.text === `::group::${name}`);
  const end = run.lines.findIndex((l, i) => i > start && l.text === "::endgroup::");
  return start === -1 || end === -1 ? undefined : run.lines[end].at - run.lines[start].at;
}

/** `ctx`: { RUNS, RUN_ID, AGENT, newDir, figure, findings }. */
export async function imageReuse(ctx) {
  const { RUNS, RUN_ID, AGENT } = ctx;
  const { startCacheServer } = await loadCacheServer();
  const server = await startCacheServer({ protocol: "v2", flavour: "github" });
  const dir = ctx.newDir("image");
  const tags = new Set();
  const rows = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const nonce = `${RUN_ID}${i}`;
      const workspace = checkout(dir, AGENT, nonce);
      const first = await job(dir, workspace, `${nonce}1`, AGENT, server.env);
      const built = [...first.text.matchAll(BUILDING)].map((m) => m[1]);
      for (const tag of built) tags.add(tag);
      if (first.code !== 0 || built.length !== 1 || !/saved to the cache as bottle-image-/.test(first.text)) {
        throw new Error(
          `image round ${i + 1}: the first job (exit ${first.code ?? first.signal}) did not build and save one image:\n${first.text.split("\n").slice(-15).join("\n")}`,
        );
      }
      const tag = built[0];
      const saved = server.entries().find((e) => e.key.startsWith("bottle-image-"));
      docker(["rmi", "-f", tag]);
      const second = await job(dir, workspace, `${nonce}2`, AGENT, server.env);
      const loaded = LOADED.exec(second.text);
      const builds = [...second.text.matchAll(BUILDING)].length;
      if (second.code !== 0 || loaded === null || loaded[1] !== tag) {
        throw new Error(
          `image round ${i + 1}: the second job (exit ${second.code ?? second.signal}) did not load ${tag} from the cache:\n${second.text.split("\n").slice(-15).join("\n")}`,
        );
      }
      rows.push({
        buildMs: Number(loaded[3]) * 1000,
        loadMs: Number(loaded[2]) * 1000,
        restoreGroupMs: groupMs(second, "agent image"),
        saveGroupMs: groupMs(first, "save agent image"),
        builds,
        firstJob: first.wall,
        secondJob: second.wall,
        cachedBytes: saved?.size,
      });
      quietly(() => docker(["rmi", "-f", tag]));
      server.evict("");
    }
  } finally {
    await server.close();
    for (const tag of tags) quietly(() => docker(["rmi", "-f", tag]));
  }
  const col = (key) => rows.map((r) => r[key]);
  const ms = (label, values) => {
    const s = stats(values);
    return [label, format(s.median, "ms"), format(s.min, "ms"), format(s.max, "ms")];
  };
  const ratios = rows.map((r) => r.loadMs / r.buildMs);
  const size = stats(col("cachedBytes")).median;
  console.log(
    `image: the action's main step twice per round against the tests' cache server (v2): the first job builds the bundled Dockerfile FROM ${FAKE_AGENT_IMAGE} and saves the export ` +
      `(${size === undefined ? "?" : (size / 1e6).toFixed(0)} MB in the cache), the image is removed, the second job loads it; ${RUNS} rounds, a build arg of its own each`,
  );
  console.log(
    table([
      ["", "median", "min", "max"],
      ms("first job: build (timings.image, as the second job reports it)", col("buildMs")),
      ms("first job: saving the image (export + cache upload)", col("saveGroupMs")),
      ms("second job: load (cache restore + check + import, as it reports it)", col("loadMs")),
      ms("second job: its `agent image` step, by its log lines", col("restoreGroupMs")),
      ms("first job: whole main step", col("firstJob")),
      ms("second job: whole main step", col("secondJob")),
      ["second job: builds", ...["median", "min", "max"].map((k) => String(stats(col("builds"))[k]))],
      ["load / build, run by run", ...["median", "min", "max"].map((k) => format(stats(ratios)[k], "x"))],
    ]),
  );
  ctx.figure("image", "agent image builds in the second CI job", "count", col("builds"), { op: "<=", value: 0 });
  ctx.figure("image", "second job: image load from the cache / the build it replaced", "x", ratios);
  ctx.figure("image", "second job: image load from the cache", "ms", col("loadMs"));
  ctx.figure("image", "first job: image build", "ms", col("buildMs"));
  return { runs: rows };
}
