// The forward proxy's name and address rules as tables: what a CONNECT target
// may look like, which allowlist entry matches it, which resolved addresses are
// refused, and what the config accepts.
import { describe, expect, test } from "vitest";
import { createAddressPolicy, parseCidr, parseIp, refusedAddressReason } from "../../src/gate/address.js";
import { GateConfigSchema } from "../../src/gate/config.js";
import {
  type AllowEntry,
  allowlistProblem,
  findAllowed,
  type Host,
  normaliseAllowHost,
  normaliseHost,
  parseAuthority,
} from "../../src/gate/hosts.js";

const ALLOW: AllowEntry[] = [
  { host: "allowed.test", port: 443 },
  { host: "*.wild.test", port: 443 },
  { host: "xn--llowed-2of.test", port: 443 },
  { host: "plain.test", port: 8080 },
];

/** The allowlist's verdict on a CONNECT target: the matched entry's host, or the refusal. */
function verdict(target: string): string {
  const parsed = parseAuthority(target);
  if ("refused" in parsed) return `refused: ${parsed.refused}`;
  const entry = findAllowed(ALLOW, parsed.ok.host, parsed.ok.port);
  return entry === undefined
    ? `refused: ${allowlistProblem(ALLOW, parsed.ok.host, parsed.ok.port)}`
    : `allowed by ${entry.host}`;
}

describe("CONNECT targets", () => {
  test.each([
    ["allowed.test:443", "allowed.test"],
    ["ALLOWED.TEST:443", "allowed.test"],
    ["Allowed.Test:443", "allowed.test"],
    ["allowed.test.:443", "allowed.test"],
    ["ALLOWED.TEST.:443", "allowed.test"],
    ["a.wild.test:443", "*.wild.test"],
    ["deep.er.wild.test:443", "*.wild.test"],
    ["A.WILD.TEST.:443", "*.wild.test"],
    ["xn--llowed-2of.test:443", "xn--llowed-2of.test"],
    ["plain.test:8080", "plain.test"],
  ])("%s is allowed by %s", (target, entry) => {
    expect(verdict(target)).toBe(`allowed by ${entry}`);
  });

  // Every notation an IP address can take, from SECURITY-TESTS.md and beyond.
  test.each([
    "198.18.0.10:443",
    "127.0.0.1:443",
    "3323068426:443",
    "0xc612000a:443",
    "0XC612000A:443",
    "0306.022.0.012:443",
    "0306.0.0.012:443",
    "10.1:443",
    "127.1:443",
    "0x7f.1:443",
    "0x7f.0x0.0x0.0x1:443",
    "0:443",
    "0x:443",
    "1.2.3.4.:443",
    "[::1]:443",
    "[::ffff:c612:a]:443",
    "[::ffff:198.18.0.10]:443",
    "[fd00::1]:443",
    "[fe80::1%25eth0]:443",
    "::1:443",
    "fd00::1:443",
  ])("IP literal %s is refused before matching", (target) => {
    expect(verdict(target)).toMatch(/^refused: .*(IP|IPv6) address/);
  });

  test.each([
    ["allowed.test@evil.test:443", "user info"],
    ["user:pass@allowed.test:443", "user info"],
    ["evil.test#allowed.test:443", "path, query or fragment"],
    ["evil.test/allowed.test:443", "path, query or fragment"],
    ["evil.test?allowed.test:443", "path, query or fragment"],
    ["evil.test\\allowed.test:443", "path, query or fragment"],
    ["allowed.test:443/", "path, query or fragment"],
    ["allowed.test", "no port"],
    ["allowed.test:", "port"],
    ["allowed.test:0", "port"],
    ["allowed.test:65536", "port"],
    ["allowed.test:0443", "port"],
    ["allowed.test:+443", "port"],
    ["allowed.test:443 ", "port"],
    ["allowed.test:4 43", "port"],
    ["allowed.test:1e3", "port"],
    ["allowed.test:443:443", "two ports"],
    [":443", "empty"],
    [".:443", "empty"],
    ["..:443", "empty label"],
    ["allowed..test:443", "empty label"],
    [".allowed.test:443", "empty label"],
    ["allowed.test..:443", "empty label"],
    ["allowed_test.test:443", "label"],
    ["-allowed.test:443", "label"],
    ["allowed-.test:443", "label"],
    ["allowed.test :443", "label"],
    [" allowed.test:443", "label"],
    ["allowed.te%73t:443", "label"],
    ["allowed.test\u0000:443", "label"],
    ["allowed.test\t:443", "label"],
    [`${"a".repeat(64)}.test:443`, "label"],
    [`${"a.".repeat(127)}test:443`, "longer than 253"],
    ["аllowed.test:443", "not plain ASCII"],
    ["allowed.tеst:443", "not plain ASCII"],
    ["\u212Aallowed.test:443", "not plain ASCII"],
    ["ａllowed.test:443", "not plain ASCII"],
    ["allowed\u3002test:443", "not plain ASCII"],
    ["allowed.test\u200b:443", "not plain ASCII"],
  ])("%s is refused (%s)", (target, reason) => {
    expect(verdict(target)).toMatch(/^refused: /);
    expect(verdict(target)).toContain(reason);
  });

  test.each([
    ["wild.test:443", "is not on the allowlist"],
    ["allowed.test.evil.test:443", "is not on the allowlist"],
    ["evilallowed.test:443", "is not on the allowlist"],
    ["allowed.testevil:443", "is not on the allowlist"],
    ["sub.allowed.test:443", "is not on the allowlist"],
    ["evilwild.test:443", "is not on the allowlist"],
    ["wild.test.evil.test:443", "is not on the allowlist"],
    ["a.wild.test.evil.test:443", "is not on the allowlist"],
    ["xn--allowed-abc.test:443", "is not on the allowlist"],
    ["allowed.test:22", "port 22 is not allowed for allowed.test"],
    ["allowed.test:80", "port 80 is not allowed for allowed.test"],
    ["a.wild.test:8443", "port 8443 is not allowed for a.wild.test"],
    ["plain.test:443", "port 443 is not allowed for plain.test"],
    ["localhost:443", "is not on the allowlist"],
    ["gate:8080", "is not on the allowlist"],
  ])("%s is not on the allowlist (%s)", (target, reason) => {
    const host = target.slice(0, target.lastIndexOf(":"));
    expect(verdict(target)).toBe(reason.startsWith("port") ? `refused: ${reason}` : `refused: ${host} ${reason}`);
  });

  test("a default port applies only when the authority has none", () => {
    expect(parseAuthority("allowed.test", 80)).toEqual({ ok: { host: "allowed.test", port: 80 } });
    expect(parseAuthority("allowed.test:8080", 80)).toEqual({ ok: { host: "allowed.test", port: 8080 } });
  });
});

describe("host normalising", () => {
  test.each([
    ["EXAMPLE.com", "example.com"],
    ["example.com.", "example.com"],
    ["a-b.c0.example", "a-b.c0.example"],
    ["1.2.3.example", "1.2.3.example"],
    ["0x1.example", "0x1.example"],
    ["123abc", "123abc"],
    ["1e3", "1e3"],
    ["localhost", "localhost"],
    [`${"a".repeat(63)}.test`, `${"a".repeat(63)}.test`],
  ])("%j becomes %j", (raw, host) => {
    expect(normaliseHost(raw)).toEqual({ ok: host });
  });

  test.each([
    "",
    ".",
    "..",
    "a..b",
    "example.com..",
    "10",
    "0x0a",
    "017",
    "a.1",
    "ex ample.com",
    "exa_mple.com",
    "ḿ.test",
    "\u212A.test",
  ])("%j is refused", (raw) => {
    expect(normaliseHost(raw)).toHaveProperty("refused");
  });

  test("is idempotent", () => {
    for (const raw of ["Example.COM.", "a.b.c", "xn--bcher-kva.example."]) {
      const once = normaliseHost(raw);
      expect("ok" in once).toBe(true);
      if ("ok" in once) expect(normaliseHost(once.ok)).toEqual(once);
    }
  });
});

describe("allowlist entries", () => {
  test.each([
    ["example.com", "example.com"],
    ["EXAMPLE.com.", "example.com"],
    ["*.Example.com", "*.example.com"],
    ["*.a.b.example", "*.a.b.example"],
  ])("%j becomes %j", (raw, host) => {
    expect(normaliseAllowHost(raw)).toEqual({ ok: host });
  });

  test.each([
    ["*", "wildcard"],
    ["*.", "empty"],
    ["*.com", "too broad"],
    ["com", "no dot"],
    ["a.*.example.com", "whole first label"],
    ["*example.com", "whole first label"],
    ["**.example.com", "whole first label"],
    ["example.com:443", "port is a field"],
    ["user@example.com", "only the host"],
    ["198.18.0.10", "IP address"],
    ["[::1]", "only the host"],
    ["exämple.com", "not plain ASCII"],
  ])("%j is refused (%s)", (raw, reason) => {
    const result = normaliseAllowHost(raw);
    expect(result).toHaveProperty("refused");
    if ("refused" in result) expect(result.refused).toContain(reason);
  });

  test("a wildcard matches any depth below its domain but not the domain", () => {
    const allow = [{ host: "*.example.com", port: 443 }];
    const host = (name: string) => name as Host;
    expect(findAllowed(allow, host("a.example.com"), 443)).toBeDefined();
    expect(findAllowed(allow, host("a.b.c.example.com"), 443)).toBeDefined();
    expect(findAllowed(allow, host("example.com"), 443)).toBeUndefined();
    expect(findAllowed(allow, host("aexample.com"), 443)).toBeUndefined();
    expect(findAllowed(allow, host("a.example.com"), 444)).toBeUndefined();
  });
});

describe("refused addresses", () => {
  const policy = createAddressPolicy({
    denied: ["172.30.0.0/16", "198.18.7.0/24", "fd12:3456::/32"].map((text) => parseCidr(text)!),
    ownAddresses: () => ["198.18.0.2", "2001:db8::2", "fe80::1%eth0"],
  });

  test.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "CGNAT"],
    ["100.127.255.255", "CGNAT"],
    ["169.254.169.254", "link-local"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.0.8", "IETF"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "IPv4-mapped loopback"],
    ["::ffff:7f00:1", "IPv4-mapped loopback"],
    ["::ffff:169.254.169.254", "IPv4-mapped link-local"],
    ["::ffff:a00:1", "IPv4-mapped private"],
    ["::FFFF:C0A8:0101", "IPv4-mapped private"],
    ["0:0:0:0:0:ffff:7f00:1", "IPv4-mapped loopback"],
    ["::127.0.0.1", "IPv4-compatible"],
    ["fe80::1", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "site-local"],
    ["fc00::1", "unique local"],
    ["fd00::1", "unique local"],
    ["ff02::1", "multicast"],
    ["172.30.9.9", "private"],
    ["198.18.7.10", "denied network 198.18.7.0/24"],
    ["::ffff:198.18.7.10", "denied network 198.18.7.0/24"],
    ["fd12:3456::1", "unique local"],
    ["198.18.0.2", "gate's own"],
    ["::ffff:198.18.0.2", "gate's own"],
    ["2001:db8::2", "gate's own"],
    ["fe80::1%eth0", "not an IP address"],
    ["not-an-ip", "not an IP address"],
    ["", "not an IP address"],
    ["1.2.3", "not an IP address"],
  ])("%s is refused (%s)", (address, reason) => {
    expect(policy(address)).toContain(reason);
  });

  test.each([
    "198.18.0.10",
    "198.19.255.255",
    "192.0.2.1",
    "198.51.100.7",
    "203.0.113.9",
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "169.253.255.255",
    "223.255.255.255",
    "2001:db8::1",
    "2606:4700::1111",
    "::ffff:198.18.0.10",
    "64:ff9b::7f00:1",
  ])("%s is allowed", (address) => {
    expect(policy(address)).toBeUndefined();
  });

  test("a denied IPv6 network refuses addresses outside the built-in ranges", () => {
    expect(refusedAddressReason("2001:db8:5::1", { denied: [parseCidr("2001:db8:5::/48")!] })).toContain(
      "denied network",
    );
    expect(refusedAddressReason("2001:db8:6::1", { denied: [parseCidr("2001:db8:5::/48")!] })).toBeUndefined();
  });

  test.each([
    ["1.2.3.4", { family: 4, value: 0x01020304n }],
    ["::", { family: 6, value: 0n }],
    ["1::", { family: 6, value: 1n << 112n }],
    ["1:2:3:4:5:6:7:8", { family: 6, value: 0x00010002000300040005000600070008n }],
    ["1:2:3:4:5:6:1.2.3.4", { family: 6, value: 0x00010002000300040005000601020304n }],
    ["::ffff:1.2.3.4", { family: 6, value: 0xffff01020304n }],
  ])("parses %s", (text, ip) => {
    expect(parseIp(text)).toEqual(ip);
  });

  test.each([
    "10.0.0.0",
    "10.0.0.0/33",
    "10.0.0.0/-1",
    "10.0.0.0/08",
    "::/129",
    "fd00::/x",
    "example.com/8",
    "10.0.0/8",
  ])("%j is not a CIDR", (text) => {
    expect(parseCidr(text)).toBeUndefined();
  });

  test("a CIDR with host bits set covers its whole network", () => {
    const cidr = parseCidr("10.1.2.3/8")!;
    expect(refusedAddressReason("11.0.0.1", { denied: [cidr] })).toBeUndefined();
    expect(refusedAddressReason("198.18.0.1", { denied: [parseCidr("198.18.0.77/24")!] })).toContain("denied network");
  });
});

describe("proxy config", () => {
  const parse = (proxy: unknown) => GateConfigSchema.safeParse({ version: 1, routes: [], proxy });

  test("defaults refuse everything and keep configs without proxy valid", () => {
    expect(GateConfigSchema.parse({ version: 1, routes: [] }).proxy).toEqual({
      mode: "enforce",
      allow: [],
      deniedCidrs: [],
      hostAddresses: [],
      tunnelMaxLifetimeMs: 1_800_000,
      tunnelIdleMs: 300_000,
      connectTimeoutMs: 10_000,
    });
  });

  test("allow entries are canonical and default to port 443", () => {
    const result = parse({
      allow: [{ host: "API.Example.com." }, { host: "*.CDN.example", port: 8443 }],
      mode: "audit",
    });
    expect(result.success).toBe(true);
    expect(result.data?.proxy.allow).toEqual([
      { host: "api.example.com", port: 443 },
      { host: "*.cdn.example", port: 8443 },
    ]);
    expect(result.data?.proxy.mode).toBe("audit");
  });

  test.each([
    ["an unknown mode", { mode: "off" }, "mode"],
    ["an unknown key", { allowAll: true }, "allowAll"],
    ["an IP address as a host", { allow: [{ host: "198.18.0.10" }] }, "IP address"],
    ["a host with a port in it", { allow: [{ host: "example.com:443" }] }, "port is a field"],
    ["a bare wildcard", { allow: [{ host: "*" }] }, "wildcard"],
    ["a single-label host", { allow: [{ host: "localhost" }] }, "no dot"],
    ["a port 0", { allow: [{ host: "example.com", port: 0 }] }, "1-65535"],
    ["a fractional port", { allow: [{ host: "example.com", port: 44.3 }] }, "port"],
    ["an unknown entry key", { allow: [{ host: "example.com", path: "/" }] }, "path"],
    ["a CIDR without a prefix", { deniedCidrs: ["172.17.0.0"] }, "deniedCidrs"],
    ["a CIDR that is a name", { deniedCidrs: ["docker0/16"] }, "deniedCidrs"],
    ["a zero timeout", { connectTimeoutMs: 0 }, "connectTimeoutMs"],
    ["a timer overflowing", { tunnelMaxLifetimeMs: 2 ** 31 }, "tunnelMaxLifetimeMs"],
    ["a fractional idle limit", { tunnelIdleMs: 1.5 }, "tunnelIdleMs"],
  ])("rejects %s", (_name, proxy, mention) => {
    const result = parse(proxy);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(mention);
  });
});
