/**
 * Which resolved addresses the forward proxy refuses to connect to.
 *
 * An allowed name can still resolve to the inside: loopback, the Docker
 * networks the bottle lives on, a cloud metadata service on link-local, or any
 * private network the gate's host can reach, or the Docker host itself at an
 * address no range gives away (a public interface, the gateway of a network with
 * a public-looking subnet). The proxy resolves a name once,
 * asks this module about every address it got, and connects only to an address
 * that passed, so a name that rebinds between lookups cannot steer it inward.
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are judged as the IPv4 address
 * they carry. Benchmarking (198.18.0.0/15) and documentation ranges are allowed:
 * they are not reachable from real networks by accident, and tests use them as
 * a stand-in internet.
 *
 * Pure functions only (plus `node:net`'s address syntax checks); this module is
 * bundled into the gate.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface Cidr {
  family: 4 | 6;
  /** The network address with host bits cleared. */
  network: bigint;
  prefix: number;
  /** The CIDR as written in the config, for log lines. */
  text: string;
}

/** Why `address` must not be connected to, or undefined when it may. */
export type AddressPolicy = (address: string) => string | undefined;

interface Ip {
  family: 4 | 6;
  value: bigint;
}

function parseIpv4(text: string): bigint | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split(".").reduce((value, part) => (value << 8n) | BigInt(Number(part)), 0n);
}

function parseIpv6(text: string): bigint | undefined {
  if (!isIPv6(text) || text.includes("%")) return undefined;
  let body = text;
  const tail: string[] = [];
  const lastColon = body.lastIndexOf(":");
  const last = body.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = parseIpv4(last);
    if (v4 === undefined) return undefined;
    tail.push((v4 >> 16n).toString(16), (v4 & 0xffffn).toString(16));
    body = body.slice(0, lastColon + 1) + "0";
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): string[] => (half === "" ? [] : half.split(":"));
  let words: string[];
  if (halves.length === 2) {
    const head = groups(halves[0]!);
    const rest = groups(halves[1]!);
    if (tail.length > 0) rest.pop();
    const missing = 8 - head.length - rest.length - tail.length;
    if (missing < 1) return undefined;
    words = [...head, ...Array<string>(missing).fill("0"), ...rest, ...tail];
  } else {
    const all = groups(body);
    if (tail.length > 0) all.pop();
    words = [...all, ...tail];
  }
  if (words.length !== 8) return undefined;
  let value = 0n;
  for (const word of words) {
    if (!/^[0-9a-f]{1,4}$/i.test(word)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(word, 16));
  }
  return value;
}

/** `address` as a number, or undefined when it is not an IPv4 or IPv6 address without a zone. */
export function parseIp(address: string): Ip | undefined {
  const v4 = parseIpv4(address);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(address);
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

/** `10.0.0.0/8` or `fd00::/8` as a network, or undefined when it is not one. Host bits are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash === -1) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (ip === undefined || !/^(?:0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = ip.family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  const shift = BigInt(bits - prefix);
  return { family: ip.family, network: (ip.value >> shift) << shift, prefix, text };
}

function contains(cidr: Cidr, ip: Ip): boolean {
  if (cidr.family !== ip.family) return false;
  const shift = BigInt((ip.family === 4 ? 32 : 128) - cidr.prefix);
  return ip.value >> shift === cidr.network >> shift;
}

function ranges(table: Array<[string, string]>): Array<{ cidr: Cidr; what: string }> {
  return table.map(([text, what]) => ({ cidr: parseCidr(text)!, what }));
}

// Order matters only for the reason given: the narrower range names it better.
const REFUSED_V4 = ranges([
  ["0.0.0.0/8", "unspecified ('this network')"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "shared address space (CGNAT)"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "IETF protocol assignments"],
  ["192.168.0.0/16", "private"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
]);

const REFUSED_V6 = ranges([
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  // Deprecated IPv4-compatible addresses; nothing public lives there.
  ["::/96", "IPv4-compatible (deprecated)"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "site-local (deprecated, private)"],
  ["fc00::/7", "unique local (private)"],
  ["ff00::/8", "multicast"],
]);

const MAPPED = parseCidr("::ffff:0:0/96")!;

export interface AddressPolicyOptions {
  /** Extra networks to refuse, such as the Docker networks the bottle and gate sit on. */
  denied: readonly Cidr[];
  /**
   * The gate's own addresses, asked at every check because Docker can attach
   * the gate to another network after it started. A tunnel to the gate itself
   * would loop through the proxy or reach its listener from outside the policy.
   */
  ownAddresses?: () => Iterable<string>;
  /**
   * The Docker host's own addresses, as the runner learned them: a connection to
   * one reaches the host's services from the bottle's side, whatever range it is in.
   */
  hostAddresses?: readonly string[];
}

function sameAddress(ip: Ip, text: string): boolean {
  const other = parseIp(text.replace(/%.*$/, ""));
  return other !== undefined && other.family === ip.family && other.value === ip.value;
}

/** `ip`, or the IPv4 address it carries when it is IPv4-mapped IPv6. */
function unmapped(ip: Ip): Ip {
  return contains(MAPPED, ip) ? { family: 4, value: ip.value & 0xffffffffn } : ip;
}

/** Whether `address` (an IPv4-mapped one read as IPv4) lies in one of `networks`. */
export function insideNetworks(address: string, networks: readonly Cidr[]): boolean {
  const ip = parseIp(address);
  if (ip === undefined) return false;
  const judged = unmapped(ip);
  return networks.some((cidr) => contains(cidr, judged));
}

/** Why `address` is refused under `options`, or undefined when it may be connected to. */
export function refusedAddressReason(address: string, options: AddressPolicyOptions): string | undefined {
  const ip = parseIp(address);
  if (ip === undefined) return `${address} is not an IP address the gate can check`;
  const judged = unmapped(ip);
  const mapped = judged === ip ? "" : "IPv4-mapped ";
  for (const { cidr, what } of judged.family === 4 ? REFUSED_V4 : REFUSED_V6) {
    if (contains(cidr, judged)) return `${address} is a ${mapped}${what} address`;
  }
  for (const cidr of options.denied) {
    if (contains(cidr, judged) || contains(cidr, ip)) return `${address} is inside the denied network ${cidr.text}`;
  }
  for (const host of options.hostAddresses ?? []) {
    if (sameAddress(judged, host)) return `${address} is one of the Docker host's own addresses`;
  }
  for (const own of options.ownAddresses?.() ?? []) {
    if (sameAddress(judged, own)) return `${address} is one of the gate's own addresses`;
  }
  return undefined;
}

/** The policy the proxy uses: the built-in refused ranges, `denied`, the host's and the gate's own addresses. */
export function createAddressPolicy(options: AddressPolicyOptions): AddressPolicy {
  return (address) => refusedAddressReason(address, options);
}
