import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { AGENT_DOCKERFILE } from "../../src/bottle/agent-dockerfile.js";
import { REBUILT_RESUME_PROMPT } from "../../src/bottle/claude.js";
import { type PlanRequest, rebuiltPlan, resolvePlan } from "../../src/bottle/plan.js";
import { PLACEHOLDER_API_KEY } from "../../src/bottle/plan-env.js";
import { GVISOR_TASKS_PER_PROCESS } from "../../src/bottle/runtime.js";
import { InputError } from "../../src/errors.js";
import { type LoadedManifest, loadManifest, parseManifest } from "../../src/manifest/load.js";

const KEY = "sk-ant-real-key-for-plan-tests";

function loaded(manifest: unknown, dir = "/project"): LoadedManifest {
  return {
    manifest: parseManifest(JSON.stringify(manifest), `${dir}/claude-bottle.json`),
    path: `${dir}/claude-bottle.json`,
    dir,
    embedded: false,
  };
}

const route = {
  name: "anthropic",
  upstream: "https://api.anthropic.com",
  inject: { header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY" },
  role: "anthropic",
};

function request(over: Partial<PlanRequest> & { manifest?: unknown } = {}): PlanRequest {
  const { manifest, ...rest } = over;
  return {
    loaded: loaded(
      manifest ?? {
        bottles: { b: { egress: { routes: [route] } } },
        agents: { fixer: { bottle: "b", prompt: "be good" } },
      },
    ),
    agent: "fixer",
    mode: "start",
    identity: "fixer-abcde",
    prompt: "fix the tests",
    resumeSession: null,
    workspace: "/work",
    perBottleDockerfile: null,
    env: { ANTHROPIC_API_KEY: KEY, HOST_TOKEN: "t0k" },
    runtimes: ["runc"],
    runnerId: "host/1",
    ...rest,
  };
}

describe("resolving a launch plan", () => {
  test("names, labels, networks and limits come from the identity and the manifest", () => {
    const plan = resolvePlan(request());
    expect(plan.agentContainer.name).toBe("claude-bottle-fixer-abcde-agent");
    expect(plan.gate.name).toBe("claude-bottle-fixer-abcde-gate");
    // The gate goes out through the engine's default bridge; a network of its own only on an engine without one.
    expect(plan.networks).toEqual({
      internal: "claude-bottle-fixer-abcde-internal",
      egress: "bridge",
      ownEgress: "claude-bottle-fixer-abcde-egress",
    });
    expect(plan.labels).toEqual({
      "claude-bottle.identity": "fixer-abcde",
      "claude-bottle.runner": "host/1",
      "claude-bottle.agent": "fixer",
    });
    expect(plan.agentContainer).toMatchObject({
      memoryBytes: 4 * 1024 ** 3,
      nanoCpus: 2e9,
      pids: 512,
      pidsLimit: 512,
      runtime: null,
      user: "node",
    });
    expect(plan.timeoutMs).toBe(30 * 60_000);
    expect(plan.stateLimitBytes).toBe(2 * 1024 ** 3);
    expect(plan.snapshotIntervalMs).toBe(30_000);
    expect(plan.systemPrompt).toBe("be good");
  });

  test("the anthropic route gives the agent the gate's URL and a placeholder; the key stays out of the plan", () => {
    const plan = resolvePlan(request());
    expect(plan.agentContainer.env.ANTHROPIC_BASE_URL).toBe("http://gate:8080/anthropic");
    expect(plan.agentContainer.env.ANTHROPIC_API_KEY).toBe(PLACEHOLDER_API_KEY);
    expect(plan.gate.config.routes).toEqual([
      {
        name: "anthropic",
        upstream: "https://api.anthropic.com",
        inject: { header: "x-api-key", secretEnv: "GATE_SECRET_ANTHROPIC" },
      },
    ]);
    expect(plan.gate.credentials).toEqual([
      { route: "anthropic", header: "x-api-key", fromEnv: "ANTHROPIC_API_KEY", present: true },
    ]);
    expect(JSON.stringify(plan)).not.toContain(KEY);
  });

  test("an anthropic-oauth route gives the agent a placeholder OAuth token and the gate a Bearer format", () => {
    const oauth = {
      name: "claude",
      upstream: "https://api.anthropic.com",
      inject: { header: "authorization", fromEnv: "CLAUDE_CODE_OAUTH_TOKEN", format: "Bearer {value}" },
      role: "anthropic-oauth",
    };
    const plan = resolvePlan(
      request({
        env: { CLAUDE_CODE_OAUTH_TOKEN: "tok" },
        manifest: { bottles: { b: { egress: { routes: [oauth] } } }, agents: { fixer: { bottle: "b" } } },
      }),
    );
    expect(plan.agentContainer.env.CLAUDE_CODE_OAUTH_TOKEN).toMatch(/placeholder/);
    expect(plan.agentContainer.env.ANTHROPIC_API_KEY).toBeUndefined();
    expect(plan.agentContainer.env.ANTHROPIC_BASE_URL).toBe("http://gate:8080/claude");
    expect(plan.gate.config.routes[0]?.inject).toEqual({
      header: "authorization",
      secretEnv: "GATE_SECRET_CLAUDE",
      format: "Bearer {value}",
    });
  });

  test("a missing credential is reported in the plan, not leaked or guessed", () => {
    const plan = resolvePlan(request({ env: {} }));
    expect(plan.gate.credentials[0]?.present).toBe(false);
  });

  test("manifest env: literals and values from the runner's environment", () => {
    const plan = resolvePlan(
      request({
        manifest: {
          bottles: { b: { env: { A: "1", TOKEN: { fromEnv: "HOST_TOKEN" } } } },
          agents: { fixer: { bottle: "b" } },
        },
      }),
    );
    expect(plan.agentContainer.env).toMatchObject({
      A: "1",
      TOKEN: "t0k",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      // Transcripts and settings in one directory, which one archive snapshots.
      CLAUDE_CONFIG_DIR: "/home/node/.claude",
    });
  });

  test.each([
    [
      { TOKEN: { fromEnv: "NOT_SET" } },
      /^bottles\.b\.env\.TOKEN\.fromEnv: "NOT_SET" is not set in the runner's environment; export NOT_SET/,
    ],
    [
      { LEAK: { fromEnv: "ANTHROPIC_API_KEY" } },
      /^bottles\.b\.env\.LEAK\.fromEnv: "ANTHROPIC_API_KEY" is the credential a route injects/,
    ],
    [{ LEAK: KEY }, /^bottles\.b\.env\.LEAK: "\(redacted\)" contains the credential a route injects/],
    [{ ANTHROPIC_BASE_URL: "https://evil.test" }, /^bottles\.b\.env\.ANTHROPIC_BASE_URL: .* is set by the gate/],
    [
      { CLAUDE_CONFIG_DIR: "/tmp/elsewhere" },
      /^bottles\.b\.env\.CLAUDE_CONFIG_DIR: "CLAUDE_CONFIG_DIR" is set by the bottle; remove it from env: claude keeps its transcripts and settings in \/home\/node\/\.claude/,
    ],
  ])("env %j is refused", (env, message) => {
    const r = request({
      manifest: { bottles: { b: { env, egress: { routes: [route] } } }, agents: { fixer: { bottle: "b" } } },
    });
    expect(() => resolvePlan(r)).toThrow(InputError);
    expect(() => resolvePlan(r)).toThrow(message);
    try {
      resolvePlan(r);
    } catch (error) {
      expect(String(error)).not.toContain(KEY);
    }
  });

  test("an agent that is not in the manifest names the ones that are", () => {
    expect(() => resolvePlan(request({ agent: "nobody" }))).toThrow(
      /^agent: "nobody" is not an agent in .*; use one of: fixer$/,
    );
  });

  test("the bundled Dockerfile is content-addressed and its base image can be set for a machine without a registry", () => {
    const plan = resolvePlan(request({ env: { ANTHROPIC_API_KEY: KEY, CLAUDE_BOTTLE_BASE_IMAGE: "local/base:1" } }));
    expect(plan.image).toMatchObject({
      kind: "build",
      source: "bundled",
      dockerfile: AGENT_DOCKERFILE,
      reuse: true,
      buildArgs: { BASE_IMAGE: "local/base:1" },
    });
    const other = resolvePlan(request());
    expect(other.image.kind === "build" && other.image.buildArgs.BASE_IMAGE).toBe("node:24-bookworm-slim");
    expect(plan.image.kind === "build" && other.image.kind === "build" && plan.image.tag !== other.image.tag).toBe(
      true,
    );
  });

  test("a per-bottle Dockerfile in the state wins over the manifest's image", () => {
    const plan = resolvePlan(
      request({
        perBottleDockerfile: "FROM x\nRUN apt-get install -y go\n",
        manifest: { bottles: { b: { image: "ubuntu" } }, agents: { fixer: { bottle: "b" } } },
      }),
    );
    expect(plan.image).toMatchObject({
      kind: "build",
      source: "per-bottle",
      tag: "claude-bottle-bottle:fixer-abcde",
      reuse: false,
    });
  });

  test("a per-bottle build gets no context and, of the manifest's build args, only BASE_IMAGE", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    writeFileSync(join(dir, "agent.Dockerfile"), "FROM scratch\n");
    const manifest = {
      bottles: {
        b: { dockerfile: "agent.Dockerfile", buildArgs: { BASE_IMAGE: "local/base:1", NPM_TOKEN: "npm_secret" } },
      },
      agents: { fixer: { bottle: "b" } },
    };
    writeFileSync(join(dir, "claude-bottle.json"), JSON.stringify(manifest));
    const base = request({ loaded: loadManifest({ cwd: dir }) });
    const plan = resolvePlan({ ...base, perBottleDockerfile: "FROM local/base:1\n" });
    expect(plan.image).toMatchObject({
      source: "per-bottle",
      contextDir: null,
      buildArgs: { BASE_IMAGE: "local/base:1" },
    });
    // The manifest's own build keeps both; a rebuild from it keeps only the base.
    const next = rebuiltPlan(
      resolvePlan(base),
      { dockerfile: "FROM local/base:1\n", imageTag: "claude-bottle-bottle:fixer-abcde" },
      "session-1",
    );
    expect(next.image).toMatchObject({
      source: "per-bottle",
      contextDir: null,
      buildArgs: { BASE_IMAGE: "local/base:1" },
    });
    expect(JSON.stringify([plan.image, next.image])).not.toContain("npm_secret");
  });

  test("a prebuilt image is used as it is", () => {
    const plan = resolvePlan(
      request({ manifest: { bottles: { b: { image: "my/agent:1" } }, agents: { fixer: { bottle: "b" } } } }),
    );
    expect(plan.image).toEqual({ kind: "prebuilt", ref: "my/agent:1" });
  });

  test("the manifest's Dockerfile is read relative to the manifest, with its directory as the build context", () => {
    const dir = mkdtempSync(join(tmpdir(), "plan-"));
    writeFileSync(join(dir, "agent.Dockerfile"), "FROM scratch\n");
    writeFileSync(
      join(dir, "claude-bottle.json"),
      JSON.stringify({ bottles: { b: { dockerfile: "agent.Dockerfile" } }, agents: { fixer: { bottle: "b" } } }),
    );
    const plan = resolvePlan(request({ loaded: loadManifest({ cwd: dir }) }));
    expect(plan.image).toMatchObject({
      kind: "build",
      source: "manifest",
      dockerfile: "FROM scratch\n",
      contextDir: dir,
      dockerfilePath: join(dir, "agent.Dockerfile"),
    });
    writeFileSync(
      join(dir, "claude-bottle.json"),
      JSON.stringify({ bottles: { b: { dockerfile: "missing.Dockerfile" } }, agents: { fixer: { bottle: "b" } } }),
    );
    expect(() => resolvePlan(request({ loaded: loadManifest({ cwd: dir }) }))).toThrow(
      /^bottles\.b\.dockerfile: "missing.Dockerfile" cannot be read/,
    );
  });

  test("egress: the agent's proxy is the gate; the allowlist is the manifest's plus what claude-code needs", () => {
    const plan = resolvePlan(
      request({
        manifest: {
          bottles: {
            b: { egress: { allow: ["registry.npmjs.org", "*.example.com:8443"], mode: "audit", tunnelIdle: "10s" } },
          },
          agents: { fixer: { bottle: "b" } },
        },
      }),
    );
    expect(plan.agentContainer.env).toMatchObject({
      HTTPS_PROXY: "http://gate:8080",
      http_proxy: "http://gate:8080",
      NO_PROXY: "gate",
    });
    // No anthropic route: claude-code must reach the API itself.
    expect(plan.egress).toEqual({
      mode: "audit",
      allow: [
        { host: "registry.npmjs.org", port: 443 },
        { host: "*.example.com", port: 8443 },
        { host: "api.anthropic.com", port: 443 },
      ],
      defaults: ["api.anthropic.com"],
    });
    expect(plan.gate.config.proxy).toMatchObject({
      mode: "audit",
      tunnelIdleMs: 10_000,
      tunnelMaxLifetimeMs: 30 * 60_000,
      allow: plan.egress.allow,
    });
    // Through an anthropic route claude-code needs nothing else.
    expect(resolvePlan(request()).egress).toEqual({ mode: "enforce", allow: [], defaults: [] });
  });

  test("the egress network and the gate's DNS can be the user's", () => {
    const plan = resolvePlan(
      request({
        env: {
          ANTHROPIC_API_KEY: KEY,
          CLAUDE_BOTTLE_EGRESS_NETWORK: "corp-net",
          CLAUDE_BOTTLE_GATE_DNS: "10.0.0.53, 10.0.0.54",
        },
      }),
    );
    expect(plan.networks).toEqual({ internal: "claude-bottle-fixer-abcde-internal", egress: "corp-net" });
    expect(plan.gate.dns).toEqual(["10.0.0.53", "10.0.0.54"]);
  });

  test.each([["HTTPS_PROXY"], ["no_proxy"]])("the agent's %s is the gate's to set", (name) => {
    const r = request({
      manifest: { bottles: { b: { env: { [name]: "http://elsewhere" } } }, agents: { fixer: { bottle: "b" } } },
    });
    expect(() => resolvePlan(r)).toThrow(new RegExp(`^bottles\\.b\\.env\\.${name}: .* is set by the gate`));
  });

  test("gVisor is used when the engine has it, with the engine's pid limit scaled to its host tasks", () => {
    const agent = resolvePlan(request({ runtimes: ["runc", "runsc"] })).agentContainer;
    expect(agent).toMatchObject({ runtime: "runsc", pids: 512, pidsLimit: 512 * GVISOR_TASKS_PER_PROCESS });
  });

  test("resume runs claude with --resume and the resume prompt, never the task", () => {
    const plan = resolvePlan(request({ mode: "resume", prompt: "continue", resumeSession: "0b6c-session" }));
    const cmd = plan.agentContainer.command;
    expect(cmd.slice(cmd.indexOf("-p"), cmd.indexOf("-p") + 2)).toEqual(["-p", "continue"]);
    expect(cmd.slice(-2)).toEqual(["--resume", "0b6c-session"]);
    expect(cmd).not.toContain("fix the tests");
  });

  test("claude is exec'd as itself, with no wrapper that records its pid inside the bottle", () => {
    const command = resolvePlan(request()).agentContainer.command;
    expect(command.slice(0, 3)).toEqual(["claude", "-p", "fix the tests"]);
    expect(command.join(" ")).not.toContain("/tmp/");
  });

  test("the agent's model and max turns reach claude", () => {
    const plan = resolvePlan(
      request({ manifest: { bottles: { b: {} }, agents: { fixer: { bottle: "b", model: "opus", maxTurns: 9 } } } }),
    );
    expect(plan.agentContainer.command).toEqual(expect.arrayContaining(["--model", "opus", "--max-turns", "9"]));
  });
});

describe("a supervised bottle", () => {
  const supervised = (bottle: Record<string, unknown> = {}) => ({
    bottles: { b: { supervise: true, egress: { routes: [route], allow: ["registry.npmjs.org"] }, ...bottle } },
    agents: { fixer: { bottle: "b" } },
  });

  test("gets the supervise sidecar, claude's --mcp-config pointing at it, and no proxy for it", () => {
    const plan = resolvePlan(request({ manifest: supervised() }));
    expect(plan.supervise).toMatchObject({
      name: "claude-bottle-fixer-abcde-supervise",
      policy: "preserve",
      rebuildsLeft: 0,
    });
    expect(plan.supervise?.config).toMatchObject({
      policy: "preserve",
      listen: { host: "0.0.0.0", port: 8090 },
      currentDockerfile: { source: "bundled", text: AGENT_DOCKERFILE },
      egress: {
        mode: "enforce",
        allow: ["registry.npmjs.org:443"],
        routes: [{ name: "anthropic", upstream: "https://api.anthropic.com" }],
      },
    });
    const command = plan.agentContainer.command;
    const config = command[command.indexOf("--mcp-config") + 1] ?? "";
    expect(JSON.parse(config)).toEqual({
      mcpServers: { supervise: { type: "http", url: "http://supervise:8090/mcp" } },
    });
    expect(command).toContain("--strict-mcp-config");
    expect(plan.agentContainer.env.NO_PROXY).toBe("gate,supervise");
    // The sidecar's config carries route names and upstreams, never a credential or the variable holding it.
    expect(JSON.stringify(plan.supervise)).not.toContain(KEY);
    expect(JSON.stringify(plan.supervise)).not.toContain("GATE_SECRET");
  });

  test("an unsupervised bottle has no sidecar and no MCP config", () => {
    const plan = resolvePlan(request());
    expect(plan.supervise).toBeNull();
    expect(plan.agentContainer.command).not.toContain("--mcp-config");
    expect(plan.agentContainer.env.NO_PROXY).toBe("gate");
  });

  test("the policy comes from the manifest, and a flag or input overrides it", () => {
    expect(resolvePlan(request({ manifest: supervised({ capabilityBlock: "deny" }) })).supervise?.policy).toBe("deny");
    expect(
      resolvePlan(request({ manifest: supervised({ capabilityBlock: "deny" }), capabilityBlock: "rebuild" })).supervise,
    ).toMatchObject({ policy: "rebuild", rebuildsLeft: 2 });
    expect(
      resolvePlan(request({ manifest: supervised({ capabilityBlock: "rebuild", maxRebuilds: 1 }) })).supervise,
    ).toMatchObject({ policy: "rebuild", rebuildsLeft: 1 });
    // No rebuilds left means a proposal is preserved for a person to resume.
    expect(
      resolvePlan(request({ manifest: supervised({ capabilityBlock: "rebuild" }), maxRebuilds: 0 })).supervise,
    ).toMatchObject({ policy: "preserve", rebuildsLeft: 0 });
  });

  test("a prebuilt image is described to the agent as a FROM it can extend", () => {
    const plan = resolvePlan(request({ manifest: supervised({ image: "ghcr.io/acme/agent:1" }) }));
    expect(plan.supervise?.config.currentDockerfile.source).toBe("prebuilt");
    expect(plan.supervise?.config.currentDockerfile.text).toContain("FROM ghcr.io/acme/agent:1\n");
  });

  test("after a rebuild: the same identity resumes the same session in the proposed image, with one rebuild fewer", () => {
    const plan = resolvePlan(request({ manifest: supervised({ capabilityBlock: "rebuild" }) }));
    const proposal = `${AGENT_DOCKERFILE}RUN echo more\n`;
    const next = rebuiltPlan(plan, { dockerfile: proposal, imageTag: "claude-bottle-bottle:fixer-abcde" }, "session-1");
    expect(next).toMatchObject({
      identity: "fixer-abcde",
      mode: "resume",
      resumeSession: "session-1",
      prompt: REBUILT_RESUME_PROMPT,
    });
    expect(next.image).toMatchObject({
      kind: "build",
      source: "per-bottle",
      dockerfile: proposal,
      replaces: AGENT_DOCKERFILE,
      tag: "claude-bottle-bottle:fixer-abcde",
      reuse: false,
    });
    expect(next.image.kind === "build" && next.image.buildArgs.BASE_IMAGE).toBeTruthy();
    const command = next.agentContainer.command;
    expect(command[command.indexOf("--resume") + 1]).toBe("session-1");
    expect(command[command.indexOf("-p") + 1]).toBe(REBUILT_RESUME_PROMPT);
    expect(command).toContain("--mcp-config");
    expect(next.supervise).toMatchObject({ policy: "rebuild", rebuildsLeft: 1 });
    expect(next.supervise?.config.currentDockerfile).toEqual({
      source: "per-bottle",
      text: proposal,
      image: "claude-bottle-bottle:fixer-abcde",
    });
    // The last allowed rebuild: a further proposal is preserved.
    const last = rebuiltPlan(next, { dockerfile: proposal, imageTag: "claude-bottle-bottle:fixer-abcde" }, "session-1");
    expect(last.supervise).toMatchObject({ policy: "preserve", rebuildsLeft: 0 });
    expect(last.supervise?.config.policy).toBe("preserve");
  });
});
