/**
 * Images without a registry: the runner falls back to the locally built images only
 * when no registry answered a pull, says so once, builds them only when they are not
 * on the engine yet, and points the plan at them. And what a person without an
 * engine is told.
 */
import { describe, expect, test } from "vitest";
import { DEFAULT_BASE_IMAGE } from "../../src/bottle/agent-dockerfile.js";
import {
  LOCAL_IMAGES,
  LOCAL_NODE_VERSION,
  ensureBaseImages,
  planImages,
  registryOf,
  registryUnreachable,
  wantedImages,
} from "../../src/bottle/local-images.js";
import { type BottlePlan, DEFAULT_GATE_IMAGE } from "../../src/bottle/plan.js";
import type { DockerClient } from "../../src/docker/client.js";
import { engineUnreachable } from "../../src/docker/engine-host.js";
import { fakeDocker, runCli } from "../support/cli-io.js";

const NO_REGISTRY =
  '(HTTP code 500) server error - Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host ';

describe("whether a failed pull means no registry answered", () => {
  test.each([
    NO_REGISTRY,
    '(HTTP code 500) server error - Get "http://localhost:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused',
    'Get "https://registry-1.docker.io/v2/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)',
    "dial tcp 104.18.0.1:443: i/o timeout",
    "dial tcp: lookup registry-1.docker.io: Temporary failure in name resolution",
    "dial tcp [2600::1]:443: connect: network is unreachable",
  ])("%s: yes, fall back", (message) => {
    expect(registryUnreachable(new Error(message))).toBe(true);
  });

  test.each([
    "(HTTP code 404) unexpected - manifest for node:99-nope not found: manifest unknown: manifest unknown",
    "(HTTP code 404) unexpected - pull access denied for acme/private, repository does not exist or may require 'docker login'",
    "(HTTP code 500) server error - unauthorized: authentication required",
    "(HTTP code 400) bad parameter - invalid reference format",
  ])("%s: no, the name or the access is what to fix", (message) => {
    expect(registryUnreachable(new Error(message))).toBe(false);
  });
});

/** An engine with these images whose pulls fail with `pullError` (or succeed, adding the image). */
function engine(images: string[], pullError: string | null): DockerClient & { pulled: string[] } {
  const pulled: string[] = [];
  return {
    pulled,
    imageExists: async (ref: string) => images.includes(ref),
    pullImage: async (ref: string) => {
      pulled.push(ref);
      if (pullError) throw new Error(pullError);
      images.push(ref);
    },
  } as unknown as DockerClient & { pulled: string[] };
}

function recorder() {
  const lines: string[] = [];
  const builds: string[][] = [];
  return {
    lines,
    builds,
    log: { info: (line: string) => lines.push(line), progress: (line: string) => lines.push(`  ${line}`) },
    buildLocal: async (args: string[], onLine: (line: string) => void) => {
      builds.push(args);
      onLine("debootstrap bookworm from Debian's mirror (about a minute)");
    },
  };
}

describe("the base and gate images", () => {
  test("are the plan's: CLAUDE_BOTTLE_BASE_IMAGE and CLAUDE_BOTTLE_GATE_IMAGE, else the defaults", () => {
    expect(wantedImages({})).toEqual({ base: DEFAULT_BASE_IMAGE, gate: DEFAULT_GATE_IMAGE });
    expect(wantedImages({ CLAUDE_BOTTLE_BASE_IMAGE: "b:1", CLAUDE_BOTTLE_GATE_IMAGE: "g:1" })).toEqual({
      base: "b:1",
      gate: "g:1",
    });
  });

  test("of a plan: the gate's, and the base only when the plan builds the bundled Dockerfile", () => {
    const plan = (image: unknown) => ({ image, gate: { image: "g:1" } }) as unknown as BottlePlan;
    expect(planImages(plan({ kind: "build", source: "bundled", buildArgs: { BASE_IMAGE: "b:1" } }))).toEqual({
      base: "b:1",
      gate: "g:1",
    });
    expect(planImages(plan({ kind: "build", source: "manifest", buildArgs: { BASE_IMAGE: "b:1" } }))).toEqual({
      gate: "g:1",
    });
    expect(planImages(plan({ kind: "prebuilt", ref: "my/agent:1" }))).toEqual({ gate: "g:1" });
  });

  test("already on the engine: nothing is pulled, nothing falls back", async () => {
    const docker = engine([DEFAULT_BASE_IMAGE, DEFAULT_GATE_IMAGE], NO_REGISTRY);
    const r = recorder();
    expect(await ensureBaseImages({ docker, env: {}, ...r })).toEqual({});
    expect(docker.pulled).toEqual([]);
    expect(r.lines).toEqual([]);
  });

  test("pulled when a registry answers", async () => {
    const docker = engine([], null);
    const r = recorder();
    expect(await ensureBaseImages({ docker, env: {}, ...r })).toEqual({});
    expect(docker.pulled).toEqual([DEFAULT_BASE_IMAGE, DEFAULT_GATE_IMAGE]);
    expect(r.builds).toEqual([]);
  });

  test("with no registry: built locally once, said once with the reason, and the plan pointed at them", async () => {
    const docker = engine([], NO_REGISTRY);
    const r = recorder();
    const env = await ensureBaseImages({ docker, env: {}, ...r });
    expect(env).toEqual({ CLAUDE_BOTTLE_BASE_IMAGE: LOCAL_IMAGES.base, CLAUDE_BOTTLE_GATE_IMAGE: LOCAL_IMAGES.gate });
    expect(r.builds).toEqual([
      [LOCAL_IMAGES.debian, LOCAL_IMAGES.gate, LOCAL_IMAGES.base, LOCAL_NODE_VERSION, "2.1.197"],
    ]);
    const fellBack = r.lines.filter((l) => /falling back/.test(l));
    expect(fellBack).toHaveLength(1);
    expect(fellBack[0]).toMatch(
      /^cannot pull node:24-bookworm-slim or node:24\.11\.1-bookworm-slim: no registry answered \(Get .*no such host\); falling back .*: building them once/,
    );
    expect(r.lines).toContain("  debootstrap bookworm from Debian's mirror (about a minute)");
  });

  test("a registry that did not answer is asked once per run", async () => {
    const docker = engine([], NO_REGISTRY);
    await ensureBaseImages({ docker, env: {}, ...recorder() });
    expect(docker.pulled).toEqual([DEFAULT_BASE_IMAGE]);
    const other = engine([], NO_REGISTRY);
    await ensureBaseImages({
      docker: other,
      env: { CLAUDE_BOTTLE_GATE_IMAGE: "registry.example:5000/gate:1" },
      ...recorder(),
    });
    expect(other.pulled).toEqual([DEFAULT_BASE_IMAGE, "registry.example:5000/gate:1"]);
  });

  test.each([
    ["node:24-bookworm-slim", "docker.io"],
    ["library/node:24", "docker.io"],
    ["acme/gate:1", "docker.io"],
    ["ghcr.io/acme/gate:1", "ghcr.io"],
    ["localhost/gate", "localhost"],
    ["registry.example:5000/gate:1", "registry.example:5000"],
  ])("%s is pulled from %s", (ref, registry) => {
    expect(registryOf(ref)).toBe(registry);
  });

  test("with no registry and the local images cached: no build", async () => {
    const docker = engine([LOCAL_IMAGES.debian, LOCAL_IMAGES.gate, LOCAL_IMAGES.base], NO_REGISTRY);
    const r = recorder();
    expect(await ensureBaseImages({ docker, env: {}, ...r })).toEqual({
      CLAUDE_BOTTLE_BASE_IMAGE: LOCAL_IMAGES.base,
      CLAUDE_BOTTLE_GATE_IMAGE: LOCAL_IMAGES.gate,
    });
    expect(r.builds).toEqual([]);
    expect(r.lines.filter((l) => /falling back/.test(l))).toEqual([
      expect.stringMatching(/cached from an earlier run$/),
    ]);
  });

  test("only the one that cannot be pulled falls back", async () => {
    const docker = engine(["local/base:1"], NO_REGISTRY);
    const r = recorder();
    const env = await ensureBaseImages({ docker, env: { CLAUDE_BOTTLE_BASE_IMAGE: "local/base:1" }, ...r });
    expect(env).toEqual({ CLAUDE_BOTTLE_GATE_IMAGE: LOCAL_IMAGES.gate });
  });

  test("a registry that answers no is the name to fix, not a fallback", async () => {
    const docker = engine(
      [DEFAULT_BASE_IMAGE],
      "(HTTP code 404) unexpected - manifest for acme/gate:9 not found: manifest unknown: manifest unknown",
    );
    const r = recorder();
    await expect(ensureBaseImages({ docker, env: { CLAUDE_BOTTLE_GATE_IMAGE: "acme/gate:9" }, ...r })).rejects.toThrow(
      /^CLAUDE_BOTTLE_GATE_IMAGE: pulling acme\/gate:9 failed \(manifest for acme\/gate:9 not found.*\); give an image this engine has or can pull$/,
    );
    expect(r.builds).toEqual([]);
  });

  test("a local build that fails says how to see why and what else to do", async () => {
    const docker = engine([], NO_REGISTRY);
    const r = recorder();
    const buildLocal = async () => {
      throw new Error("exit 1: debootstrap bookworm failed (log above): check that deb.debian.org is reachable");
    };
    await expect(ensureBaseImages({ docker, env: {}, log: r.log, buildLocal })).rejects.toThrow(
      /^building the local images failed \(exit 1: debootstrap .*\); run `bash .*scripts\/local-images\.sh claude-bottle-local\/debian:bookworm .*` to see why, or set CLAUDE_BOTTLE_BASE_IMAGE and CLAUDE_BOTTLE_GATE_IMAGE to images this engine has$/,
    );
  });
});

test("`start` with no registry builds the bundled Dockerfile on the local base and says once that it fell back", async () => {
  const local: string[] = Object.values(LOCAL_IMAGES);
  let baseImage: string | undefined;
  const docker = fakeDocker({
    runtimes: async () => ["runc"],
    listContainers: async () => [],
    listNetworks: async () => [],
    imageExists: async (ref: string) => local.includes(ref),
    pullImage: async () => {
      throw new Error(NO_REGISTRY);
    },
    buildImage: async (request) => {
      baseImage = request.buildArgs.BASE_IMAGE;
      throw new Error("stop here");
    },
  });
  const run = await runCli(["start", "claude", "--prompt", "x"], { docker });
  expect(run.code).toBe(1);
  expect(baseImage).toBe(LOCAL_IMAGES.base);
  expect(run.stderr.split("\n").filter((l) => /falling back/.test(l))).toHaveLength(1);
});

describe("an engine that does not answer", () => {
  test("none on this machine: how to get one", () => {
    expect(engineUnreachable("connect ENOENT /var/run/docker.sock", {})).toBe(
      "cannot reach the Docker engine (connect ENOENT /var/run/docker.sock); no Docker Engine runs on this machine: install one " +
        "(Debian or Ubuntu: `apt-get install docker.io`, which starts it where systemd runs; else start it with `dockerd &`; " +
        "other systems: https://docs.docker.com/engine/install/), or set DOCKER_HOST to an engine elsewhere",
    );
  });

  test("a socket this user may not use: the docker group", () => {
    expect(engineUnreachable("connect EACCES /var/run/docker.sock", {})).toMatch(/add it to the docker group/);
  });

  test("DOCKER_HOST set, or an engine that refuses: start it", () => {
    expect(engineUnreachable("connect ENOENT /tmp/x.sock", { DOCKER_HOST: "unix:///tmp/x.sock" })).toBe(
      "cannot reach the Docker engine (connect ENOENT /tmp/x.sock); start dockerd or set DOCKER_HOST",
    );
    expect(engineUnreachable("connect ECONNREFUSED 127.0.0.1:2375", { DOCKER_HOST: "tcp://127.0.0.1:2375" })).toMatch(
      /start dockerd or set DOCKER_HOST$/,
    );
  });
});
