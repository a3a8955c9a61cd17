import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { deriveIdentity, jobContext, stateCacheKey, stateCachePrefix } from "../../src/action/context.js";
import { parseInputs } from "../../src/action/inputs.js";
import { InputError } from "../../src/errors.js";

const reader = (inputs: Record<string, string>) => (name: string) => inputs[name] ?? "";
const cwd = mkdtempSync(join(tmpdir(), "inputs-"));
writeFileSync(join(cwd, "task.md"), "fix the build\n");
writeFileSync(join(cwd, "empty.md"), "  \n");

describe("action inputs", () => {
  test("defaults", () => {
    expect(parseInputs(reader({ prompt: "go" }), cwd)).toEqual({
      agent: "claude",
      prompt: "go",
      manifest: null,
      mode: "start",
      identity: null,
      id: "",
      resumePrompt: null,
      workspace: cwd,
      timeoutMs: null,
      anthropicApiKey: null,
      claudeCodeOauthToken: null,
      gateImage: null,
      saveState: "cache-and-artifact",
      artifactName: null,
      githubToken: null,
      failOn: ["error", "crashed", "timeout", "interrupted", "capability-block", "build-failed", "state-limit"],
      capabilityBlock: null,
      maxRebuilds: null,
      maxResumes: 0,
      cacheImage: true,
    });
  });

  test.each([
    [{ "prompt-file": "task.md" }, { prompt: "fix the build\n" }],
    [
      { mode: "resume", identity: "fixer-abc12" },
      { mode: "resume", identity: "fixer-abc12", prompt: null },
    ],
    [{ prompt: "x", timeout: "1h30m" }, { timeoutMs: 5_400_000 }],
    [{ prompt: "x", "fail-on": "crashed, timeout" }, { failOn: ["crashed", "timeout"] }],
    [{ prompt: "x", "fail-on": "never" }, { failOn: [] }],
    [{ prompt: "x", "save-state": "none" }, { saveState: "none" }],
    [
      { prompt: "x", "capability-block": "rebuild", "max-rebuilds": "1" },
      { capabilityBlock: "rebuild", maxRebuilds: 1 },
    ],
    [{ prompt: "x", "fail-on": "error,build-failed" }, { failOn: ["error", "build-failed"] }],
    [{ prompt: "x", "max-resumes": "2" }, { maxResumes: 2 }],
  ])("%j", (given, expected) => {
    expect(parseInputs(reader(given), cwd)).toMatchObject(expected);
  });

  test.each([
    [{}, /^prompt: "" is required to start a bottle/],
    [{ prompt: "x", "prompt-file": "task.md" }, /^prompt-file: "task.md" is given together with prompt/],
    [{ "prompt-file": "missing.md" }, /^prompt-file: "missing.md" cannot be read \(ENOENT\)/],
    [{ "prompt-file": "empty.md" }, /^prompt-file: "empty.md" is empty/],
    [{ prompt: "x", mode: "restart" }, /^mode: "restart" is not one of the choices; use one of: start, resume/],
    [{ mode: "resume" }, /^identity: "" is required in mode: resume/],
    [{ mode: "resume", identity: "../../x" }, /^identity: "..\/..\/x" is not a bottle identity/],
    [{ prompt: "x", identity: "fixer-abc12" }, /^identity: "fixer-abc12" is only read in mode: resume/],
    [{ prompt: "x", agent: "My Agent" }, /^agent: "My Agent" is not an agent name/],
    [{ prompt: "x", timeout: "soon" }, /^timeout: "soon" is not a duration/],
    [
      { prompt: "x", "save-state": "s3" },
      /^save-state: "s3" is not one of the choices; use one of: cache, cache-and-artifact, none/,
    ],
    [{ prompt: "x", "fail-on": "crashed,explode" }, /^fail-on: "explode" is not an outcome/],
    [{ prompt: "x", "artifact-name": "a/b" }, /^artifact-name: "a\/b" is not a valid artifact name/],
    [
      { prompt: "x", "capability-block": "ask" },
      /^capability-block: "ask" is not a capability-block policy; use one of: preserve, rebuild, deny/,
    ],
    [
      { prompt: "x", "max-resumes": "11" },
      /^max-resumes: "11" is not a number of resumes; give a whole number from 0 to 10/,
    ],
    [{ prompt: "x", "max-resumes": "-1" }, /^max-resumes: "-1" is not a number of resumes/],
    [
      { prompt: "x", "max-rebuilds": "many" },
      /^max-rebuilds: "many" is not a number of rebuilds; give a whole number from 0 to 10/,
    ],
    [
      { prompt: "x", "anthropic-api-key": "k", "claude-code-oauth-token": "t" },
      /^claude-code-oauth-token: .* is given together with anthropic-api-key/,
    ],
  ])("%j is refused", (given, message) => {
    expect(() => parseInputs(reader(given), cwd)).toThrow(InputError);
    expect(() => parseInputs(reader(given), cwd)).toThrow(message);
  });
});

describe("job context and identity", () => {
  const env = {
    GITHUB_REPOSITORY: "o/r",
    GITHUB_WORKFLOW_REF: "o/r/.github/workflows/a.yml@refs/heads/main",
    GITHUB_REF: "refs/heads/main",
    GITHUB_JOB: "agent",
    GITHUB_ACTION: "run",
    GITHUB_RUN_ID: "99",
    GITHUB_RUN_ATTEMPT: "2",
  };

  test("a re-run (next attempt) derives the same identity; another job, agent, id or branch does not", () => {
    const first = deriveIdentity(jobContext({ ...env, GITHUB_RUN_ATTEMPT: "1" }), "fixer", "");
    expect(first).toMatch(/^fixer-[0-9a-z]{5}$/);
    expect(deriveIdentity(jobContext(env), "fixer", "")).toBe(first);
    expect(deriveIdentity(jobContext({ ...env, GITHUB_RUN_ID: "100" }), "fixer", "")).toBe(first);
    for (const other of [
      deriveIdentity(jobContext({ ...env, GITHUB_JOB: "other" }), "fixer", ""),
      deriveIdentity(jobContext(env), "tester", "").replace(/^tester/, "fixer"),
      deriveIdentity(jobContext(env), "fixer", "linux"),
      deriveIdentity(jobContext({ ...env, GITHUB_REF: "refs/pull/7/merge" }), "fixer", ""),
    ])
      expect(other).not.toBe(first);
  });

  test("platforms, and an empty Gitea attempt counts as 1", () => {
    expect(jobContext({}).platform).toBe("github");
    expect(jobContext({}).uses).toBe("./");
    expect(jobContext({ GITHUB_ACTION_REPOSITORY: "octo/bottle-action", GITHUB_ACTION_REF: "v1" }).uses).toBe(
      "octo/bottle-action@v1",
    );
    expect(jobContext({ GITEA_ACTIONS: "true", GITHUB_RUN_ATTEMPT: "" })).toMatchObject({
      platform: "gitea",
      attempt: 1,
    });
    expect(jobContext({ GITEA_ACTIONS: "true", FORGEJO_ACTIONS: "true" }).platform).toBe("forgejo");
  });

  test("cache keys are lowercase, carry run and attempt, and prefixes find a bottle's or a run's states", () => {
    const ctx = jobContext(env);
    expect(stateCacheKey("fixer-abc12", ctx)).toBe("bottle-state-fixer-abc12-99-2");
    expect(stateCachePrefix("fixer-abc12")).toBe("bottle-state-fixer-abc12-");
    expect(stateCachePrefix("fixer-abc12", "99")).toBe("bottle-state-fixer-abc12-99-");
  });
});
