/**
 * `node runner demo`: the whole promise in one command, with no API key. A stub
 * Messages API server runs in this process; the real claude CLI in a real bottle
 * talks to it through the gate. The stub makes claude kill itself mid-task (a
 * crash), the runner preserves the bottle, then resumes it, and the stub shows
 * that the resumed session carried every earlier turn.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { gateProgramLoader } from "../../bottle/gate-program.js";
import { runBottle } from "../../bottle/launch/run-bottle.js";
import type { RunResult } from "../../bottle/launch/types.js";
import { ensureBaseImages } from "../../bottle/local-images.js";
import { planResume, planStart } from "../../bottle/prepare.js";
import type { Format } from "../args.js";
import { type CliIo, printResult, stderrLog } from "../output.js";
import { DEFAULT_MANIFEST } from "../../manifest/default.js";
import type { StateStore } from "../../state/store.js";
import { countMessages, offersTools, startStubModel } from "./stub-model.js";

const DEMO_KEY_ENV = "CLAUDE_BOTTLE_DEMO_KEY";
const TASK = "Write progress.txt saying the task is half done, then finish the task.";
const CRASH_COMMAND = 'echo "half done" > progress.txt && kill -9 $PPID';

export interface DemoIo extends CliIo {
  state: StateStore;
  format: Format;
}

export async function runDemo(io: DemoIo): Promise<number> {
  const say = (line: string) => io.stderr(`demo: ${line}\n`);
  let phase: "crash" | "resume" = "crash";
  let resumedWith = 0;
  const stub = await startStubModel({
    host: "0.0.0.0",
    script: ({ body }) => {
      // Side requests (titles, summaries) carry no tools; answer them plainly.
      if (!offersTools(body)) return { text: "ok" };
      if (phase === "crash")
        return { toolUse: { name: "Bash", input: { command: CRASH_COMMAND, description: "record progress" } } };
      resumedWith = Math.max(resumedWith, countMessages(body));
      return {
        text:
          `Resumed with ${countMessages(body)} earlier messages in this session; progress.txt is still ` +
          `here. Task finished.`,
      };
    },
  });
  try {
    const host = hostAddressForContainers();
    const dir = mkdtempSync(join(tmpdir(), "claude-bottle-demo-"));
    const workspace = join(dir, "workspace");
    const manifestPath = join(dir, "claude-bottle.json");
    const manifest = structuredClone(DEFAULT_MANIFEST) as {
      bottles: Record<string, { egress: { routes: Record<string, unknown>[] } }>;
    };
    for (const bottle of Object.values(manifest.bottles)) {
      bottle.egress.routes = [
        {
          name: "anthropic",
          upstream: `http://${host}:${stub.port}`,
          inject: { header: "x-api-key", fromEnv: DEMO_KEY_ENV },
          role: "anthropic",
        },
      ];
    }
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
    mkdirSync(workspace);
    const docker = await io.docker();
    // With no registry to pull from, images built from Debian's mirror and npm instead.
    const localImages = await ensureBaseImages({
      docker,
      env: io.env,
      log: { info: say, progress: (line) => io.stderr(`  ${line}\n`) },
    });
    const env = { ...io.env, ...localImages, [DEMO_KEY_ENV]: "demo-key-not-a-secret" };
    const deps = { docker, state: io.state, env };
    const run = async (plan: Awaited<ReturnType<typeof planStart>>): Promise<RunResult> =>
      runBottle(plan, {
        docker,
        state: io.state,
        clock: { now: () => new Date() },
        env,
        log: stderrLog(io, plan.identity),
        signal: io.signal,
        gateProgram: gateProgramLoader(env),
      });

    say(
      `1/2 starting the default agent on a stub model at http://${host}:${stub.port}; the model will make ` +
        `claude kill itself mid-task`,
    );
    const crashed = await run(
      await planStart({ agent: "claude", prompt: TASK, manifest: manifestPath, workspace, cwd: dir }, deps),
    );
    printResult(crashed, io.format, io);
    if (crashed.outcome !== "crashed" || !crashed.sessionId) {
      say(
        `expected claude to start a session and crash, got ` +
          `${crashed.outcome}${crashed.sessionId ? "" : " with no session"} (exit ${crashed.exitCode})`,
      );
      return 1;
    }
    say(`2/2 resuming ${crashed.identity}: same identity, same claude session ${crashed.sessionId}`);
    phase = "resume";
    const resumed = await run(await planResume({ identity: crashed.identity, cwd: dir }, deps));
    printResult(resumed, io.format, io);
    say(
      resumed.sessionId === crashed.sessionId && resumed.outcome === "success"
        ? `the resumed session carried ${resumedWith} earlier messages; the work tree is in ${workspace}`
        : `resume ended with ${resumed.outcome}`,
    );
    return resumed.outcome === "success" ? 0 : 1;
  } finally {
    await stub.close();
  }
}

/**
 * An address of this host that the gate can reach from its own bridge network:
 * Docker's default bridge when it is up, else any external IPv4 address of the host
 * (a container reaches the host's own addresses through its bridge gateway).
 */
export function hostAddressForContainers(): string {
  const interfaces = networkInterfaces();
  const external = (name: string) => interfaces[name]?.find((a) => a.family === "IPv4" && !a.internal)?.address;
  const address = external("docker0") ?? Object.keys(interfaces).map(external).find(Boolean);
  if (!address) throw new Error("no external IPv4 address on this host for the gate to reach the stub model");
  return address;
}
