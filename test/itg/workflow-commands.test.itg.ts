/**
 * Agent text in the job's log cannot issue workflow commands. A hostile agent puts
 * command lines in its messages, its tool commands, its file names and claude's own
 * stderr (with a bare CR before them, which a runner reads as a line break, and ESC
 * sequences); the log is read the way a runner reads it. The only commands are the
 * action's own, the step's saved state and outputs are exactly what the action wrote,
 * and the agent's lines appear in the log as text.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { ACTION_OUTPUTS } from "../../src/action/outputs.js";
import { newJob, runStep } from "../support/action.js";
import { type CacheServer, startCacheServer } from "../support/cache-server.js";
import { FAKE_MANIFEST, fake, fakeCheckout, labelled, runRunner, sandbox, writeManifest } from "../support/runner.js";
import { runnerLines, workflowCommands } from "../support/workflow-commands.js";

const KEY = `sk-ant-cmd-${Math.random().toString(36).slice(2)}`;
const STATE_JSON = '{"identity":"evil-aaaaa","stateHome":"/","workspace":"/","phase":"running"}';

/** Words the agent tries to mask, and the outputs and state it tries to set. */
const ATTACK_LINES = [
  "::add-mask::maskword1",
  "::set-output name=outcome::pwned",
  `::save-state name=main::${STATE_JSON}`,
  "::error title=planted::errorword",
  "::stop-commands::agenttoken",
  "##[add-mask]maskword2",
];

const hostile = fake({
  steps: [
    { say: ATTACK_LINES.join("\n") },
    { run: `echo '${ATTACK_LINES[0]}' # ::add-mask::maskword3` },
    { write: { path: "::add-mask::maskword4.txt", content: "x\n" } },
    // Straight onto claude's own stderr, with a bare CR and ESC sequences before each line.
    {
      run: `printf '${ATTACK_LINES.map((l) => `progress\\r${l}\\n\\033[2K\\033[1G${l}\\n`).join("")}' > /proc/$PPID/fd/2`,
    },
  ],
  end: "success",
});

let server: CacheServer;
beforeAll(async () => {
  server = await startCacheServer({ protocol: "v1", flavour: "gitea" });
});
afterAll(async () => {
  await server?.close();
});

test("the action: only its own commands run; state, outputs and masks are its own; the agent's lines are text", async () => {
  const job = newJob({ workspace: fakeCheckout(), runId: "1201", attempt: 1, cacheEnv: server.env });
  const run = await runStep(job, "main", { agent: "fixer", prompt: hostile, "anthropic-api-key": KEY });
  expect(run.code, run.stdout).toBe(0);

  const commands = workflowCommands(run.stdout);
  expect(commands.filter((c) => c.name === "add-mask").map((c) => c.data)).toEqual([KEY]);
  // The action's own: the mask of its key, its log groups, and @actions/cache's debug lines.
  expect(commands.map((c) => c.name).filter((n) => !["add-mask", "group", "endgroup", "debug"].includes(n))).toEqual(
    [],
  );
  expect(commands.filter((c) => /maskword|pwned|errorword|agenttoken/.test(c.line))).toEqual([]);

  expect(Object.keys(run.state)).toEqual(["main"]);
  expect(JSON.parse(run.state.main as string)).toMatchObject({ identity: run.outputs.identity, phase: "done" });
  expect(Object.keys(run.outputs).sort()).toEqual([...ACTION_OUTPUTS].sort());
  expect(run.outputs.outcome).toBe("success");

  // Every attack is in the log, as text: from the messages, the tool command, the file name and stderr.
  for (const word of ["maskword1", "maskword2", "maskword3", "maskword4", "pwned", "errorword", "agenttoken"]) {
    expect(run.stdout, word).toContain(word);
  }
  expect(run.stdout).toContain("claude (stderr)");
  expect(run.stdout).not.toMatch(/[\r\u001b]/);
  expect(labelled(run.outputs.identity)).toEqual({ containers: [], networks: [] });

  // The post step reads the state main saved: it is the action's, not the agent's.
  const post = await runStep(job, "post");
  expect(post.code, post.stdout).toBe(0);
  expect(
    workflowCommands(post.stdout)
      .map((c) => c.name)
      .filter((n) => !["group", "endgroup", "debug"].includes(n)),
  ).toEqual([]);
});

test("the CLI: no raw CR or ESC reaches the terminal and no line starts a command", async () => {
  const box = sandbox({ ANTHROPIC_API_KEY: KEY });
  writeManifest(box.workspace, FAKE_MANIFEST);
  const run = await runRunner(["start", "fixer", "--prompt", hostile], box);
  expect(run.code, run.stderr).toBe(0);
  const printed = run.stdout + run.stderr;
  expect(printed).not.toMatch(/[\r\u001b]/);
  expect(workflowCommands(printed)).toEqual([]);
  for (const line of runnerLines(printed)) expect(line.trimStart().startsWith("::"), line).toBe(false);
  expect(printed).toContain("maskword1");
});
