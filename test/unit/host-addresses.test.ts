// The Docker host's addresses as the runner learns them: the kernel's local
// addresses read from /proc, which of them the gate must be told about, and the
// probe's program as it runs in the probe container.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import {
  HOST_PROBE_PROGRAM,
  HostAddressProbe,
  addressesToRefuse,
  localAddresses,
  seesEngineBridge,
} from "../../src/bottle/host-addresses.js";
import type { ContainerRequest, DockerClient } from "../../src/docker/client.js";

// Shaped as /proc/net/fib_trie prints it: leaves (`|--`) followed by their routes.
const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 4
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
     |-- 203.0.113.7
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 4
     |-- 192.0.2.2
        /32 host LOCAL
     |-- 198.51.100.0
        /24 link UNICAST
`;

const IF_INET6 = `fe8000000000000000fc00fffe000001 04 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
20010db8000000000000000000000042 04 40 00 00     eth0
fd000000000000000000000000000002 04 40 00 82     eth0
`;

describe("the kernel's local addresses", () => {
  test("IPv4 leaves marked `/32 host LOCAL`, each once; networks, broadcasts and the /8 loopback route are not addresses", () => {
    expect(localAddresses(FIB_TRIE, "").sort()).toEqual(["127.0.0.1", "192.0.2.2", "203.0.113.7"]);
  });

  test("IPv6 addresses from if_inet6, written so the gate's parser reads them", () => {
    expect(localAddresses("", IF_INET6)).toEqual([
      "fe80:0:0:0:fc:ff:fe00:1",
      "0:0:0:0:0:0:0:1",
      "2001:db8:0:0:0:0:0:42",
      "fd00:0:0:0:0:0:0:2",
    ]);
  });

  test("empty or unreadable files give nothing", () => {
    expect(localAddresses("", "")).toEqual([]);
    expect(localAddresses("garbage\n|-- not.an.ip\n/32 host LOCAL", "xyz")).toEqual([]);
  });
});

describe("which of them the gate is told about", () => {
  test.each([
    [
      ["192.0.2.2", "198.19.5.1", "203.0.113.7"],
      ["192.0.2.2", "198.19.5.1", "203.0.113.7"],
    ],
    // The gate refuses these by range already.
    [["127.0.0.1", "10.1.2.3", "172.17.0.1", "192.168.1.1", "169.254.1.1", "::1", "fe80::1%eth0", "fd00::2"], []],
    [
      ["2001:db8:0:0:0:0:0:42", "2001:db8::42"],
      ["2001:db8:0:0:0:0:0:42", "2001:db8::42"],
    ],
    [["192.0.2.2", "192.0.2.2", "not-an-ip", ""], ["192.0.2.2"]],
  ])("%j -> %j", (given, kept) => {
    expect(addressesToRefuse(given)).toEqual(kept);
  });
});

describe("the probe's program", () => {
  test("runs under plain node and prints one line with this machine's addresses", () => {
    const out = execFileSync(process.execPath, ["-e", HOST_PROBE_PROGRAM], { encoding: "utf8" });
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0]!) as { event: string; addresses: string[] };
    expect(event.event).toBe("host-addresses");
    expect(event.addresses).toContain("127.0.0.1");
  });
});

/** An engine whose probe container prints `output` (or whose creation fails with `createError`). */
function fakeEngine(output: string[], createError?: Error) {
  const made: ContainerRequest[] = [];
  const removed: string[] = [];
  const docker = {
    startContainer: async () => {},
    waitForLogLine: async (_id: string, onLine: (line: string) => boolean) =>
      output.some((line) => onLine(line)) ? "matched" : "exited",
    logsTail: async () => output.join("\n"),
    removeContainer: async (name: string) => void removed.push(name),
    networkGateways: async (network: string) => (network === "egress" ? ["198.19.7.1"] : ["172.30.0.1"]),
  } as unknown as DockerClient;
  const create = async (request: ContainerRequest) => {
    made.push(request);
    if (createError) throw createError;
    return "probe-id";
  };
  const probe = new HostAddressProbe(
    docker,
    { name: "b-gate-host-probe", labels: { "claude-bottle.identity": "b" }, image: "node:24" },
    create,
  );
  return { probe, learn: () => probe.addresses(["egress", "internal"]), made, removed };
}

describe("learning the host's addresses", () => {
  test("the probe's answer and the networks' gateways, less what the gate refuses by range; the probe is removed", async () => {
    const engine = fakeEngine([
      '{"event":"host-addresses","addresses":["127.0.0.1","192.0.2.2","172.17.0.1","fe80::1"]}',
    ]);
    const addresses = await engine.learn();
    expect(addresses).toEqual(expect.arrayContaining(["192.0.2.2", "198.19.7.1"]));
    expect(addresses.filter((a) => a.startsWith("127.") || a.startsWith("172.") || a.startsWith("fe80"))).toEqual([]);
    expect(engine.made[0]).toMatchObject({
      name: "b-gate-host-probe",
      network: "host",
      user: "65534:65534",
      capDrop: ["ALL"],
      readonlyRootfs: true,
    });
    expect(engine.made[0]?.labels).toEqual({ "claude-bottle.identity": "b", "claude-bottle.role": "host-probe" });
    await new Promise((r) => setImmediate(r));
    expect(engine.removed).toEqual(["b-gate-host-probe"]);
  });

  test("started early, it runs once; settled never rejects", async () => {
    const engine = fakeEngine(["node: not found"]);
    engine.probe.start();
    engine.probe.start();
    await engine.probe.settled();
    expect(engine.made).toHaveLength(1);
    await expect(engine.learn()).rejects.toThrow(/could not learn/);
    expect(engine.made).toHaveLength(1);
  });

  test("a probe that ends without an answer fails the launch, saying what it printed", async () => {
    const engine = fakeEngine(["node: not found"]);
    await expect(engine.learn()).rejects.toThrow(
      /^could not learn the Docker host's addresses, which the gate must refuse: it exited without an answer "node: not found"; .*image node:24/,
    );
  });

  test("an engine that refuses a container on the host network fails the launch, saying so", async () => {
    const engine = fakeEngine([], new Error("host networking is not allowed by policy"));
    await expect(engine.learn()).rejects.toThrow(
      /could not learn the Docker host's addresses, which the gate must refuse: host networking is not allowed by policy; .*which the engine must allow/,
    );
  });
});

describe("a runner on the Docker host itself", () => {
  const id = "3f9c2a7b1d04e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e";
  /** A /sys/class/net with the interfaces `names`. */
  const sysNet = (...names: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), "sys-net-"));
    for (const name of names) mkdirSync(join(dir, name));
    return dir;
  };

  test("is known by the bridge the engine made for the bottle's network, and by nothing else", () => {
    expect(seesEngineBridge(id, sysNet("lo", "eth0", `br-${id.slice(0, 12)}`))).toBe(true);
    // A runner in a container of its own sees none of the engine's bridges.
    expect(seesEngineBridge(id, sysNet("lo", "eth0"))).toBe(false);
    // Another network's bridge says nothing about this one.
    expect(seesEngineBridge(id, sysNet("docker0", "br-000000000000"))).toBe(false);
    // An id that is not the engine's hex never names a path.
    const dir = sysNet("br-..");
    writeFileSync(join(dir, "br-x"), "");
    expect(seesEngineBridge("../../etc/passwd", dir)).toBe(false);
    expect(seesEngineBridge("", dir)).toBe(false);
  });

  test("reads the host's addresses itself: no probe container is made", async () => {
    const engine = fakeEngine(['{"event":"host-addresses","addresses":["192.0.2.77"]}']);
    engine.probe.startFor(id, sysNet(`br-${id.slice(0, 12)}`));
    const addresses = await engine.learn();
    expect(engine.made).toEqual([]);
    // The gateways of the gate's networks are still added, and what the probe would have said is not.
    expect(addresses).toContain("198.19.7.1");
    expect(addresses).not.toContain("192.0.2.77");
  });

  test("anywhere else the probe container reads them", async () => {
    const engine = fakeEngine(['{"event":"host-addresses","addresses":["192.0.2.77"]}']);
    engine.probe.startFor(id, sysNet("eth0"));
    expect(await engine.learn()).toContain("192.0.2.77");
    expect(engine.made).toHaveLength(1);
  });
});
