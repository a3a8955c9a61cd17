// A runner's lease on its bottle: what the file says, that the runner keeps it
// renewed in the engine's time, and what `cleanup` reads back from a gate.
import { Readable } from "node:stream";
import { afterEach, describe, expect, test, vi } from "vitest";
import { ROOT_OWNER, packFiles, readTarFiles } from "../../src/bottle/archive.js";
import {
  BottleLease,
  EngineClock,
  LEASE_PATH,
  LEASE_RENEW_MS,
  LEASE_TTL_MS,
  leaseAt,
  readLease,
} from "../../src/bottle/lease.js";
import type { DockerClient } from "../../src/docker/client.js";

/** An engine whose clock runs an hour ahead of this process's, and whose gate keeps what is put into it. */
function fakeEngine(gateFiles: Map<string, Buffer> = new Map()) {
  const puts: number[] = [];
  const docker = {
    engineTime: async () => new Date(Date.now() + 3_600_000),
    putArchive: async (_container: string, _path: string, tar: Buffer) => {
      puts.push(Date.now());
      for (const [name, content] of await readTarFiles(Readable.from([tar]), 1 << 20))
        gateFiles.set(`/${name}`, content);
    },
    getArchive: async (_container: string, path: string) => {
      const content = gateFiles.get(path);
      return content === undefined
        ? null
        : Readable.from([await packFiles([{ name: path.split("/").at(-1)!, content }], ROOT_OWNER)]);
    },
  };
  return { docker: docker as unknown as DockerClient, puts, gateFiles };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the lease", () => {
  test("holds LEASE_TTL_MS past its renewal", () => {
    const lease = leaseAt("vm/12", new Date("2026-12-02T12:00:00.000Z"));
    expect(lease).toEqual({
      version: 1,
      runner: "vm/12",
      renewedAt: "2026-12-02T12:00:00.000Z",
      expiresAt: new Date(Date.parse("2026-12-02T12:00:00.000Z") + LEASE_TTL_MS).toISOString(),
    });
    expect(LEASE_TTL_MS).toBeGreaterThanOrEqual(4 * LEASE_RENEW_MS);
  });

  test("is written in the engine's time, not this host's", async () => {
    const { docker } = fakeEngine();
    const clock = await EngineClock.read(docker);
    expect(Math.abs(clock.now().getTime() - (Date.now() + 3_600_000))).toBeLessThan(1_000);
  });

  test("goes into the gate with its program, is renewed every LEASE_RENEW_MS, and no more after stop", async () => {
    const { docker, puts, gateFiles } = fakeEngine();
    const lease = new BottleLease(docker, "vm/12", () => {});
    const first = await lease.begin();
    expect(`/${first.name}`).toBe(LEASE_PATH);
    expect(first.mode).toBe(0o444);
    vi.useFakeTimers();
    lease.keep("gate");
    await vi.advanceTimersByTimeAsync(LEASE_RENEW_MS * 3 + 10);
    expect(puts).toHaveLength(3);
    const renewed = await readLease(docker, "gate");
    expect(renewed).toMatchObject({ lease: { version: 1, runner: "vm/12" } });
    await lease.stop();
    await vi.advanceTimersByTimeAsync(LEASE_RENEW_MS * 3);
    expect(puts).toHaveLength(3);
    expect(gateFiles.size).toBe(1);
  });

  test("a renewal that fails is one warning, until one succeeds again", async () => {
    const warnings: string[] = [];
    let failing = true;
    const { docker } = fakeEngine();
    const put = docker.putArchive.bind(docker);
    docker.putArchive = async (...args) => (failing ? Promise.reject(new Error("engine away")) : put(...args));
    const lease = new BottleLease(docker, "vm/12", (line) => warnings.push(line));
    await lease.begin();
    vi.useFakeTimers();
    lease.keep("gate");
    await vi.advanceTimersByTimeAsync(LEASE_RENEW_MS * 3 + 10);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/renewing the bottle's lease failed \(engine away\)/);
    failing = false;
    await vi.advanceTimersByTimeAsync(LEASE_RENEW_MS);
    failing = true;
    await vi.advanceTimersByTimeAsync(LEASE_RENEW_MS);
    expect(warnings).toHaveLength(2);
    await lease.stop();
  });
});

describe("reading a gate's lease", () => {
  test.each([
    ["no file", undefined, { missing: true }],
    ["not JSON", "{", { problem: expect.stringMatching(/^reading the lease in gate failed: /) }],
    [
      "another shape",
      JSON.stringify({ version: 2 }),
      { problem: expect.stringMatching(/^the lease in gate is not one this runner reads/) },
    ],
    [
      "a lease with more fields than this version knows",
      JSON.stringify({ ...leaseAt("vm/1", new Date(0)), holder: "x" }),
      { lease: leaseAt("vm/1", new Date(0)) },
    ],
  ])("%s", async (_, content, expected) => {
    const files = new Map<string, Buffer>();
    if (content !== undefined) files.set(LEASE_PATH, Buffer.from(content));
    expect(await readLease(fakeEngine(files).docker, "gate")).toEqual(expected);
  });
});
