// The whole-session benchmark of bench/run.mjs: one short session of the real claude
// CLI against the stub Messages API the tests and `node runner demo` use
// (src/cli/demo/stub-model.ts), through `node runner start` — from the spawn until the
// process has exited, that is until the result is printed, the state is settled and
// nothing of the bottle is left — against the same claude session in a bare
// `docker run --rm` of the same image, with the same prompt, system prompt and model
// replies, talking to the stub directly.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  ROOT,
  anthropicRoute,
  docker,
  expectOutcome,
  format,
  quietly,
  requireImages,
  runRunner,
  stats,
  table,
  timed,
} from "./harness.mjs";

/** The real claude CLI on the test images (test/images/build.sh); the bundled Dockerfile is built FROM it. */
export const CLAUDE_BASE_IMAGE = process.env.BENCH_CLAUDE_BASE_IMAGE ?? "bottle-test/agent-base:latest";
const SYSTEM_PROMPT = "You are being measured.";
const TASK = "Write the word measured into result.txt, then say you are done.";
const KEY = "sk-ant-bench-not-a-real-key";

/** The stub model, from the TypeScript source (Node strips the types; Node 22.18 or later, as `npm run bench` runs). */
export async function loadStubModel() {
  try {
    return await import(pathToFileURL(join(ROOT, "src/cli/demo/stub-model.ts")).href);
  } catch (error) {
    throw new Error(
      `cannot load src/cli/demo/stub-model.ts with node ${process.version} (${error.message}); run the bench with npm run bench, which uses the project's Node 24`,
    );
  }
}

/**
 * One tool call, then an answer: claude runs Bash once in its work tree and ends with
 * a result. Side requests (titles and the like, which offer no tools) get a plain "ok".
 */
const script =
  ({ offersTools, toolResultText }) =>
  ({ body }) => {
    if (!offersTools(body)) return { text: "ok" };
    if (toolResultText(body) === null)
      return {
        toolUse: { name: "Bash", input: { command: "echo measured > result.txt", description: "write the result" } },
      };
    return { text: "Done: result.txt says measured." };
  };

/** `ctx`: { RUNS, AGENT, BASELINE_LABEL, baseNet, newBox(name, bottle), figure, collectWarnings, findings }. */
export async function session(ctx) {
  const { RUNS, BASELINE_LABEL } = ctx;
  requireImages([CLAUDE_BASE_IMAGE]);
  const stubModule = await loadStubModel();
  // The host's address on the baselines' network: the gate reaches it through its way out too.
  const host = ctx.baseNet.gateway;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(host ?? ""))
    throw new Error(
      `the baselines' network has no IPv4 gateway (${JSON.stringify(host)}) for containers to reach the stub model at`,
    );
  const stub = await stubModule.startStubModel({ host: "0.0.0.0", script: script(stubModule) });
  try {
    const upstream = `http://${host}:${stub.port}`;
    const box = ctx.newBox("session", {
      buildArgs: { BASE_IMAGE: CLAUDE_BASE_IMAGE },
      egress: { routes: [anthropicRoute(upstream)] },
    });
    const args = ["start", box.agent, "--manifest", box.manifest, "--format", "json", "--prompt", TASK];
    const plan = await runRunner(box, [...args, "--dry-run"]);
    const image = plan.result?.image?.build;
    if (plan.code !== 0 || typeof image !== "string")
      throw new Error(
        `session: the dry run did not name the agent image (exit ${plan.code}): ${plan.stdout.slice(-400)}`,
      );
    const builtBefore = quietly(() => docker(["image", "inspect", "--format", "{{.Id}}", image])) !== undefined;

    const messages = () => stub.requests.filter((r) => r.path.startsWith("/v1/messages")).length;
    const runner = async (what) => {
      const before = messages();
      const run = await runRunner(box, args, { cwd: box.workspace() });
      const result = expectOutcome(run, "success", what);
      ctx.collectWarnings(run);
      // Settled and nothing left: the state of a success is removed, and so is every resource of the bottle.
      const label = `label=claude-bottle.identity=${result.identity}`;
      const left = [
        ...docker(["ps", "-aq", "--filter", label]).split("\n").filter(Boolean),
        ...docker(["network", "ls", "-q", "--filter", label]).split("\n").filter(Boolean),
      ];
      if (left.length > 0)
        ctx.findings.push(
          `session: ${result.identity} left ${left.length} container(s)/network(s) after the runner exited`,
        );
      if (existsSync(result.stateDir))
        ctx.findings.push(`session: ${result.identity}'s state was still there after a success`);
      return { run, t: result.timings, requests: messages() - before };
    };
    const bare = async (what) => {
      const before = messages();
      const run = await timed("docker", [
        "run",
        "--rm",
        "--label",
        BASELINE_LABEL,
        ...ctx.baseNet.args,
        "--user",
        "node",
        "--memory",
        "4g",
        "--cpus",
        "2",
        "--pids-limit",
        "512",
        "-e",
        `ANTHROPIC_BASE_URL=${upstream}`,
        "-e",
        `ANTHROPIC_API_KEY=${KEY}`,
        "-e",
        "DISABLE_TELEMETRY=1",
        "-e",
        "DISABLE_ERROR_REPORTING=1",
        image,
        "claude",
        "-p",
        TASK,
        "--output-format",
        "stream-json",
        "--verbose",
        "--append-system-prompt",
        SYSTEM_PROMPT,
        "--dangerously-skip-permissions",
      ]);
      const ended = run.stdout.split("\n").some((line) => /"type":"result","subtype":"success"/.test(line));
      if (run.code !== 0 || !ended)
        throw new Error(
          `${what}: the bare claude session exited with ${run.code ?? run.signal} without a successful result: ${(run.stderr || run.stdout).slice(-600)}`,
        );
      return { ms: run.ms, requests: messages() - before };
    };

    // Warm-up: the agent image built if it is not there yet, claude's and the engine's first-run costs paid.
    await runner("session warm-up");
    await bare("session warm-up, bare");
    const rows = [];
    for (let i = 0; i < RUNS; i++) {
      let r, b;
      if (i % 2 === 0) {
        r = await runner(`session run ${i + 1}`);
        b = await bare(`session run ${i + 1}, bare`);
      } else {
        b = await bare(`session run ${i + 1}, bare`);
        r = await runner(`session run ${i + 1}`);
      }
      const t = r.t;
      const inside = t.execStart + t.session + t.finalSnapshot + t.teardown;
      rows.push({
        wall: r.run.wall,
        t,
        outside: r.run.wall - inside,
        bare: b.ms,
        requests: r.requests,
        bareRequests: b.requests,
      });
    }
    if (rows.some((r) => r.requests !== r.bareRequests)) {
      ctx.findings.push(
        `session: claude made a different number of model requests through the runner and bare (${rows.map((r) => `${r.requests}/${r.bareRequests}`).join(", ")})`,
      );
    }
    const col = (pick) => rows.map(pick);
    const ms = (label, values) => {
      const s = stats(values);
      return [label, format(s.median, "ms"), format(s.min, "ms"), format(s.max, "ms")];
    };
    const ratios = col((r) => r.wall / r.bare);
    console.log(
      `session: the real claude CLI (${image}, FROM ${CLAUDE_BASE_IMAGE}${builtBefore ? "" : "; built in the warm-up"}) against the stub Messages API at ${upstream}: ` +
        `one Bash tool call and an answer (${rows[0].requests} model requests a session); \`node runner start\` from spawn to exit vs the same session in a bare \`docker run --rm\`, ${RUNS} runs each, alternating, after one warm-up`,
    );
    console.log(
      table([
        ["", "median", "min", "max"],
        ms(
          "runner: execStart (networks, gate, agent, copy-in)",
          col((r) => r.t.execStart),
        ),
        ms(
          "runner: session (claude exec'd until it exited)",
          col((r) => r.t.session),
        ),
        ms(
          "runner: finalSnapshot",
          col((r) => r.t.finalSnapshot),
        ),
        ms(
          "runner: teardown",
          col((r) => r.t.teardown),
        ),
        ms(
          "runner: outside the timed phases (node start, plan, logs stopped, copy-back, state removed, exit)",
          col((r) => r.outside),
        ),
        ms(
          "runner: whole wall time, spawn to exit",
          col((r) => r.wall),
        ),
        ms(
          "baseline: bare docker run --rm of the same claude session",
          col((r) => r.bare),
        ),
        ["whole session / baseline, run by run", ...["median", "min", "max"].map((k) => format(stats(ratios)[k], "x"))],
      ]),
    );
    ctx.figure(
      "session",
      "whole session (start -> result -> state settled -> nothing left) / bare docker run of the same claude session",
      "x",
      ratios,
      { op: "<=", value: 1.7 },
    );
    return { image, runs: rows };
  } finally {
    await stub.close();
  }
}
